"""Pixels in and out: EXR/PNG/TIFF/JPEG decoding, EXR writing, colourspace conversion."""
