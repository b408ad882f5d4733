"""Exact, checkable statements behind the paper's theorems, as functions of measured quantities.

Everything here is an identity or an inequality we prove ourselves (proofs in the
book's theorem chapters) and test numerically; none of it is a constant copied
from the paper. Matrices follow the code's convention: W_ℓ is n_ℓ × n_{ℓ-1},
features are rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .metrics import DEFAULT_RTOL, _as64, class_means, condition_number, imbalance, singular_values
from .models import data_for
from .steps import data_term

# ---------------------------------------------------------------- the linear head


def head_product(head: Sequence[torch.Tensor]) -> torch.Tensor:
    """W_{L:L1+1} = W_L ⋯ W_{L1+1} from the head's matrices in forward order, in float64."""
    if len(head) == 0:
        raise ValueError("head must hold at least one matrix")
    product = _as64(head[0], "head[0]")
    for i, W in enumerate(head[1:], start=1):
        W = _as64(W, f"head[{i}]")
        if W.shape[1] != product.shape[0]:
            raise ValueError(f"head[{i}] has shape {tuple(W.shape)}, which cannot follow {tuple(product.shape)}")
        product = W @ product
    return product


def balanced_kappa(head: Sequence[torch.Tensor], rtol: float = DEFAULT_RTOL) -> float:
    """κ(W_L ⋯ W_{L1+1})^{1/L2}: what κ(W_L) equals when the head is exactly balanced.

    Balance along the chain gives (W_{L:L1+1})(W_{L:L1+1})ᵀ = (W_L W_Lᵀ)^{L2},
    so every singular value of the product is that of W_L to the power L2.
    """
    return condition_number(head_product(head), rtol) ** (1.0 / len(head))


def balanced_factorization(product: torch.Tensor, widths: Sequence[int]) -> list[torch.Tensor]:
    """An exactly balanced chain W_1, …, W_m (forward order) with W_m ⋯ W_1 = ``product``.

    ``widths`` = [n_in, n_1, …, n_m] with n_m × n_in the product's shape. From
    the SVD product = U S Vᵀ (rank r): W_1 = Q_1 S^{1/m} Vᵀ, W_j = Q_j S^{1/m} Q_{j-1}ᵀ,
    W_m = U S^{1/m} Q_{m-1}ᵀ, with Q_j the first r columns of the identity in R^{n_j}.
    Then W_{j+1}ᵀ W_{j+1} = Q_j S^{2/m} Q_jᵀ = W_j W_jᵀ exactly (up to rounding).
    """
    A = _as64(product, "product")
    widths = list(widths)
    if len(widths) < 2 or (widths[-1], widths[0]) != tuple(A.shape):
        raise ValueError(f"widths must run from {A.shape[1]} to {A.shape[0]}, got {widths!r}")
    U, s, Vh = torch.linalg.svd(A, full_matrices=False)
    r = int((s > DEFAULT_RTOL * s[0]).sum())
    if min(widths[1:-1], default=r) < r:
        raise ValueError(f"every inner width must be >= rank(product) = {r}, got widths={widths!r}")
    m = len(widths) - 1
    root = torch.diag(s[:r] ** (1.0 / m))
    frames = [Vh[:r].T] + [torch.eye(n, r, dtype=A.dtype, device=A.device) for n in widths[1:-1]] + [U[:, :r]]
    return [frames[j + 1] @ root @ frames[j].T for j in range(m)]


