"""Procedural training data with exact alpha: tiles, moving sequences, textures, tracker masks.

Public API: `make_sample(rng, size, textures) -> Sample`, `make_sequence(rng, n_frames, size,
textures) -> Iterator[Frame]`, `TexturePool`, `pack_textures(out_npz, max_mb, folders)`.
numpy and OpenCV only (the training machine has no pymatting or OpenEXR).
"""

from sam2matting.backend.matting.synthetic.sample import Sample, make_sample
from sam2matting.backend.matting.synthetic.sequence import Frame, make_sequence
from sam2matting.backend.matting.synthetic.textures import TexturePool, pack_textures

__all__ = ["Frame", "Sample", "TexturePool", "make_sample", "make_sequence", "pack_textures"]
