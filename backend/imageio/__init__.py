"""Pixels in and out: EXR/PNG/TIFF/JPEG decoding, EXR writing, colourspace conversion.

- `exr`: read any EXR (data/display windows, half/float/uint, layers) as float32 planes over the
  display window; write single-part float/half EXRs atomically; `encode_exr` for inline mattes.
- `compression`: the EXR compressions this OpenEXR build supports, probed at first use.
- `decode`: plate bytes or files (EXR, PNG, TIFF, JPEG, raw protocol buffers) to float32 RGB,
  with sizes checked from headers (`headers`) before pixels are allocated.
- `colour`: plate colourspace to display-referred sRGB-encoded [0, 1] (built-ins or OCIO).
- writes go through `sam2matting.protocol.atomic` (temp file and rename; disk full is
  `ProtocolError(DISK_FULL)`), the one atomic-write helper of the repository.

Every user-actionable failure is a `ProtocolError` (BAD_IMAGE, INVALID_FIELD, DISK_FULL).
"""
