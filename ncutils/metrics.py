"""Neural-collapse metrics, in float64, with features as rows.

Convention: ``Z`` is N×p (one row per sample; the paper writes columns),
``y`` holds N labels in 0..K-1 and ``W`` is K×p (the last layer's weights).
Class means come from one matrix product with the one-hot label matrix; no
function loops over samples. Everything is computed on the inputs' device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .spectral import top_singular_value

DEFAULT_RTOL = 1e-8  # singular values below rtol · s_max count as zero


# ---------------------------------------------------------------- helpers

CHUNK_ROWS = 1024  # feature matrices are read in blocks of rows: float64 copies stay small and cached


def _check_matrix(A, name: str) -> torch.Tensor:
    if isinstance(A, np.ndarray):  # NumPy arrays are welcome: same data, no copy
        A = torch.from_numpy(A)
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or a NumPy array, got {type(A).__name__}")
    if A.dim() != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {tuple(A.shape)}")
    if A.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(A.shape)}")
    A = A.detach()
    if not torch.isfinite(A.sum()):  # one cheap reduction; count only when something looks wrong
        bad = int((~torch.isfinite(A)).sum())
        if bad:  # (a float32 sum of finite values can overflow: then nothing is wrong)
            raise ValueError(f"{name} contains {bad} non-finite values")
    return A


def _as64(A, name: str) -> torch.Tensor:
    return _check_matrix(A, name).to(torch.float64)


def _row_blocks(A: torch.Tensor, copy: bool = False):
    """(start, float64 block) over blocks of rows: one pass, no N×p float64 copy. ``copy``: each
    block is a new tensor even when A is float64 already (the caller may write into it)."""
    for start in range(0, A.shape[0], CHUNK_ROWS):
        yield start, A[start : start + CHUNK_ROWS].to(torch.float64, copy=copy)


def _labels(Z: torch.Tensor, y, num_classes: int | None) -> tuple[torch.Tensor, int]:
    if isinstance(y, (np.ndarray, list, tuple)):
        y = torch.as_tensor(np.asarray(y))
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.shape[0] != Z.shape[0]:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must hold one label per row of Z ({Z.shape[0]}), as a 1-D tensor or array; got {shape}")
    if y.dtype.is_floating_point and not torch.equal(y, y.round()):
        raise ValueError("y must hold integer class labels, got non-integer values")
    y = y.to(Z.device, torch.int64)
    K = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= K:
        raise ValueError(f"labels must lie in 0..{K - 1}, got values from {int(y.min())} to {int(y.max())}")
    if K < 2:
        raise ValueError(f"neural-collapse metrics compare classes: need at least 2, got {K}")
    return y, K


def singular_values(A: torch.Tensor) -> torch.Tensor:
    """Singular values of A in float64, largest first."""
    return torch.linalg.svdvals(_as64(A, "A"))


def numerical_rank(A: torch.Tensor, rtol: float = DEFAULT_RTOL) -> int:
    """Number of singular values above ``rtol · s_max``."""
    s = singular_values(A)
    return int((s > rtol * s[0]).sum()) if s[0] > 0 else 0


def condition_number(A: torch.Tensor, rtol: float = DEFAULT_RTOL) -> float:
    """κ(A) = s_max / (smallest singular value above ``rtol · s_max``).

    Singular values below the tolerance count as zero, so a rank-deficient
    matrix gets the condition number of its range (finite, never NaN); check
    ``numerical_rank`` to see how many directions that is.
    """
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    s = singular_values(A)
    if s[0] == 0:
        raise ValueError("A is the zero matrix: its condition number is undefined")
    kept = s[s > rtol * s[0]]
    return float(kept[0] / kept[-1])


def operator_norm(A: torch.Tensor) -> float:
    """‖A‖_op, the largest singular value, to float64 accuracy, at memory speed.

    A block Krylov method needs a few passes over A instead of the N·p² Gram matrix, and one
    more pass in float64 certifies the value (relative error below 1e-10 on ‖A‖²_op); see
    :func:`ncutils.spectral.top_singular_value`, which also reports the iteration counts.
    """
    return top_singular_value(_check_matrix(A, "A")).value


# ---------------------------------------------------------------- class means and NC1


def class_means(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """K×p matrix of class means μ_k (uncentred, float64): each row of Z added to its class's sum."""
    Z = _check_matrix(Z, "Z")
    y, K = _labels(Z, y, num_classes)
    counts = torch.bincount(y, minlength=K).to(torch.float64)
    if (counts == 0).any():
        raise ValueError(f"class {int((counts == 0).nonzero()[0])} has no samples")
    sums = torch.zeros(K, Z.shape[1], dtype=torch.float64, device=Z.device)
    for start, block in _row_blocks(Z):
        sums.index_add_(0, y[start : start + len(block)], block)  # row i of the block into row y_i
    return sums / counts[:, None]


