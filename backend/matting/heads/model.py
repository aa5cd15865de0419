"""The SAM2Matting heads: ROI detector + progressive alpha predictor (Shen et al., ECCV 2026).

Module names, parameter names and shapes are those of the official checkpoints (listed in
../shared/reference/sam2matting_heads_state_dict.json; a copy is the golden file of this module's
tests), so official weights load with no missing or unexpected key. Inputs are what a SAM2.1
tracker already computed for the frame: the backbone features after the mask decoder's
conv_s0/conv_s1 (stride 4: 32 ch, stride 8: 64 ch, stride 16: 256 ch), the normalised square
image the tracker saw, and the object's mask logits; no second image-encoder pass.

ROI detector: per scale [features, mask, RGB] -> two conv-BN-ReLU -> 64 ch; all upsampled to
stride 4 and fused to one logit map. Pseudo-trimap: 0.5 where sigmoid(logit) > 0.65, otherwise
the binary mask. Alpha predictor: three stages, each a 2x transposed conv then convs, at 1/8, 1/4
and 1/2 of the input (128, 256, 512 for 1024), each stage consuming the previous stage's alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias
from torch import nn

from sam2matting.backend.tracking import checkpoints

ROI_THRESHOLD = 0.65  # sigmoid(ROI logit) above this is unknown in the pseudo-trimap
FEATURE_CHANNELS = (32, 64, 256)  # strides 4, 8, 16
# Official checkpoints name the per-scale modules by these keys (stride 4, 8, 16 in that order).
SCALE_KEYS = ("scale_64", "scale_128", "scale_256")
# The module prefixes of head keys in official checkpoints: defined once, with the checkpoint code.
HEAD_PREFIXES = checkpoints.HEAD_PREFIXES


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _up_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


def _alpha_head() -> nn.Sequential:
    return nn.Sequential(*_conv_bn_relu(64, 32), nn.Conv2d(32, 1, 1), nn.Sigmoid())


@dataclass
class HeadsOutput:
    """Everything the heads compute for a batch, at the tracker's square input resolution."""

    roi_logits: torch.Tensor  # (B, 1, S/4, S/4)
    trimap: torch.Tensor  # (B, 1, S/4, S/4): 0 / 0.5 / 1
    alphas: Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (B, 1, S/8|S/4|S/2) in [0, 1]

    @property
    def alpha(self) -> torch.Tensor:
        """The finest alpha (stage 3, half the square input's resolution)."""
        return self.alphas[2]


class SAM2MattingHeads(nn.Module):
    """ROI detector and three-stage alpha predictor; about 4.95 M parameters."""

    def __init__(self) -> None:
        super().__init__()
        c4, c8, c16 = FEATURE_CHANNELS
        self.unknown_region_predictor = nn.ModuleDict(
            {
                "scale_64": nn.Sequential(*_conv_bn_relu(c4 + 4, 128), *_conv_bn_relu(128, 64)),
                "scale_128": nn.Sequential(*_conv_bn_relu(c8 + 4, 128), *_conv_bn_relu(128, 64)),
                "scale_256": nn.Sequential(*_conv_bn_relu(c16 + 4, 256), *_conv_bn_relu(256, 64)),
            }
        )
        self.unknown_fusion = nn.Sequential(
            *_conv_bn_relu(3 * 64, 64), *_conv_bn_relu(64, 32), nn.Conv2d(32, 1, 1)
        )
        self.unknown_alpha_predictor = nn.ModuleDict(
            {
                # stage 1: stride-16 features + trimap + RGB -> 1/8
                "scale_64": nn.Sequential(
                    *_up_bn_relu(c16 + 4, 512), *_conv_bn_relu(512, 128), *_conv_bn_relu(128, 64)
                ),
                # stage 2: stride-8 features + trimap + RGB + alpha1 -> 1/4
                "scale_128": nn.Sequential(*_up_bn_relu(c8 + 5, 256), *_conv_bn_relu(256, 64)),
                # stage 3: stride-4 features + trimap + RGB + alpha2 -> 1/2
                "scale_256": nn.Sequential(
                    *_up_bn_relu(c4 + 5, 256), *_conv_bn_relu(256, 128), *_conv_bn_relu(128, 64)
                ),
            }
        )
        self.alpha_pred1 = _alpha_head()
        self.alpha_pred2 = _alpha_head()
        self.alpha_pred3 = _alpha_head()

    def forward(
        self, fpn: Sequence[torch.Tensor], mask: torch.Tensor, image: torch.Tensor
    ) -> HeadsOutput:
        """Run both heads.

        Args:
            fpn: (stride 4, stride 8, stride 16) features, (B, 32|64|256, S/4|S/8|S/16).
            mask: (B, 1, h, w) binary tracker mask (resized to stride 4 if needed).
            image: (B, 3, S, S) the normalised square image the tracker saw.
        """
        f4, f8, f16 = fpn
        mask = _resize(mask.float(), f4.shape[-2:])
        mask = (mask > 0.5).to(mask.dtype)
        imgs = [_resize(image, f.shape[-2:]) for f in (f4, f8, f16)]
        roi = self.detect_unknown(fpn, mask, imgs)
        unknown = (roi.sigmoid() > ROI_THRESHOLD).to(mask.dtype)
        trimap = unknown * 0.5 + (1.0 - unknown) * mask
        alphas = self.predict_alpha(fpn, trimap, imgs)
        return HeadsOutput(roi_logits=roi, trimap=trimap, alphas=alphas)

    def detect_unknown(
        self, fpn: Sequence[torch.Tensor], mask: torch.Tensor, imgs: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """ROI logits (B, 1, S/4, S/4): where alpha is likely fractional."""
        feats = []
        for key, feat, img in zip(SCALE_KEYS, fpn, imgs):
            x = torch.cat([feat, _resize(mask, feat.shape[-2:]), img], dim=1)
            feats.append(self.unknown_region_predictor[key](x))
        size = feats[0].shape[-2:]
        fused = torch.cat([feats[0]] + [_resize(f, size) for f in feats[1:]], dim=1)
        out: torch.Tensor = self.unknown_fusion(fused)
        return out

    def predict_alpha(
        self, fpn: Sequence[torch.Tensor], trimap: torch.Tensor, imgs: Sequence[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(alpha1, alpha2, alpha3) at 1/8, 1/4 and 1/2 of the square input."""
        f4, f8, f16 = fpn
        img4, img8, img16 = imgs
        stages = self.unknown_alpha_predictor
        x1 = torch.cat([f16, _resize(trimap, f16.shape[-2:]), img16], dim=1)
        alpha1: torch.Tensor = self.alpha_pred1(stages["scale_64"](x1))
        x2 = torch.cat([f8, _resize(trimap, f8.shape[-2:]), img8, alpha1.to(f8.dtype)], dim=1)
        alpha2: torch.Tensor = self.alpha_pred2(stages["scale_128"](x2))
        x3 = torch.cat([f4, trimap, img4, alpha2.to(f4.dtype)], dim=1)
        alpha3: torch.Tensor = self.alpha_pred3(stages["scale_256"](x3))
        return alpha1, alpha2, alpha3


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize (as the official code does for masks, trimaps and images)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
