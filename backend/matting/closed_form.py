"""Closed-form matting (Levin, Lischinski & Weiss 2008) on tiles, as a `TileSolver`.

Per tile: the matting Laplacian L of the tile's colours is built; the unknown pixels
solve (L_UU + Lambda) x = -L_UK x_K + Lambda p, where x_K are the trimap's known values and p is
the coarse alpha, a weak prior whose weight grows with the distance from the coarse alpha's 0.5
contour (far from the tracker's edge the tracker is probably right; near it, the image decides).
The prior also keeps every system positive definite, even on a tile without constraints.

The system is solved by Jacobi-preconditioned conjugate gradients started from the coarse alpha,
with a bounded number of iterations, so the time per tile is bounded, in compiled code that
releases the GIL (`tile_system`; pymatting + scipy.sparse remain as a reference, and a sparse
LU for exact solves). With `solve_scale` 0.5 the system is solved at half the tile's resolution and
brought back to full resolution through the local linear colour model
(`guided.upsample_through_colour`), the model the Laplacian itself is built from: about a quarter
of the cost, for the same accuracy on real photographs (see docs/MATTING.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, List, Optional, Tuple

import numpy as np
import torch

from sam2matting.backend.matting import tile_system, workers
from sam2matting.backend.matting.base import TileSolver
from sam2matting.backend.matting.guided import downsample, upsample_through_colour

log = logging.getLogger(__name__)

METHODS = ("cg", "cg_scipy", "direct")

# (image (h, w, 3) float64, unknown (h, w) bool, known foreground (h, w) bool or known alpha
# (h, w) 0/1, coarse (h, w))
Tile = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ClosedFormParams:
    """Settings of the closed-form tile solve (distances in pixels of the tile as given)."""

    epsilon: float = 1e-7  # colour-line regulariser of the Laplacian (pymatting's default)
    radius: int = 1  # Laplacian window radius: 3x3 windows
    prior_weight: float = 0.1  # weight of the coarse prior at `prior_width` from its edge
    prior_width: float = 32.0  # distance (tile pixels) at which the prior reaches full weight
    prior_floor: float = 1e-6  # keeps every system positive definite
    solve_scale: float = 1.0  # 1.0: solve at tile resolution; 0.5: at half, then upsample
    recon_radius: int = 1  # window of the colour-model upsampling (at the solve resolution)
    recon_eps: float = 1e-5
    workers: int = 0  # threads over the tiles of a batch; 0: one per CPU, at most 4
    # "cg": Jacobi-preconditioned conjugate gradients from the coarse alpha, at most
    # cg_iterations (bounded time per tile; stopping early also keeps the solution near the
    # prior where the image says little), compiled (`tile_system`); "cg_scipy": the same
    # through scipy.sparse (the engine before issue 11's cost work; a reference for timings
    # and tests); "direct": sparse LU, exact, slower
    method: str = "cg"
    cg_iterations: int = 100
    cg_tolerance: float = 1e-4


class ClosedFormSolver(TileSolver):
    """pymatting's matting Laplacian plus a weak coarse prior, solved per tile on the CPU."""

    name: ClassVar[str] = "closed_form"

    def __init__(self, params: Optional[ClosedFormParams] = None) -> None:
        self.params = params or ClosedFormParams()
        if self.params.solve_scale not in (0.5, 1.0):
            raise ValueError("solve_scale must be 0.5 or 1.0")
        if self.params.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        self.failures = 0  # tiles that fell back to the coarse alpha (logged)

    def solve(self, rgb: torch.Tensor, trimap: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        device = rgb.device
        scale = round(1.0 / self.params.solve_scale)
        rgb_s = downsample(rgb.float().cpu(), scale)
        coarse_s = downsample(coarse.float().cpu(), scale)
        # a solve pixel is unknown if any pixel it covers is unknown
        unknown_s = downsample(((trimap - 0.5).abs() < 0.25).float().cpu(), scale) > 0
        known_s = downsample((trimap > 0.5).float().cpu(), scale) > 0.5
        tiles = [
            (
                rgb_s[i].permute(1, 2, 0).double().numpy(),
                unknown_s[i, 0].numpy(),
                known_s[i, 0].numpy(),
                coarse_s[i, 0].double().numpy(),
            )
            for i in range(rgb.shape[0])
        ]
        solved = self._map(tiles)
        alpha_s = torch.from_numpy(np.stack(solved)[:, None]).float()
        if scale == 1:
            return alpha_s.to(device)
        full = upsample_through_colour(
            rgb_s, alpha_s, rgb.float().cpu(), self.params.recon_radius, self.params.recon_eps
        )
        return full.to(device)

    def _map(self, tiles: List[Tile]) -> List[np.ndarray]:
        # the compiled solve (numba, nogil) releases the GIL: threads suffice
        return workers.map_tiles(lambda t: self._solve_one(*t), tiles, self.params.workers)

    def _solve_one(
        self, image: np.ndarray, unknown: np.ndarray, fg: np.ndarray, coarse: np.ndarray
    ) -> np.ndarray:
        known_alpha = np.where(fg, 1.0, 0.0)
        if not unknown.any():
            return known_alpha
        try:
            values = solve_tile(image, unknown, known_alpha, coarse, self.params)
        except (RuntimeError, ValueError, MemoryError) as exc:
            values = None
            log.warning("closed-form tile solve failed (%s); keeping the coarse alpha", exc)
        if values is None or not np.isfinite(values).all():
            if values is not None:
                log.warning("closed-form tile solve gave NaN; keeping the coarse alpha")
            self.failures += 1
            return np.where(unknown, np.clip(coarse, 0.0, 1.0), known_alpha)
        out = known_alpha.copy()
        out[unknown] = np.clip(values, 0.0, 1.0)
        return out


def prior_weights(coarse: np.ndarray, params: ClosedFormParams) -> np.ndarray:
    """Prior weight per pixel: grows with the squared distance from the coarse alpha's 0.5 edge.

    `coarse` is at the solve resolution, so distances are scaled back to tile pixels.
    """
    import cv2

    inside = (coarse > 0.5).astype(np.uint8)
    if not inside.any() or inside.all():  # no edge in the tile: the prior is uniform
        dist = np.full(inside.shape, params.prior_width, np.float64)
    else:
        d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
        d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)
        dist = np.where(inside > 0, d_in, d_out).astype(np.float64) / params.solve_scale
    ratio = np.minimum(dist / max(params.prior_width, 1e-6), 1.0)
    return params.prior_weight * ratio**2 + params.prior_floor