def _within_class(Z, y, means, directions=None):
    """One pass over the rows: Σ_i ‖z_i − μ_{y_i}‖², and Σ_i ‖(z_i − μ_{y_i}) · directions‖²."""
    within, projected = 0.0, 0.0
    for start, block in _row_blocks(Z, copy=True):
        residual = block.sub_(means[y[start : start + len(block)]])  # in place: the block is our copy
        within += float(torch.dot(residual.view(-1), residual.view(-1)))
        if directions is not None:
            along = (residual @ directions).view(-1)
            projected += float(torch.dot(along, along))
    return within, projected


def _means_coincide(centred, means, within_per_sample) -> bool:
    """Do the class means coincide up to rounding, relative to the features' size? (NC1 is then ∞.)"""
    between = float((centred * centred).sum(1).mean())
    scale = within_per_sample + float((means * means).sum(1).mean())  # ≈ mean squared norm of the rows
    return between <= 1e-24 * scale


def _pinv_directions(centred, rtol):
    """V S⁻¹ from the thin SVD of the centred means, keeping s > rtol · s_max: Σ_B⁺ = K (V S⁻¹)(V S⁻¹)ᵀ."""
    _, s, Vh = torch.linalg.svd(centred, full_matrices=False)
    keep = (s > rtol * s[0]) & (s > 0)
    return Vh[keep].T / s[keep]


def _class_geometry(Z, y, num_classes, rtol=DEFAULT_RTOL):
    """Everything NC1 and NC2 need, in two passes over the rows of Z.

    Returns the K×p means, the centred means, NC1 = tr Σ_W / tr Σ_B and
    Papyan's NC1 = tr(Σ_W Σ_B⁺)/K. Σ_B⁺ comes from a thin SVD of the centred
    means with an explicit rank tolerance (no iterative eigensolver), and the
    trace is taken without forming a p×p matrix: tr(Σ_W Σ_B⁺)/K = ‖R V S⁻¹‖²_F / N,
    R the within-class residuals. Both NC1s are ``inf`` when the means coincide.
    """
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    Z = _check_matrix(Z, "Z")
    y, K = _labels(Z, y, num_classes)
    means = class_means(Z, y, K)
    centred = means - means.mean(0)
    within, projected = _within_class(Z, y, means, _pinv_directions(centred, rtol))
    N = Z.shape[0]
    if _means_coincide(centred, means, within / N):
        return means, centred, math.inf, math.inf
    between = float((centred * centred).sum()) / K
    return means, centred, (within / N) / between, projected / N


