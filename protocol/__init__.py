"""SAM2Matting wire protocol v1: signed ZeroMQ messages shared by the Nuke plugin and the backend."""
