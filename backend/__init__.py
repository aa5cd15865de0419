"""SAM2Matting backend: the GPU server, trackers, matting engines and the command line."""