def nc1(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> float:
    """NC1 = tr(Σ_W) / tr(Σ_B): within-class over between-class variability (→ 0).

    Σ_W = (1/N) Σ_i (z_i − μ_{y_i})(z_i − μ_{y_i})ᵀ and
    Σ_B = (1/K) Σ_k (μ_k − μ_G)(μ_k − μ_G)ᵀ with μ_G the mean of the class means.
    When all class means coincide (tr Σ_B = 0 up to rounding) the answer is ``inf``.
    """
    return _class_geometry(Z, y, num_classes)[2]


def nc1_pinv(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, rtol: float = DEFAULT_RTOL) -> float:
    """Papyan–Han–Donoho's NC1 = tr(Σ_W Σ_B⁺) / K (→ 0; ``inf`` when the class means coincide).

    Σ_B⁺ keeps the singular directions of the centred means above ``rtol · s_max``.
    """
    return _class_geometry(Z, y, num_classes, rtol)[3]


# ---------------------------------------------------------------- NC2 and NC3


def _etf_distance(centred):
    G = centred @ centred.T
    K = G.shape[0]
    if not torch.linalg.matrix_norm(G) > 0:  # the class means coincide: no shape to compare
        return math.inf
    etf = (torch.eye(K, dtype=G.dtype, device=G.device) - 1.0 / K) / math.sqrt(K - 1)
    return float(torch.linalg.matrix_norm(G / torch.linalg.matrix_norm(G) - etf))


def means_condition_number(means: torch.Tensor, rtol: float = DEFAULT_RTOL) -> float:
    """κ over all K singular values of the K×p class-mean matrix: s_1 / s_K, or ``inf`` below rank K.

    Unlike ``condition_number``, which measures a matrix on its range, this is NC2's
    definition: class means of rank below K (s_K ≤ rtol · s_1, or fewer than K
    dimensions, p < K) are not an orthogonal frame of K directions, whatever their
    shape inside a smaller space, and get ``inf`` (the low-rank failure of NC2).
    """
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    means = _as64(means, "means")
    s = torch.linalg.svdvals(means)
    K = means.shape[0]
    if len(s) < K or not s[K - 1] > rtol * s[0]:
        return math.inf
    return float(s[0] / s[K - 1])


def nc2(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, rtol: float = DEFAULT_RTOL) -> float:
    """NC2 = κ(M) = s_1(M) / s_K(M), M the K×p matrix of *uncentred* class means (→ 1).

    Without biases and with MSE loss the collapsed class means form an
    orthogonal frame (equal norms, pairwise orthogonal), whose κ is exactly 1.
    κ is taken over all K singular values: means of rank below K give ``inf``
    (see ``means_condition_number``; ``numerical_rank`` of the means says which rank).
    """
    return means_condition_number(class_means(Z, y, num_classes), rtol)


def nc2_etf(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> float:
    """Distance of the centred means' Gram matrix to a simplex ETF's (→ 0; Papyan et al.).

    ‖G/‖G‖_F − (I − 11ᵀ/K)/√(K−1)‖_F with G = (M − μ_G)(M − μ_G)ᵀ; ``inf`` when the
    class means coincide (G = 0), as for NC1.
    """
    means = class_means(Z, y, num_classes)
    return _etf_distance(means - means.mean(0))


def _check_head(W, means):
    W = _as64(W, "W").to(means.device)
    if W.shape != means.shape:
        raise ValueError(f"W must be K×p = {tuple(means.shape)} to match the class means, got {tuple(W.shape)}")
    return W


def _alignment(W, means):
    """(NC3, NC3 distance) of the head W against the class means.

    Undefined, and returned as NaN, when a class mean or a row of W is zero (a dead layer):
    a cosine with the zero vector has no value.
    """
    W = _check_head(W, means)
    if not ((W.norm(dim=1) > 0).all() and (means.norm(dim=1) > 0).all()):
        return math.nan, math.nan
    cosine = (W * means).sum(1) / (W.norm(dim=1) * means.norm(dim=1))
    distance = ((W / W.norm() - means / means.norm()) ** 2).sum()
    return float(cosine.mean()), float(distance)


def _means_for_head(Z, y, W):
    """Class means of Z, after checking that W has one row per class the labels name."""
    Z, W = _check_matrix(Z, "Z"), _check_matrix(W, "W")
    y, K = _labels(Z, y, None)
    if W.shape[0] < K:
        raise ValueError(f"W must have one row per class: the labels name {K} classes, W has {W.shape[0]} rows")
    return class_means(Z, y, W.shape[0])


def nc3(Z: torch.Tensor, y: torch.Tensor, W: torch.Tensor) -> float:
    """NC3 = mean over classes of cos∠(W_k, μ_k): alignment of the last layer's
    rows with the (uncentred) class means (→ 1)."""
    return _alignment(W, _means_for_head(Z, y, W))[0]


def nc3_distance(Z: torch.Tensor, y: torch.Tensor, W: torch.Tensor) -> float:
    """‖W/‖W‖_F − M/‖M‖_F‖²_F: Papyan et al.'s self-duality distance, uncentred (→ 0)."""
    return _alignment(W, _means_for_head(Z, y, W))[1]


# ---------------------------------------------------------------- weights and non-linearity


def imbalance(W_lower: torch.Tensor, W_upper: torch.Tensor) -> torch.Tensor:
    """D = W_upperᵀ W_upper − W_lower W_lowerᵀ for consecutive layers (W_upper after W_lower)."""
    W_lower, W_upper = _as64(W_lower, "W_lower"), _as64(W_upper, "W_upper")
    if W_upper.shape[1] != W_lower.shape[0]:
        raise ValueError(
            f"W_upper must take W_lower's output: W_lower is {tuple(W_lower.shape)}, W_upper is {tuple(W_upper.shape)}"
        )
    return W_upper.T @ W_upper - W_lower @ W_lower.T


def balancedness(W_lower: torch.Tensor, W_upper: torch.Tensor) -> float:
    """Relative imbalance ‖W_upperᵀW_upper − W_lowerW_lowerᵀ‖_F / ‖W_lowerW_lowerᵀ‖_F (→ 0)."""
    D = imbalance(W_lower, W_upper)
    gram = _as64(W_lower, "W_lower") @ _as64(W_lower, "W_lower").T
    return float(torch.linalg.matrix_norm(D) / torch.linalg.matrix_norm(gram))


def balancedness_op(W_lower: torch.Tensor, W_upper: torch.Tensor) -> float:
    """Absolute imbalance ‖W_upperᵀW_upper − W_lowerW_lowerᵀ‖_op: the theorem's ε2."""
    return float(torch.linalg.eigvalsh(imbalance(W_lower, W_upper)).abs().max())


def negativity(H: torch.Tensor) -> float:
    """‖H − relu(H)‖_op / ‖H‖_op on pre-activations H: how much a ReLU would cut (0 = linear)."""
    H = _check_matrix(H, "H")
    top = operator_norm(H)
    if top == 0:
        raise ValueError("H is the zero matrix: negativity is undefined")
    return top_singular_value(H, negative_part=True).value / top
