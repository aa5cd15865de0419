"""`guided.downsample` is area downsampling: the average pool of the edge-replicated input,
bit for bit (its strided sums replace `F.avg_pool2d`, which was 2-4x slower on the CPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from sam2matting.backend.matting.guided import downsample


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 3, 61, 97), (5, 1, 32, 48), (2, 3, 7, 5)])
def test_downsample_is_the_average_pool_of_the_replicated_input(factor: int, shape) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(factor)) ** 3
    h, w = shape[-2:]
    padded = F.pad(x, (0, (-w) % factor, 0, (-h) % factor), mode="replicate")
    ref = F.avg_pool2d(padded, factor)
    got = downsample(x, factor)
    assert got.shape == ref.shape == (*shape[:2], -(-h // factor), -(-w // factor))
    assert torch.equal(got, ref)


def test_the_comparison_can_fail_and_factor_one_is_the_input() -> None:
    x = torch.rand(1, 1, 8, 8)
    assert downsample(x, 1) is x
    shifted = downsample(torch.roll(x, 1, dims=-1), 2)
    assert not torch.equal(shifted, F.avg_pool2d(x, 2))
