"""The largest singular value of a tall matrix at memory speed, to float64 accuracy.

``operator_norm`` and ``negativity`` (in :mod:`ncutils.metrics`) need ‖A‖_op for feature
matrices of N = 60,000 rows. Forming the p×p Gram matrix AᵀA costs N·p² operations; a block
Krylov method needs only a few products of A with p×b blocks (b = 16), each one pass over A:

1. **Krylov, in A's precision.** Grow an orthonormal basis U = [U_0, U_1, …] with
   U_{j+1} = the part of AᵀA U_j not yet in the basis, and take the largest eigenvalue θ of the
   small matrix Uᵀ(AᵀA)U (Rayleigh–Ritz) with its vector v and residual r = AᵀA v − θ v.
   The error of θ is at most ‖r‖ (an eigenvalue lies within ‖r‖ of θ) and about ‖r‖²/gap
   (Kato–Temple, with the gap to the second Ritz value as the estimate of the gap to λ_2).
   Stop when the smaller of the two is below ``TOL`` · θ, when ‖r‖ reaches the floor of A's
   precision (``FLOOR``) or stops falling close to it (it must halve at every step), or when
   the basis fills the space, where the answer is exact by construction: the loop always ends.
2. **A float64 certificate.** One more pass, in float64, gives θ = ‖A v‖² (a lower bound on
   σ_1², with an error quadratic in the error of v) and its residual, hence the same bound
   without rounding from A's precision. If it is above ``TOL`` · θ (a float32 Krylov cannot
   separate singular values closer than about 1e-7), step 1 runs again with float64 products,
   started from the float32 Ritz vectors.

Small matrices (either side ≤ ``DIRECT_BELOW``) take the exact float64 SVD instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

BLOCK = 16  # Krylov block size: more than the K ≤ 10 nearly equal singular values of class means
ROWS = 1024  # rows per block of a pass: a float64 copy of one block stays in cache
TOL = 1e-10  # relative error allowed on σ_1² (so 5e-11 on σ_1; float32 rounding is 6e-8)
FLOOR = {torch.float32: 1e-6, torch.float64: 1e-14}  # relative residual that rounding keeps it above
DIRECT_BELOW = 4 * BLOCK


@dataclass(frozen=True)
class TopSingularValue:
    """σ_1(A), with how it was found: Krylov steps in A's precision and in float64 (0 and 0 for
    the direct SVD), and the certified bound on the relative error of σ_1²."""

    value: float
    iterations: int
    float64_iterations: int
    error_bound: float


def _gram_times(A: torch.Tensor, Q: torch.Tensor, negative_part: bool) -> torch.Tensor:
    """AᵀA Q, one pass over blocks of rows of A, in Q's dtype (A's blocks are cast to it);
    with ``negative_part``, the same for min(A, 0), taken block by block (never stored whole)."""
    out = torch.zeros(A.shape[1], Q.shape[1], dtype=Q.dtype, device=Q.device)
    for start in range(0, A.shape[0], ROWS):
        block = A[start : start + ROWS].to(Q.dtype)
        if negative_part:
            block = block.clamp(max=0)  # exact in any precision
        out.addmm_(block.T, block @ Q)
    return out


def _krylov(A, start: torch.Tensor, dtype, negative_part: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Block Krylov with Rayleigh–Ritz on AᵀA in ``dtype``, from the p×b orthonormal ``start``.

    Returns the Ritz values (ascending, float64), the Ritz vectors (p × basis size, float64) and
    the number of products with A (passes).
    """
    p = A.shape[1]
    basis, images = [], []  # U_j and AᵀA U_j, kept in float64 for the small dense algebra
    U = start
    previous = math.inf
    while True:
        image = _gram_times(A, U.to(dtype), negative_part).to(torch.float64)
        basis.append(U)
        images.append(image)
        Us, MUs = torch.cat(basis, 1), torch.cat(images, 1)
        small = Us.T @ MUs
        values, vectors = torch.linalg.eigh((small + small.T) / 2)
        top = vectors[:, -1]
        residual = float((MUs @ top - values[-1] * (Us @ top)).norm())
        theta = float(values[-1])
        if (
            _error_bound(theta, residual, float(values[-2])) <= TOL
            or residual <= FLOOR[dtype] * theta
            or (residual > previous / 2 and residual <= 100 * FLOOR[dtype] * theta)
            or Us.shape[1] >= p
        ):
            return values, Us @ vectors, len(basis)
        previous = residual
        new = image - Us @ (Us.T @ image)
        new = new - Us @ (Us.T @ new)  # twice: orthogonal to the basis in floating point
        directions, sizes, _ = torch.linalg.svd(new, full_matrices=False)
        kept = sizes > 1e-12 * image.norm()  # only directions the image really adds
        if not kept.any():  # the basis is invariant under AᵀA: its Ritz values are exact
            return values, Us @ vectors, len(basis)
        U = directions[:, kept][:, : p - Us.shape[1]]


def _error_bound(theta: float, residual: float, second: float) -> float:
    """min(‖r‖, ‖r‖²/(θ − second)) / θ: the relative error of the Ritz value θ (see the docstring)."""
    if theta <= 0:
        return 0.0 if residual == 0 else math.inf
    gap = theta - second
    return min(residual, residual * residual / gap if gap > 0 else math.inf) / theta


def _certify(A, v: torch.Tensor, second: float, negative_part: bool) -> tuple[float, float]:
    """θ = ‖A v‖² and the bound on its relative error, from one pass over A in float64."""
    Mv = _gram_times(A, v[:, None].to(torch.float64), negative_part)[:, 0]
    theta = float(v @ Mv)
    return max(theta, 0.0), _error_bound(theta, float((Mv - theta * v).norm()), second)


def top_singular_value(A: torch.Tensor, negative_part: bool = False, seed: int = 0) -> TopSingularValue:
    """σ_1(A), or σ_1(min(A, 0)) with ``negative_part``, to float64 accuracy, for a finite 2-D
    tensor (see the module's docstring). The Krylov start is drawn from ``seed``: the same
    matrix always gives the same bits."""
    if A.shape[0] < A.shape[1]:
        A = A.T  # σ_1(A) = σ_1(Aᵀ): work with the tall side
    if A.shape[1] <= DIRECT_BELOW or A.shape[0] <= DIRECT_BELOW:
        A = A.to(torch.float64)
        return TopSingularValue(float(torch.linalg.svdvals(A.clamp(max=0) if negative_part else A)[0]), 0, 0, 0.0)
    dtype = A.dtype if A.dtype in (torch.float32, torch.float64) else torch.float32
    generator = torch.Generator(device="cpu").manual_seed(seed)  # the same start every call
    start = torch.randn(A.shape[1], BLOCK, generator=generator, dtype=torch.float64).to(A.device)
    values, vectors, iterations = _krylov(A, torch.linalg.qr(start)[0], dtype, negative_part)
    theta, bound = _certify(A, vectors[:, -1], float(values[-2]), negative_part)
    float64_iterations = 0
    if bound > TOL and dtype != torch.float64:
        values, vectors, float64_iterations = _krylov(A, vectors[:, -BLOCK:], torch.float64, negative_part)
        theta, bound = _certify(A, vectors[:, -1], float(values[-2]), negative_part)
    return TopSingularValue(math.sqrt(theta), iterations, float64_iterations, bound)