def schatten_cost(singular: torch.Tensor, depth: int) -> float:
    """L2 · Σ_i s_i^{2/L2}: the least (λ/2-free) weight-decay cost ‖θ_head‖² of writing a
    matrix with singular values s as a product of ``depth`` = L2 matrices (reached by
    the balanced factorisation). For depth ≥ 2 each term s^{2/L2} is concave in s, so the
    cost rewards dropping small singular values (low rank), not equalising them."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    s = singular.detach().to(torch.float64)
    return float(depth * (s ** (2.0 / depth)).sum())


# ---------------------------------------------------------------- the head from the features before it


@dataclass(frozen=True)
class HeadFromFeatures:
    """Measured pieces of our bound on κ(W_{L:L1+1}) from the conditioning of Z_{L1}, and the bound.

    κ(W_{L:L1+1}) ≤ (κ(Z_{L1}) (s_1(Y) + ε) + δ s_max(Z_{L1})) / (s_K(Y) − ε)   when ε < s_K(Y),
    with ε = ‖Z_L − Y‖_op and δ = ‖W_{L:L1+1} P⊥‖_op, P⊥ the projector onto the directions the
    features Z_{L1} never take (δ = 0 at every critical point with weight decay > 0).
    """

    kappa_features: float  # κ(Z_{L1}) over its non-zero singular values (the abstract's quantity)
    features_rank: int  # how many singular values of Z_{L1} count as non-zero
    s_max_features: float  # s_max(Z_{L1})
    s_min_features: float  # smallest non-zero singular value of Z_{L1}
    kappa_top_features: float  # s_1 / s_K of Z_{L1}: its K largest singular values only (a diagnostic)
    kappa_head: float  # κ(W_{L:L1+1}), measured
    s_max_head: float  # s_1(W_{L:L1+1}), the scale against which ``leak`` is small or not
    eps: float  # ‖Z_L − Y‖_op, with Z_L = Z_{L1} W_{L:L1+1}ᵀ (rows)
    leak: float  # δ = ‖W_{L:L1+1} P⊥‖_op
    y_min: float  # s_K(Y) (√n for K balanced classes of n)
    y_max: float  # s_1(Y)
    bound: float  # inf when ε ≥ s_K(Y): the bound then says nothing


@torch.no_grad()
def head_from_features(
    features: torch.Tensor, head: Sequence[torch.Tensor], targets: torch.Tensor, rtol: float = DEFAULT_RTOL
) -> HeadFromFeatures:
    """Evaluate our bound on κ of the head's product from κ of the features before the head.

    ``features``: Z_{L1} as N×p rows; ``head``: the linear layers in forward order;
    ``targets``: the N×K one-hot matrix (Yᵀ in the book's column convention).
    """
    Z = _as64(features, "features")
    H = head_product(head).to(Z.device)
    Y = _as64(targets, "targets").to(Z.device)
    if H.shape[1] != Z.shape[1] or Y.shape != (Z.shape[0], H.shape[0]):
        raise ValueError(
            f"need features N×p, head product K×p and targets N×K; got {tuple(Z.shape)}, {tuple(H.shape)}, {tuple(Y.shape)}"
        )
    _, sigma, Vh = torch.linalg.svd(Z, full_matrices=False)
    if sigma[0] == 0:
        raise ValueError("features is the zero matrix: its conditioning is undefined")
    rank = int((sigma > rtol * sigma[0]).sum())
    V = Vh[:rank]  # an orthonormal basis of the span of the feature vectors (rows)
    leak = float(torch.linalg.matrix_norm(H - (H @ V.T) @ V, ord=2))
    eps = float(torch.linalg.matrix_norm(Z @ H.T - Y, ord=2))
    y = torch.linalg.svdvals(Y)
    y_max, y_min = float(y[0]), float(y[H.shape[0] - 1])
    s_max, s_min = float(sigma[0]), float(sigma[rank - 1])
    K = H.shape[0]
    kappa_top = s_max / float(sigma[K - 1]) if len(sigma) >= K and sigma[K - 1] > 0 else math.inf
    kappa_features = s_max / s_min
    margin = y_min - eps
    bound = (kappa_features * (y_max + eps) + leak * s_max) / margin if margin > 0 else math.inf
    return HeadFromFeatures(
        kappa_features=kappa_features,
        features_rank=rank,
        s_max_features=s_max,
        s_min_features=s_min,
        kappa_top_features=kappa_top,
        kappa_head=condition_number(H, rtol),
        s_max_head=float(torch.linalg.matrix_norm(H, ord=2)),
        eps=eps,
        leak=leak,
        y_min=y_min,
        y_max=y_max,
        bound=bound,
    )


# ---------------------------------------------------------------- gradient descent and balancedness


def data_gradients(model, data) -> list[torch.Tensor]:
    """G_ℓ = ∇_{W_ℓ} of the data term ½‖f(X) − Y‖²_F / N, for every layer, at the current weights."""
    data = data_for(model, data)
    fit = data_term(model(data.X), data.one_hot())
    return [g.detach() for g in torch.autograd.grad(fit, model.weights())]


def gd_balancedness_step(
    D: torch.Tensor, G_lower: torch.Tensor, G_upper: torch.Tensor, lr: float, weight_decay: float
) -> torch.Tensor:
    """The imbalance after one GD step on two consecutive *linear* layers:

        D⁺ = (1 − ηλ)² D + η² (G_upperᵀ G_upper − G_lower G_lowerᵀ),

    exact because W_upperᵀ G_upper = G_lower W_lowerᵀ when the pair is linear
    (both equal the gradient with respect to the product W_upper W_lower, pulled back).
    """
    G_lower, G_upper = _as64(G_lower, "G_lower"), _as64(G_upper, "G_upper")
    return (1 - lr * weight_decay) ** 2 * _as64(D, "D") + lr**2 * (G_upper.T @ G_upper - G_lower @ G_lower.T)


def imbalance_decay(lr: float, weight_decay: float, steps) -> torch.Tensor:
    """(1 − ηλ)^{2k}: the factor by which weight decay shrinks the imbalance in k GD steps
    when the η² gradient term is negligible (gradient flow: e^{−2λt}, t = ηk)."""
    k = torch.as_tensor(steps, dtype=torch.float64)
    return (1 - lr * weight_decay) ** (2 * k)


# ---------------------------------------------------------------- NC1 from interpolation and balancedness


@dataclass(frozen=True)
class NC1Bound:
    """The measured pieces of our NC1 bound for the penultimate layer, and the bound."""

    eps1: float  # ‖Z_L − Y‖_F, interpolation error
    eps2: float  # ‖W_Lᵀ W_L − W_{L-1} W_{L-1}ᵀ‖_op, balancedness of the last pair
    s_max: float  # largest singular value of W_L
    s_min: float  # smallest non-zero singular value of W_L
    within_prev: float  # ‖Z_{L-2} − its class means‖_F, within-class spread one layer down
    per_class: int  # n
    num_classes: int  # K
    bound: float  # inf when eps1 ≥ √(n(K−1)): the bound then says nothing
    nc1: float  # the measured NC1(Z_{L-1})


def nc1_bound(eps1, eps2, s_max, s_min, within_prev, per_class, num_classes) -> float:
    """Our bound NC1(Z_{L-1}) ≤ (s_max²/n) (ε1/s_min + √ε2 · w)² / (√(K−1) − ε1/√n)².

    Holds for any network whose last two layers are linear (L2 ≥ 2), with balanced
    classes of n samples; w = ``within_prev``. With ε1 = ε2 = 0 it gives exact NC1.
    Proof in the book's chapter on the generic guarantees.
    """
    for name, value in [("eps1", eps1), ("eps2", eps2), ("within_prev", within_prev)]:
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    if not (s_max >= s_min > 0):
        raise ValueError(f"need s_max >= s_min > 0, got s_max={s_max!r}, s_min={s_min!r}")
    margin = math.sqrt(num_classes - 1) - eps1 / math.sqrt(per_class)
    if margin <= 0:
        return math.inf
    return (s_max**2 / per_class) * (eps1 / s_min + math.sqrt(eps2) * within_prev) ** 2 / margin**2


@torch.no_grad()
def nc1_bound_for(model, data) -> NC1Bound:
    """Measure ε1, ε2 and the other pieces on ``model`` and ``data``; evaluate the bound and NC1."""
    from .metrics import nc1

    if model.L2 < 2:
        raise ValueError(f"the NC1 bound needs at least two linear layers at the end (L2 >= 2), got L2={model.L2}")
    data = data_for(model, data)
    X, Y, y = data.X, data.one_hot(), data.y
    Z = [X] + [out.post for out in model.features(X)]  # Z_0 = X, Z_1, …, Z_L
    Z_prev, Z_pen, Z_out = (z.to(torch.float64) for z in Z[-3:])
    W_lower, W_last = model.weights()[-2], model.weights()[-1]
    s = singular_values(W_last)
    s_nonzero = s[s > DEFAULT_RTOL * s[0]]
    within_prev = float((Z_prev - class_means(Z_prev, y, data.num_classes)[y]).norm())
    eps1 = float((Z_out - Y.to(torch.float64)).norm())
    eps2 = float(torch.linalg.eigvalsh(imbalance(W_lower, W_last)).abs().max())
    pieces = dict(
        eps1=eps1,
        eps2=eps2,
        s_max=float(s[0]),
        s_min=float(s_nonzero[-1]),
        within_prev=within_prev,
        per_class=data.num_samples // data.num_classes,
        num_classes=data.num_classes,
    )
    return NC1Bound(**pieces, bound=nc1_bound(**pieces), nc1=nc1(Z_pen, y, data.num_classes))