def solve_tile(
    image: np.ndarray,
    unknown: np.ndarray,
    known_alpha: np.ndarray,
    coarse: np.ndarray,
    params: ClosedFormParams,
) -> np.ndarray:
    """Alpha of the unknown pixels (flattened, row-major) of one tile.

    image: (h, w, 3) float64 in [0, 1]; unknown: (h, w) bool; known_alpha: (h, w) 0/1 values
    for the known pixels; coarse: (h, w) prior in [0, 1].
    """
    system = (np.ascontiguousarray(image), unknown, known_alpha, coarse)
    if params.method == "cg":  # compiled, releases the GIL (tile_system.py)
        return _solve_compiled(system, params)
    return _solve_scipy(system, params)


def _solve_compiled(system: Tile, params: ClosedFormParams) -> np.ndarray:
    image, unknown, known_alpha, coarse = system
    stencil = tile_system.laplacian_stencil(image, params.epsilon, params.radius, unknown)
    cols, coef, diag, rhs = tile_system.reduced_system(
        stencil, unknown, known_alpha, coarse, prior_weights(coarse, params)
    )
    x0 = np.clip(coarse.ravel()[unknown.ravel()], 0.0, 1.0)
    return tile_system.conjugate_gradients(
        cols, coef, diag, rhs, x0, params.cg_tolerance, params.cg_iterations
    )


def _solve_scipy(system: Tile, params: ClosedFormParams) -> np.ndarray:
    """The same system through pymatting's Laplacian and scipy.sparse ("cg_scipy", "direct")."""
    import scipy.sparse
    import scipy.sparse.linalg
    from pymatting import cf_laplacian

    image, unknown, known_alpha, coarse = system
    laplacian = cf_laplacian(image, epsilon=params.epsilon, radius=params.radius, is_known=~unknown)
    u = unknown.ravel()
    lam = prior_weights(coarse, params).ravel()[u]
    rows = laplacian[u]
    matrix = rows[:, u] + scipy.sparse.diags(lam)
    rhs = lam * coarse.ravel()[u] - rows[:, ~u] @ known_alpha.ravel()[~u]
    if params.method == "cg_scipy":
        inverse_diagonal = scipy.sparse.diags(1.0 / matrix.diagonal())
        values, _info = scipy.sparse.linalg.cg(
            matrix.tocsr(),
            rhs,
            x0=np.clip(coarse.ravel()[u], 0.0, 1.0),
            rtol=params.cg_tolerance,
            maxiter=params.cg_iterations,
            M=inverse_diagonal,
        )
        return np.asarray(values)
    # a symmetric fill-reducing ordering: the system is symmetric positive definite
    lu = scipy.sparse.linalg.splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A")
    direct: np.ndarray = lu.solve(rhs)
    return direct
