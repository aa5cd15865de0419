"""The closed-form tile system built and solved in compiled code, without holding the GIL.

`closed_form.solve_tile` solves, for the unknown pixels U of one tile,

    (L_UU + Lambda) x = Lambda p - L_UK x_K

with L the matting Laplacian of Levin, Lischinski & Weiss (2008), Lambda the coarse prior's
weights and p the coarse alpha. Built with scipy.sparse and solved with `scipy.sparse.linalg.cg`,
a tile of 96x96 pixels spends most of its time in Python: every CG iteration is a dozen calls
into numpy and scipy, and they hold the GIL, so the solver's worker threads barely overlap.

Here the same system is built straight from the image into a row-major table of each unknown
pixel's (4r+1)^2 neighbours (the Laplacian's stencil), and Jacobi-preconditioned conjugate
gradients run over it in one numba function, the same recurrence and stopping rule as scipy's
`cg` (scipy 1.17, `_isolve/iterative.py`). The answers agree with the scipy path to rounding
(`tests/backend/matting/test_tile_system.py` checks both on real tiles); the scipy path stays
as `ClosedFormParams.method = "cg_scipy"`, the reference the benchmark times the engine before
issue 11 with.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def laplacian_stencil(image: np.ndarray, epsilon: float, r: int, unknown: np.ndarray) -> np.ndarray:
    """(h*w, 4r+1, 4r+1): L[i, j] for j at offset (dy - 2r, dx - 2r) from pixel i.

    Only windows that hold an unknown pixel contribute; rows of pixels whose windows are all
    known stay partial, and nothing reads them. image: (h, w, 3) float64; unknown: (h, w) bool.
    """
    h, w, _ = image.shape
    side = 2 * r + 1
    area = side * side
    span = 4 * r + 1
    values = np.zeros((h * w, span, span))
    c = np.zeros((side, side, 3))
    for y in range(r, h - r):
        for x in range(r, w - r):
            if not unknown[y - r : y + r + 1, x - r : x + r + 1].any():
                continue
            for ch in range(3):  # window colours, centred on their mean
                s = 0.0
                for dy in range(side):
                    for dx in range(side):
                        s += image[y + dy - r, x + dx - r, ch]
                for dy in range(side):
                    for dx in range(side):
                        c[dy, dx, ch] = image[y + dy - r, x + dx - r, ch] - s / area
            # covariance plus epsilon / |w| on the diagonal, and its inverse (cofactors)
            a00, a01, a02, a11, a12, a22 = epsilon, 0.0, 0.0, epsilon, 0.0, epsilon
            for dy in range(side):
                for dx in range(side):
                    a00 += c[dy, dx, 0] * c[dy, dx, 0]
                    a01 += c[dy, dx, 0] * c[dy, dx, 1]
                    a02 += c[dy, dx, 0] * c[dy, dx, 2]
                    a11 += c[dy, dx, 1] * c[dy, dx, 1]
                    a12 += c[dy, dx, 1] * c[dy, dx, 2]
                    a22 += c[dy, dx, 2] * c[dy, dx, 2]
            a00, a01, a02 = a00 / area, a01 / area, a02 / area
            a11, a12, a22 = a11 / area, a12 / area, a22 / area
            m00 = a11 * a22 - a12 * a12
            m01 = a02 * a12 - a01 * a22
            m02 = a01 * a12 - a02 * a11
            m11 = a00 * a22 - a02 * a02
            m12 = a01 * a02 - a00 * a12
            m22 = a00 * a11 - a01 * a01
            inv_det = 1.0 / (a00 * m00 + a01 * m01 + a02 * m02)
            for dyi in range(side):
                for dxi in range(side):
                    s0, s1, s2 = c[dyi, dxi, 0], c[dyi, dxi, 1], c[dyi, dxi, 2]
                    c0 = (m00 * s0 + m01 * s1 + m02 * s2) * inv_det
                    c1 = (m01 * s0 + m11 * s1 + m12 * s2) * inv_det
                    c2 = (m02 * s0 + m12 * s1 + m22 * s2) * inv_det
                    i = (y + dyi - r) * w + (x + dxi - r)
                    for dyj in range(side):
                        for dxj in range(side):
                            t = c0 * c[dyj, dxj, 0] + c1 * c[dyj, dxj, 1] + c2 * c[dyj, dxj, 2]
                            same = 1.0 if (dyi == dyj and dxi == dxj) else 0.0
                            values[i, dyj - dyi + 2 * r, dxj - dxi + 2 * r] += (
                                same - (1.0 + t) / area
                            )
    return values


@njit(cache=True, nogil=True)
def reduced_system(
    values: np.ndarray,
    unknown: np.ndarray,
    known_alpha: np.ndarray,
    prior: np.ndarray,
    lam: np.ndarray,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The unknown pixels' rows: (columns, coefficients, diagonal, right-hand side).

    columns (n, (4r+1)^2): index of each neighbour among the unknowns, -1 where the neighbour
    is known or outside the tile; coefficients: L's entries there (the diagonal includes the
    prior weight); right-hand side: lam * prior - L_UK x_K. unknown, known_alpha, prior and lam
    are (h, w); the unknowns are numbered in row-major order, as `x[unknown.ravel()]`.
    """
    h, w = unknown.shape
    span = values.shape[1]
    r2 = span // 2
    order = np.full(h * w, -1, np.int64)
    n = 0
    for i in range(h * w):
        if unknown[i // w, i % w]:
            order[i] = n
            n += 1
    cols = np.full((n, span * span), -1, np.int64)
    coef = np.zeros((n, span * span))
    diag = np.zeros(n)
    rhs = np.zeros(n)
    for i in range(h * w):
        k = order[i]
        if k < 0:
            continue
        y, x = i // w, i % w
        rhs[k] = lam[y, x] * prior[y, x]
        for dy in range(span):
            yj = y + dy - r2
            if yj < 0 or yj >= h:
                continue
            for dx in range(span):
                xj = x + dx - r2
                if xj < 0 or xj >= w:
                    continue
                v = values[i, dy, dx]
                j = yj * w + xj
                if order[j] >= 0:
                    if j == i:
                        v += lam[y, x]
                        diag[k] = v
                    cols[k, dy * span + dx] = order[j]
                    coef[k, dy * span + dx] = v
                else:
                    rhs[k] -= v * known_alpha[yj, xj]
    return cols, coef, diag, rhs


@njit(cache=True, nogil=True, inline="always")
def _row_product(cols: np.ndarray, coef: np.ndarray, v: np.ndarray, k: int) -> float:
    """Row k of the system times v (-1 columns are known or outside the tile)."""
    s = 0.0
    for m in range(cols.shape[1]):
        j = cols[k, m]
        if j >= 0:
            s += coef[k, m] * v[j]
    return s


@njit(cache=True, nogil=True)
def conjugate_gradients(
    cols: np.ndarray,
    coef: np.ndarray,
    diag: np.ndarray,
    rhs: np.ndarray,
    x0: np.ndarray,
    rtol: float,
    maxiter: int,
) -> np.ndarray:
    """Jacobi-preconditioned CG from x0: scipy's `cg` recurrence, stop rule and edge cases.

    Each iteration is three fused passes over the unknowns without temporaries: the
    preconditioned residual with r.z, the search direction's product with p.q, and the
    updates of x and r with r.r for the next stop test.
    """
    n = rhs.shape[0]
    bb = 0.0
    for k in range(n):
        bb += rhs[k] * rhs[k]
    if bb == 0.0:
        return rhs.copy()  # scipy returns b itself: the zero vector
    atol = rtol * np.sqrt(bb)
    x = x0.copy()
    r = rhs.copy()
    if np.any(x != 0.0):
        for k in range(n):
            r[k] -= _row_product(cols, coef, x, k)
    rr = 0.0
    for k in range(n):
        rr += r[k] * r[k]
    p = np.zeros(n)
    q = np.empty(n)
    rho_prev = 1.0
    for it in range(maxiter):
        if np.sqrt(rr) < atol:
            break
        rho = 0.0
        for k in range(n):
            rho += r[k] * r[k] / diag[k]
        beta = rho / rho_prev if it > 0 else 0.0
        for k in range(n):
            p[k] = p[k] * beta + r[k] / diag[k]
        pq = 0.0
        for k in range(n):
            q[k] = _row_product(cols, coef, p, k)
            pq += p[k] * q[k]
        step = rho / pq
        rr = 0.0
        for k in range(n):
            x[k] += step * p[k]
            r[k] -= step * q[k]
            rr += r[k] * r[k]
        rho_prev = rho
    return x
