"""The edge refiner: a small fully convolutional encoder-decoder with full-resolution guidance.

Input is a tile of RGB plus the coarse alpha prior (the tracker mask) and the pseudo-trimap;
output is alpha for the tile. The encoder goes down to 1/32 for context (which side is the
subject, what colour is the background); the decoder comes back up with skip connections. For
speed nothing runs at full resolution: the input is folded 2x2 into channels (space-to-depth,
lossless) and the head unfolds four sub-pixel outputs per position, so sub-pixel strands still
reach the output. The network predicts a
correction to the coarse prior, starting from zero, so an untrained network returns the mask.
Importable with torch alone (the training machine has no pymatting or OpenEXR).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

# ImageNet statistics: a conventional, fixed input normalisation for RGB in [0, 1].
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class RefinerConfig:
    """Architecture hyper-parameters (saved next to the weights)."""

    # Channels at 1/2 resolution, then 1/4, ... 1/32. Nothing runs at full resolution: the
    # input is folded 2x2 into channels (lossless) and the output unfolded the same way.
    widths: Tuple[int, ...] = (24, 48, 96, 160, 256)
    # Residual blocks at each level below 1/2 (cheap where pixels are few).
    blocks: Tuple[int, ...] = (0, 1, 1, 2)

    def to_dict(self) -> Dict[str, Any]:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RefinerConfig:
        return cls(
            widths=tuple(int(x) for x in data["widths"]),
            blocks=tuple(int(x) for x in data["blocks"]),
        )


def _cbr(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = F.relu(x + self.body(x))
        return out


class _Up(nn.Module):
    """Upsample the coarser level, add the skip (FPN style: cheaper than concatenation), mix."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.lateral = nn.Conv2d(cin, cout, 1, bias=False)
        self.mix = _cbr(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(
            self.lateral(x), size=skip.shape[-2:], mode="bilinear", align_corners=False
        )
        out: torch.Tensor = self.mix(x + skip)
        return out


class Refiner(nn.Module):
    """RGB (N,3,h,w) in [0,1] + coarse (N,1,h,w) + trimap (N,1,h,w) -> raw alpha (N,1,h,w).

    `forward` returns the unclamped prediction (training losses use it so that overshoot is
    still penalised); `predict` clamps to [0, 1].
    """

    in_channels = 5

    def __init__(self, config: Optional[RefinerConfig] = None) -> None:
        super().__init__()
        self.config = config or RefinerConfig()
        w, blocks = self.config.widths, self.config.blocks
        if len(blocks) != len(w) - 1:
            raise ValueError("RefinerConfig: need one block count per level below full resolution")
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        folded = self.in_channels * 4
        self.stem = _cbr(folded, w[0])
        self.down = nn.ModuleList(
            nn.Sequential(
                _cbr(w[i], w[i + 1], stride=2), *[_ResBlock(w[i + 1]) for _ in range(blocks[i])]
            )
            for i in range(len(w) - 1)
        )
        self.up = nn.ModuleList(_Up(w[i + 1], w[i]) for i in reversed(range(len(w) - 1)))
        self.head = nn.Sequential(_cbr(w[0] + folded, w[0]), nn.Conv2d(w[0], 4, 3, padding=1))
        # Zero correction at start: the untrained network reproduces the coarse prior.
        last = self.head[-1]
        assert isinstance(last, nn.Conv2d)
        nn.init.zeros_(last.weight)
        assert last.bias is not None
        nn.init.zeros_(last.bias)

    def forward(
        self, rgb: torch.Tensor, coarse: torch.Tensor, trimap: torch.Tensor
    ) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = torch.cat([(rgb - mean) / std, coarse * 2 - 1, trimap * 2 - 1], dim=1)
        h, w = x.shape[-2:]
        # Pad to even size so the 2x2 fold is exact; the padding is cropped off the output.
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        x = F.pixel_unshuffle(x, 2)
        feats = [self.stem(x)]
        for stage in self.down:
            feats.append(stage(feats[-1]))
        y = feats[-1]
        for up, skip in zip(self.up, reversed(feats[:-1])):
            y = up(y, skip)
        delta = F.pixel_shuffle(self.head(torch.cat([y, x], dim=1)), 2)[..., :h, :w]
        return coarse + delta.float()

    @torch.no_grad()
    def predict(
        self, rgb: torch.Tensor, coarse: torch.Tensor, trimap: torch.Tensor
    ) -> torch.Tensor:
        """Alpha in [0, 1], never NaN."""
        out = self.forward(rgb, coarse, trimap)
        return torch.nan_to_num(out, nan=0.0).clamp_(0.0, 1.0)


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fuse_for_inference(model: Refiner) -> Refiner:
    """An eval-mode copy with each BatchNorm folded into the convolution before it.

    Same outputs (to float rounding), one pass less over every activation map.
    """
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, norm = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, norm)
                module[i + 1] = nn.Identity()
    return fused
