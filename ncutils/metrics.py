"""Neural-collapse metrics, in float64, with features as rows.

Convention: ``Z`` is N×p (one row per sample; the paper writes columns),
``y`` holds N labels in 0..K-1 and ``W`` is K×p (the last layer's weights).
Class means come from one matrix product with the one-hot label matrix; no
function loops over samples. Everything is computed on the inputs' device.
"""

from __future__ import annotations

import math

import torch

DEFAULT_RTOL = 1e-8  # singular values below rtol · s_max count as zero


# ---------------------------------------------------------------- helpers

def _as64(A: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(A).__name__}")
    if A.dim() != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {tuple(A.shape)}")
    A = A.detach().to(torch.float64)
    if not torch.isfinite(A).all():
        raise ValueError(f"{name} contains {int((~torch.isfinite(A)).sum())} non-finite values")
    return A


def _labels(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None) -> tuple[torch.Tensor, int]:
    if y.dim() != 1 or y.shape[0] != Z.shape[0]:
        raise ValueError(f"y must hold one label per row of Z ({Z.shape[0]}), got shape {tuple(y.shape)}")
    y = y.to(Z.device, torch.int64)
    K = int(y.max()) + 1 if num_classes is None else num_classes
    if y.min() < 0 or y.max() >= K:
        raise ValueError(f"labels must lie in 0..{K - 1}, got values from {int(y.min())} to {int(y.max())}")
    return y, K


def _one_hot(y: torch.Tensor, K: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, K).to(torch.float64)


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
    """‖A‖_op, through the eigenvalues of the smaller Gram matrix (fast for tall A)."""
    A = _as64(A, "A")
    gram = A.T @ A if A.shape[0] >= A.shape[1] else A @ A.T
    return float(torch.linalg.eigvalsh(gram)[-1].clamp_min(0).sqrt())


# ---------------------------------------------------------------- class means and NC1

