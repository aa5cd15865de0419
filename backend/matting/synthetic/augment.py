"""Photometric augmentation of a layer before compositing (keeps the composite exact)."""

from __future__ import annotations

import cv2
import numpy as np


def colour(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Exposure, white balance, saturation and gamma changes, float32 in [0, 1]."""
    out = rgb * float(np.exp(rng.normal(0.0, 0.35)))  # exposure, about +-half a stop
    out = out * rng.uniform(0.8, 1.2, 3).astype(np.float32)  # white balance
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * float(rng.uniform(0.3, 1.4))  # saturation
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    out = cv2.pow(out, float(np.exp(rng.normal(0.0, 0.2))))  # contrast / gamma
    result: np.ndarray = np.clip(out, 0.0, 1.0).astype(np.float32)
    return result


def degrade(rng: np.random.Generator, rgb: np.ndarray, blur_prob: float) -> np.ndarray:
    """Sensor noise and, with `blur_prob`, defocus blur (backgrounds are often out of focus)."""
    out: np.ndarray = rgb
    if rng.random() < blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(rng.uniform(0.5, 6.0)))
    if rng.random() < 0.7:
        sigma = float(rng.uniform(0.0, 0.03))
        out = out + sigma * rng.standard_normal(out.shape, dtype=np.float32)
    result: np.ndarray = np.clip(out, 0.0, 1.0).astype(np.float32)
    return result


def tint(rng: np.random.Generator, rgb: np.ndarray, strength: float) -> np.ndarray:
    """Blend toward one random colour: hair and fur are more uniform than a texture crop."""
    target = rng.random(3, dtype=np.float32) * float(rng.uniform(0.1, 1.0))
    return np.clip(rgb * (1.0 - strength) + target * strength, 0.0, 1.0).astype(np.float32)
