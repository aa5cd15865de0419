"""SAM2Matting installer: backend environment, model files, Nuke plugin path, doctor."""
