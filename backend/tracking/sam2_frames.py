"""The frames a SAM2 session sees, pulled from the shot one at a time instead of loaded whole.

sam2's `init_state` decodes a whole video into memory (a 2,000-frame 4K shot would not fit), but
its inference state only ever indexes `state["images"][i]` and takes `len()`, so a lazy sequence
stands in for the tensor: frame i is decoded from the FrameSource on demand, square-resized and
normalised the way sam2's own loader does it, on the model's device.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import List, Tuple

import torch
from torch.nn import functional

from sam2matting.backend.tracking.base import FrameSource
from sam2matting.protocol.errors import ErrorCode, ProtocolError

# sam2.utils.misc.load_video_frames defaults (ImageNet statistics).
IMG_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMG_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)


def preprocess(rgb: torch.Tensor, image_size: int, device: torch.device) -> torch.Tensor:
    """(3, H, W) float [0, 1] -> (3, S, S) float32 normalised, as sam2's JPEG loader makes it.

    sam2 resizes with PIL's default (bicubic, antialiased on downscale) on 8-bit images; bicubic
    with antialias in torch is the same filter family, and clamping mimics the 8-bit range.
    """
    image = rgb.to(device=device, dtype=torch.float32, non_blocking=True)[None]
    if image.shape[-2:] != (image_size, image_size):
        image = functional.interpolate(
            image,
            size=(image_size, image_size),
            mode="bicubic",
            align_corners=False,
            antialias=True,
        )
    image = image.clamp_(0.0, 1.0)[0]
    mean = torch.tensor(IMG_MEAN, device=device)[:, None, None]
    std = torch.tensor(IMG_STD, device=device)[:, None, None]
    return (image - mean) / std


class LazyFrames:
    """A sequence of preprocessed frames backed by a FrameSource, with a tiny LRU cache.

    sam2 reads a frame twice in a row at most (its feature cache holds the latest frame), so a cache
    of two covers prompt-then-propagate without keeping more than a couple of frames alive.
    """

    def __init__(
        self, source: FrameSource, image_size: int, device: torch.device, cache_size: int = 2
    ) -> None:
        self._source = source
        self._image_size = image_size
        self._device = device
        self._cache_size = max(0, cache_size)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return int(self._source.num_frames)

    def __getitem__(self, index: int) -> torch.Tensor:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"frame index {index} outside 0..{len(self) - 1}")
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        image = preprocess(self._checked_rgb(index), self._image_size, self._device)
        if self._cache_size:
            self._cache[index] = image
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return image

    def _checked_rgb(self, index: int) -> torch.Tensor:
        rgb = self._source.rgb(index)
        width, height = self._source.size
        if tuple(rgb.shape) != (3, height, width):
            raise ProtocolError(
                ErrorCode.FRAME_SIZE_MISMATCH,
                f"frame {index} is {tuple(rgb.shape)}, the shot is (3, {height}, {width})",
            )
        return rgb

    def tensors(self) -> List[torch.Tensor]:
        """The cached frames (for memory accounting)."""
        return list(self._cache.values())

    def clear(self) -> None:
        self._cache.clear()
