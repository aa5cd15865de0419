"""Matting metrics against small examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sam2matting.backend.matting import metrics


def test_sad_and_mse_by_hand() -> None:
    pred = np.array([[0.0, 0.5], [1.0, 1.0]])
    gt = np.array([[0.0, 1.0], [1.0, 0.0]])
    # |diff| = 0, 0.5, 0, 1 -> 1.5; squared = 0, 0.25, 0, 1 -> mean 0.3125
    assert metrics.sad(pred, gt) == pytest.approx(1.5 / 1000)
    assert metrics.mse(pred, gt) == pytest.approx(0.3125 * 1000)
    region = np.array([[False, True], [False, False]])
    assert metrics.sad(pred, gt, region) == pytest.approx(0.5 / 1000)
    assert metrics.mse(pred, gt, region) == pytest.approx(0.25 * 1000)
    assert metrics.mse(pred, gt, np.zeros((2, 2), bool)) == 0.0


def test_inputs_must_match() -> None:
    with pytest.raises(ValueError, match="one size"):
        metrics.sad(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="region"):
        metrics.sad(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((3, 3), bool))


def test_gradient_kernel_is_matlab_gaussgradient() -> None:
    k = metrics.gaussian_gradient_kernel(1.4)
    # halfsize = ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) * 1.4 * 0.01))) = ceil(3.62) = 4
    assert k.shape == (9, 9)
    assert np.sum(k**2) == pytest.approx(1.0)
    assert np.allclose(k, -k[:, ::-1])
    assert np.allclose(k, k[::-1, :])
    # the centre row: gauss(0) * dgauss(u) with dgauss(u) = -u g(u) / sigma^2, normalised
    u = np.arange(-4, 5)
    g = np.exp(-(u**2) / (2 * 1.4**2))
    row = g[4] * (-u * g)
    assert np.allclose(k[4] / k[4, 3], row / row[3])


def test_grad_of_a_ramp() -> None:
    c = 0.01
    ramp = np.tile(np.arange(40) * c, (40, 1))
    k = metrics.gaussian_gradient_kernel(1.4)
    # convolution of a linear ramp: -c * sum_ij k[i, j] * (j - 4), independent of position
    expected = abs(c * np.sum(k * (np.arange(9) - 4)[None, :]))
    mag = metrics.gradient_magnitude(ramp)
    assert np.allclose(mag[10:30, 10:30], expected)
    assert metrics.grad(ramp, ramp) == 0.0
    zeros = np.zeros_like(ramp)
    assert metrics.grad(ramp, zeros) == pytest.approx(np.sum(mag**2) / 1000)
    assert metrics.grad(np.full((8, 8), 0.3), np.full((8, 8), 0.7)) == pytest.approx(0.0)


def test_conn_by_hand() -> None:
    pred = np.array([[1.0, 0.45, 0.6, 0.0]])
    gt = np.array([[1.0, 1.0, 0.6, 0.0]])
    # thresholds 0.1..0.4: pixels 0-2 form the common component; pixel 3 leaves at 0.1 -> l = 0
    # threshold 0.5: pred drops pixel 1, so {0} and {2} split; pixels 1, 2 get l = 0.4
    # pixel 0 stays to the end: l = 1
    assert np.allclose(metrics.connectivity_levels(pred, gt), [[1.0, 0.4, 0.4, 0.0]])
    # d = x - l: pred (0, 0.05, 0.2, 0), gt (0, 0.6, 0.2, 0); phi = 1 - d where d >= 0.15
    # phi_pred (1, 1, 0.8, 1), phi_gt (1, 0.4, 0.8, 1): |diff| sums to 0.6
    assert metrics.conn(pred, gt) == pytest.approx(0.6 / 1000)
    assert metrics.conn(gt, gt) == 0.0


def test_dtssd_by_hand() -> None:
    z = np.zeros((2, 2))
    preds = [z, z + 0.5, z + 0.5]
    gts = [z, z + 0.3, z + 0.3]
    # pair 1: (0.5 - 0) - (0.3 - 0) = 0.2 everywhere -> 0.2; pair 2: 0 -> mean 0.1, x100
    assert metrics.dtssd(preds[:2], gts[:2]) == pytest.approx(20.0)
    assert metrics.dtssd(preds, gts) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="two or more"):
        metrics.dtssd([z], [z])


def test_all_metrics_keys() -> None:
    a = np.random.default_rng(0).random((12, 12))
    out = metrics.all_metrics(a, a)
    assert out == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}
