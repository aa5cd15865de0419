"""SAM2Matting wire protocol v1: signed ZeroMQ messages between the Nuke plugin and the backend."""
