"""The ZeroMQ server: request dispatch, the GPU worker, job scheduling."""