def class_means(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """K×p matrix of class means μ_k (uncentred), from one product with the one-hot matrix."""
    Z = _as64(Z, "Z")
    y, K = _labels(Z, y, num_classes)
    onehot = _one_hot(y, K)
    counts = onehot.sum(0)
    if (counts == 0).any():
        raise ValueError(f"class {int((counts == 0).nonzero()[0])} has no samples")
    return (onehot.T @ Z) / counts[:, None]


def _scatter(Z, y, num_classes):
    """(R, centred, coincide): within-class residuals R = Z − (each sample's class mean),
    the centred class means, and whether the class means coincide up to rounding."""
    Z = _as64(Z, "Z")
    y, K = _labels(Z, y, num_classes)
    M = class_means(Z, y, K)
    R = Z - M[y]
    centred = M - M.mean(0)
    scale = (Z * Z).sum() / Z.shape[0]  # mean squared norm of the features
    coincide = bool((centred * centred).sum() / K <= 1e-24 * scale)
    return R, centred, coincide


def nc1(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> float:
    """NC1 = tr(Σ_W) / tr(Σ_B): within-class over between-class variability (→ 0).

    Σ_W = (1/N) Σ_i (z_i − μ_{y_i})(z_i − μ_{y_i})ᵀ and
    Σ_B = (1/K) Σ_k (μ_k − μ_G)(μ_k − μ_G)ᵀ with μ_G the mean of the class means.
    When all class means coincide (tr Σ_B = 0 up to rounding) the answer is ``inf``.
    """
    R, centred, coincide = _scatter(Z, y, num_classes)
    if coincide:
        return math.inf
    trace_within = (R * R).sum() / R.shape[0]
    trace_between = (centred * centred).sum() / centred.shape[0]
    return float(trace_within / trace_between)


def nc1_pinv(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, rtol: float = DEFAULT_RTOL) -> float:
    """Papyan–Han–Donoho's NC1 = tr(Σ_W Σ_B⁺) / K (``inf`` when the class means coincide).

    Σ_B⁺ comes from a thin SVD of the K×p centred means with an explicit rank
    tolerance (no iterative eigensolver), and the trace is taken without ever
    forming a p×p matrix: tr(Σ_W Σ_B⁺)/K = ‖R V S⁻¹‖²_F / N.
    """
    R, centred, coincide = _scatter(Z, y, num_classes)
    if coincide:
        return math.inf
    _, s, Vh = torch.linalg.svd(centred, full_matrices=False)
    keep = s > rtol * s[0]
    projected = (R @ Vh[keep].T) / s[keep]
    return float((projected * projected).sum() / R.shape[0])


# ---------------------------------------------------------------- NC2 and NC3

def nc2(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, rtol: float = DEFAULT_RTOL) -> float:
    """NC2 = κ(M), M the K×p matrix of *uncentred* class means (→ 1).

    Without biases and with MSE loss the collapsed class means form an
    orthogonal frame (equal norms, pairwise orthogonal), whose κ is exactly 1.
    """
    return condition_number(class_means(Z, y, num_classes), rtol)


def nc2_etf(Z: torch.Tensor, y: torch.Tensor, num_classes: int | None = None) -> float:
    """Distance of the centred means' Gram matrix to a simplex ETF's (→ 0; Papyan et al.).

    ‖G/‖G‖_F − (I − 11ᵀ/K)/√(K−1)‖_F with G = (M − μ_G)(M − μ_G)ᵀ.
    """
    M = class_means(Z, y, num_classes)
    K = M.shape[0]
    centred = M - M.mean(0)
    G = centred @ centred.T
    etf = (torch.eye(K, dtype=G.dtype, device=G.device) - 1.0 / K) / math.sqrt(K - 1)
    return float(torch.linalg.matrix_norm(G / torch.linalg.matrix_norm(G) - etf))


def _head_and_means(Z, y, W):
    W = _as64(W, "W")
    M = class_means(Z, y, W.shape[0])
    if W.shape != M.shape:
        raise ValueError(f"W must be K×p = {tuple(M.shape)} to match the class means, got {tuple(W.shape)}")
    return W.to(M.device), M


def nc3(Z: torch.Tensor, y: torch.Tensor, W: torch.Tensor) -> float:
    """NC3 = mean over classes of cos∠(W_k, μ_k): alignment of the last layer's
    rows with the (uncentred) class means (→ 1)."""
    W, M = _head_and_means(Z, y, W)
    cos = (W * M).sum(1) / (W.norm(dim=1) * M.norm(dim=1))
    return float(cos.mean())


def nc3_distance(Z: torch.Tensor, y: torch.Tensor, W: torch.Tensor) -> float:
    """‖W/‖W‖_F − M/‖M‖_F‖²_F: Papyan et al.'s self-duality distance, uncentred (→ 0)."""
    W, M = _head_and_means(Z, y, W)
    return float(((W / W.norm() - M / M.norm()) ** 2).sum())


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
    H = _as64(H, "H")
    top = operator_norm(H)
    if top == 0:
        raise ValueError("H is the zero matrix: negativity is undefined")
    return operator_norm(H.clamp(max=0)) / top


# ---------------------------------------------------------------- every metric, every layer

REPORT_COLUMNS = (
    "layer", "kind", "width", "nc1", "nc1_pinv", "nc2", "nc2_etf", "means_rank",
    "nc3", "nc3_distance", "balancedness", "balancedness_op", "negativity",
)


@torch.no_grad()
def collapse_report(model, data) -> dict[str, list]:
    """Every metric for every layer ℓ = 1..L of ``model`` on ``data``: one row per layer.

    Returned as a plain dict of equal-length lists (``pandas.DataFrame(report)``
    displays it as a table). Entries that do not apply are ``None``:
    NC3 only for the penultimate layer (it needs W_L, the K-row matrix after it);
    balancedness for each pair (W_ℓ, W_{ℓ+1}), ℓ < L (the theory is about the linear
    pairs ℓ > L1); negativity for the non-linear layers' pre-activations.
    """
    weight = model.weights()[0]
    X = data.X.to(weight.device, weight.dtype)
    y = data.y.to(weight.device)
    K = data.num_classes
    weights = model.weights()
    L = len(weights)
    rows = {name: [] for name in REPORT_COLUMNS}
    for out in model.features(X):
        ell = out.index
        Z = out.post
        rows["layer"].append(ell)
        rows["kind"].append("linear" if out.linear else "nonlinear")
        rows["width"].append(Z.shape[1])
        rows["nc1"].append(nc1(Z, y, K))
        rows["nc1_pinv"].append(nc1_pinv(Z, y, K))
        rows["nc2"].append(nc2(Z, y, K))
        rows["nc2_etf"].append(nc2_etf(Z, y, K))
        rows["means_rank"].append(numerical_rank(class_means(Z, y, K)))
        penultimate = ell == L - 1
        rows["nc3"].append(nc3(Z, y, weights[-1]) if penultimate else None)
        rows["nc3_distance"].append(nc3_distance(Z, y, weights[-1]) if penultimate else None)
        has_next = ell < L
        rows["balancedness"].append(balancedness(weights[ell - 1], weights[ell]) if has_next else None)
        rows["balancedness_op"].append(balancedness_op(weights[ell - 1], weights[ell]) if has_next else None)
        rows["negativity"].append(None if out.linear else negativity(out.pre))
    return rows
