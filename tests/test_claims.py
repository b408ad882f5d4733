"""Claims tables (the row is the assert), seeds from one place, and the spread over seeds."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ncutils as nc


def three_claims():
    claims = nc.Claims()
    claims.check("recursion", "recursion error", "<", 1e-12)
    claims.empirical("flatter", "S(1.6)/S(0.2), largest seed", "<", 0.8)
    claims.empirical("balanced", "imbalance of the large-η runs", "<", 0.01, expect=False, why="large η unbalances")
    return claims


def test_stated_table_shows_thresholds_before_any_data():
    stated = three_claims().stated().reset_index().to_dict("list")
    assert stated == {
        "claim": ["recursion error", "S(1.6)/S(0.2), largest seed", "imbalance of the large-η runs"],
        "kind": ["check", "empirical", "empirical"],
        "holds if": ["< 1e-12", "< 0.8", "< 0.01"],
        "expected to hold?": ["yes", "yes", "no: large η unbalances"],
    }


def test_table_shows_every_row_and_a_noise_level_check_as_its_bound():
    claims = three_claims()
    claims.record("recursion", 3.3e-16)
    claims.record("flatter", 0.61)
    claims.record("balanced", 0.12)
    shown = claims.table().reset_index().to_dict("list")
    assert shown["measured"] == ["< 1e-12", "0.61", "0.12"]
    assert shown["holds?"] == ["yes", "yes", "no, as expected: large η unbalances"]


def test_a_check_against_a_tiny_lower_bound_shows_the_bound_not_the_noise():
    claims = nc.Claims()
    claims.check("floor", "no head costs less than its minimum: smallest ratio − 1", ">", -1e-12)
    claims.record("floor", 8.9e-16)
    assert claims.table().reset_index()["measured"].tolist() == ["> -1e-12"]


def test_a_value_far_below_its_threshold_shows_as_a_bound_whatever_the_threshold():
    claims = nc.Claims()
    claims.empirical("balanced", "head cost over its minimum − 1", "<", 1e-3)
    claims.check("identity", "κ(W_L) against κ(prod)^(1/L2)", "<", 0.01)
    claims.record("balanced", 8.88e-16)
    claims.record("identity", 2.3e-9)
    assert claims.table().reset_index()["measured"].tolist() == ["< 1e-06", "< 1e-06"]
    exact = nc.Claims()
    exact.check("zero", "λ_F below the width N", "<=", 0)
    exact.record("zero", 0.0)
    assert exact.table().reset_index()["measured"].tolist() == ["0"]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [("flatter", 0.9, "flatter .*measured 0.9, holds if < 0.8"), ("balanced", 0.001, "expected not to hold")],
)
def test_a_row_that_does_not_read_as_stated_fails_the_table(key, value, reason):
    claims = three_claims()
    values = {"recursion": 0.0, "flatter": 0.5, "balanced": 0.5, key: value}
    for name, measured in values.items():
        claims.record(name, measured)
    with pytest.raises(nc.ClaimFailed, match=reason):
        claims.table()


def test_claims_must_be_stated_before_they_are_measured_and_measured_once():
    claims = three_claims()
    with pytest.raises(KeyError, match="never stated"):
        claims.record("sharper", 1.0)
    claims.record("flatter", 0.5)
    with pytest.raises(ValueError, match="measured already"):
        claims.record("flatter", 0.4)
    with pytest.raises(nc.ClaimFailed, match="never measured: recursion, balanced"):
        claims.table()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (lambda c: c.empirical("x", "a", "≈", 1.0), "op must be one of"),
        (lambda c: c.empirical("x", "a", "<", math.nan), "threshold must be finite"),
        (lambda c: c.empirical("x", "a", "<", "1"), "threshold must be a number"),
        (lambda c: c.empirical("x", "a", "is", 1.0), "op 'is' takes threshold True"),
        (lambda c: c.empirical("x", "", "<", 1.0), "statement of 'x'"),
        (lambda c: c.empirical("x", "a", "<", 1.0, expect=False), "say why"),
        (lambda c: c.check("recursion", "again", "<", 1.0), "stated twice"),
    ],
)
def test_a_badly_stated_claim_is_one_clear_error(state, message):
    with pytest.raises(ValueError, match=message):
        state(three_claims())


def test_a_measured_value_must_be_a_number_or_a_bool_as_stated():
    claims = nc.Claims()
    claims.empirical("diverge", "every η from 2.2 diverges or stops fitting", "is", True)
    claims.empirical("ratio", "a ratio", "<", 1.0)
    with pytest.raises(ValueError, match="needs a bool"):
        claims.record("diverge", 1)
    with pytest.raises(ValueError, match="NaN"):
        claims.record("ratio", math.nan)
    with pytest.raises(ValueError, match="needs a number"):
        claims.record("ratio", True)
    claims.record("diverge", np.bool_(True))
    claims.record("ratio", np.float32(0.5))
    assert claims.table().reset_index()["measured"].tolist() == ["yes", "0.5"]


@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6),
    thresholds=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=6, max_size=6),
    ops=st.lists(st.sampled_from(["<", "<=", ">", ">="]), min_size=6, max_size=6),
    expects=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_the_table_raises_exactly_when_a_row_disagrees_with_its_expectation(values, thresholds, ops, expects):
    claims = nc.Claims()
    disagree = []
    for i, value in enumerate(values):
        claims.empirical(f"c{i}", f"claim {i}", ops[i], thresholds[i], expect=expects[i], why="stated so")
        claims.record(f"c{i}", value)
        holds = {"<": value < thresholds[i], "<=": value <= thresholds[i], ">": value > thresholds[i]}.get(
            ops[i], value >= thresholds[i]
        )
        if holds != expects[i]:
            disagree.append(f"c{i}")
    if disagree:
        with pytest.raises(nc.ClaimFailed) as failure:
            claims.table()
        assert [line.split()[0] for line in str(failure.value).splitlines()[1:]] == disagree
    else:
        claims.table()


def test_every_row_shown_goes_to_the_claims_log(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("NCUTILS_CLAIMS_LOG", str(log))
    monkeypatch.setenv("NCUTILS_SEED_OFFSET", "100")
    claims = three_claims()
    for name, value in {"recursion": 0.0, "flatter": 0.9, "balanced": 0.5}.items():
        claims.record(name, value)
    with pytest.raises(nc.ClaimFailed):
        claims.table()  # the log is written before the failure, so a breaking claim is still reported
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["key"], r["kind"], r["holds"], r["seed_offset"]) for r in rows] == [
        ("recursion", "check", True, 100),
        ("flatter", "empirical", False, 100),
        ("balanced", "empirical", False, 100),
    ]


def test_seeds_move_together_with_the_offset(monkeypatch):
    monkeypatch.delenv("NCUTILS_SEED_OFFSET", raising=False)
    assert nc.seeds(5) == [0, 1, 2, 3, 4] and nc.seeds(1, start=100) == [100]
    monkeypatch.setenv("NCUTILS_SEED_OFFSET", "1000")
    assert nc.seeds(3) == [1000, 1001, 1002] and nc.seed_offset() == 1000
    for bad in ("-1", "two", "1.5"):
        monkeypatch.setenv("NCUTILS_SEED_OFFSET", bad)
        with pytest.raises(ValueError, match="NCUTILS_SEED_OFFSET must be a non-negative int"):
            nc.seeds(2)
    monkeypatch.delenv("NCUTILS_SEED_OFFSET")
    with pytest.raises(ValueError, match="count must be a positive int"):
        nc.seeds(0)
    with pytest.raises(ValueError, match="start must be a non-negative int"):
        nc.seeds(2, start=-3)


def test_spread_is_the_t_interval_of_the_mean():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    s = nc.spread(values)
    # naive reference: mean 3, sample sd sqrt(2.5), t_{0.975, 4} = 2.7764451051977987
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert s.mean == 3.0 and math.isclose(s.low, 3 - half, rel_tol=1e-12) and math.isclose(s.high, 3 + half)
    assert (s.count, s.positive) == (5, 5)
    assert str(s) == "3 (95% interval 1 to 5; > 0 in 5 of 5 seeds)"
    with pytest.raises(ValueError, match="at least 2"):
        nc.spread([1.0])
    with pytest.raises(ValueError, match="finite"):
        nc.spread([1.0, math.inf])
    with pytest.raises(ValueError, match="level"):
        nc.spread(values, level=1.0)


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12), st.floats(0.5, 0.99))
def test_spread_interval_holds_the_mean_and_widens_with_the_level(values, level):
    s = nc.spread(values, level)
    assert s.low <= s.mean <= s.high
    assert nc.spread(values, min(level + 0.009, 0.999)).high >= s.high - 1e-9 * (1 + abs(s.high))
