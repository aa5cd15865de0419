"""Matting engines: turn a tracker's mask into a float alpha matte."""
