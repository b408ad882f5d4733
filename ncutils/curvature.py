"""Curvature of the training objective: sharpness and the neural tangent kernel's norm.

Both are top eigenvalues of operators too large to form, found by power iteration
on matrix-free products (Hessian-vector and Jacobian-vector products). Gradient
descent with step η is stable near a minimum only if the sharpness is at most 2/η
("edge of stability"); for the square loss the sharpness is close to the top
eigenvalue of the Gauss–Newton matrix JᵀJ/N, whose non-zero spectrum is that of the
NTK Θ = J Jᵀ divided by N.
"""

from __future__ import annotations

import torch
from torch.func import functional_call, jvp, vjp

from .models import data_for
from .steps import objective


def _power_iteration(apply, start: torch.Tensor, iters: int, tol: float) -> float:
    """Largest-magnitude eigenvalue of a symmetric operator, by power iteration from ``start``."""
    if not isinstance(iters, int) or iters < 1:
        raise ValueError(f"iters must be a positive int, got {iters!r}")
    v = start / start.norm()
    value = 0.0
    for _ in range(iters):
        w = apply(v)
        new_value = float((v * w).sum())  # Rayleigh quotient
        norm = w.norm()
        if norm == 0:
            return 0.0
        v = w / norm
        if abs(new_value - value) <= tol * abs(new_value):
            return new_value
        value = new_value
    return value


def _inputs(model, data):
    data = data_for(model, data)
    return data.X, data.one_hot()


def sharpness(model, data, weight_decay: float = 0.0, iters: int = 200, tol: float = 1e-7, seed: int = 0) -> float:
    """Top eigenvalue of the Hessian of L_λ = ½‖f(X) − Y‖²_F/N + (λ/2)‖θ‖² at the current weights.

    Power iteration on Hessian-vector products (double backpropagation), from a
    start vector drawn with its own seeded generator (the global RNG is untouched).
    Near a minimum the Hessian's largest-magnitude eigenvalue is its top one.
    """
    params = [p for p in model.parameters()]
    X, Y = _inputs(model, data)
    loss, _ = objective(model, X, Y, weight_decay)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    start = torch.cat([torch.randn(p.numel(), generator=generator, dtype=torch.float64) for p in params])
    start = start.to(params[0].device, params[0].dtype)
    sizes = [p.numel() for p in params]

    def hessian_times(v):
        pieces = [piece.view_as(p) for piece, p in zip(v.split(sizes), params)]
        products = torch.autograd.grad(grads, params, grad_outputs=pieces, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in products])

    return _power_iteration(hessian_times, start, iters, tol)


def ntk_norm(model, data, iters: int = 200, tol: float = 1e-7, seed: int = 0) -> float:
    """‖Θ‖_op for the NTK Θ = J Jᵀ, J the Jacobian of all N·K outputs with respect to all weights.

    Power iteration on u ↦ J (Jᵀ u) with a vector-Jacobian then a Jacobian-vector
    product. With our objective's 1/N, the Gauss–Newton part of the sharpness is ‖Θ‖_op / N.
    """
    X, _ = _inputs(model, data)
    params = {name: p.detach() for name, p in model.named_parameters()}

    def outputs(p):
        return functional_call(model, p, (X,))

    out, pullback = vjp(outputs, params)
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(out.shape, generator=generator, dtype=torch.float64).to(out.device, out.dtype)

    def ntk_times(u):
        (tangent,) = pullback(u)
        return jvp(outputs, (params,), (tangent,))[1]

    return _power_iteration(ntk_times, start, iters, tol)
