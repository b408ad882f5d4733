"""The block Krylov operator norm (ncutils.spectral) against matrices whose spectrum is planted.

Reference: the float64 SVD of the very matrix passed in (a float32 matrix is exact in float64).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ncutils as nc
from ncutils import spectral
from ncutils.spectral import top_singular_value


def planted(rows, cols, values, seed, dtype=torch.float64):
    """U diag(values) Vᵀ with random orthonormal U (rows × r) and V (cols × r)."""
    g = torch.Generator().manual_seed(seed)
    r = len(values)
    U = torch.linalg.qr(torch.randn(rows, r, generator=g, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(cols, r, generator=g, dtype=torch.float64))[0]
    return ((U * torch.tensor(values, dtype=torch.float64)) @ V.T).to(dtype)


def exact(A):
    return float(torch.linalg.svdvals(A.to(torch.float64))[0])


SPECTRA = {
    "decaying": lambda r: [0.9**i for i in range(r)],
    "ten tied on top": lambda r: [1.0] * 10 + [0.5 * 0.95**i for i in range(r - 10)],
    "near tie 1e-9": lambda r: [1.0, 1.0 - 1e-9] + [0.3] * (r - 2),
    "near tie 1e-4": lambda r: [1.0, 1.0 - 1e-4] + [0.99 * 0.97**i for i in range(r - 2)],
    "flat": lambda r: [1.0 + 1e-3 * math.sin(i) for i in range(r)],
    "rank two": lambda r: [2.0, 1.0],
}


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(spectral.DIRECT_BELOW + 1, 400),
    cols=st.integers(spectral.DIRECT_BELOW + 1, 160),
    spectrum=st.sampled_from(sorted(SPECTRA)),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    scale=st.sampled_from([1e-6, 1.0, 1e6]),
    seed=st.integers(0, 2**16),
)
def test_top_singular_value_is_float64_accurate_on_planted_spectra(rows, cols, spectrum, dtype, scale, seed):
    """Float64 accuracy whatever the gap (ties, near-ties, flat spectra), the scale and the
    precision of A; the value is a Rayleigh quotient, so never above σ_1 (beyond rounding); the
    reported bound covers the actual error.

    Reproduce: python -m pytest tests/test_spectral.py -k planted
    """
    r = min(rows, cols, 60)
    A = planted(rows, cols, [scale * s for s in SPECTRA[spectrum](r)], seed, dtype)
    result = top_singular_value(A)
    reference = exact(A)
    error = abs(result.value - reference) / reference
    assert error <= 1e-10, (result, reference)
    assert result.value <= reference * (1 + 1e-13)
    assert (reference**2 - result.value**2) / reference**2 <= 10 * result.error_bound + 1e-14
    # the float32 Krylov certifies itself, or float64 products take over (a near-tie there can leave
    # the one-vector certificate above TOL, though the value is exact: the float64 basis fills the space)
    assert result.error_bound <= spectral.TOL or result.float64_iterations > 0
    assert 1 <= result.iterations <= math.ceil(min(rows, cols) / spectral.BLOCK) + 1


def test_wide_matrix_has_the_norm_of_its_transpose():
    A = planted(90, 300, [3.0, 2.0, 1.0], seed=1)
    assert top_singular_value(A).value == pytest.approx(top_singular_value(A.T).value, rel=1e-13)
    assert top_singular_value(A).value == pytest.approx(3.0, rel=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rank_one_and_zero_matrices(dtype):
    u, v = torch.arange(1.0, 301.0, dtype=torch.float64), torch.linspace(-1, 2, 100, dtype=torch.float64)
    A = torch.outer(u, v).to(dtype)
    assert top_singular_value(A).value == pytest.approx(exact(A), rel=1e-12)
    assert top_singular_value(A).value == pytest.approx(float(u.norm() * v.norm()), rel=1e-6)
    assert top_singular_value(torch.zeros(300, 100, dtype=dtype)).value == 0.0


def test_collapsed_features_of_an_orthogonal_frame():
    """Exactly collapsed features on an orthogonal frame: K equal singular values √(N/K)·‖μ‖, which
    a float32 Krylov cannot separate; the float64 certificate sends it to float64 products."""
    K, per_class, p = 10, 600, 512
    frame = 2.0 * torch.linalg.qr(torch.randn(p, K, dtype=torch.float64))[0].T
    Z = frame.repeat_interleave(per_class, 0).float()
    result = top_singular_value(Z)
    assert result.value == pytest.approx(exact(Z), rel=1e-12)
    assert result.value == pytest.approx(2.0 * math.sqrt(per_class), rel=1e-6)  # the frame, up to float32 rounding
    assert result.float64_iterations >= 1


def test_network_like_features_take_the_fast_path():
    """Class means plus noise (the benchmark's features, smaller): float32 Krylov alone certifies."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(10).repeat_interleave(500)
    Z = torch.randn(10, 256, generator=g)[y] + 0.5 * torch.randn(len(y), 256, generator=g)
    for A in (Z, Z.clamp(max=0)):
        result = top_singular_value(A)
        assert result.float64_iterations == 0 and result.iterations <= 6
        assert result.value == pytest.approx(exact(A), rel=1e-10)


def test_small_matrices_take_the_exact_svd():
    A = planted(200, spectral.DIRECT_BELOW, [5.0, 1.0], seed=2)
    result = top_singular_value(A)
    assert (result.iterations, result.float64_iterations) == (0, 0)
    assert result.value == pytest.approx(5.0, rel=1e-14)


@pytest.mark.parametrize("rows", [30, 3000])  # the exact SVD and the Krylov method
def test_negative_part_equals_the_clamped_matrix(rows):
    A = torch.randn(rows, 100, generator=torch.Generator().manual_seed(4)) + 0.3
    # the documented accuracy: 5e-11 on each norm (spectral.TOL = 1e-10 on its square)
    assert top_singular_value(A, negative_part=True).value == pytest.approx(exact(A.clamp(max=0)), rel=1e-10)
    assert nc.negativity(A) == pytest.approx(exact(A.clamp(max=0)) / exact(A), rel=1e-10)


def test_same_answer_every_call_and_through_operator_norm():
    A = planted(500, 120, SPECTRA["decaying"](60), seed=3, dtype=torch.float32)
    assert top_singular_value(A) == top_singular_value(A)
    assert nc.operator_norm(A) == top_singular_value(A).value
    assert nc.operator_norm(A.numpy()) == top_singular_value(A).value
