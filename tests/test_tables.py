"""Printed tables: rounding and the row checks."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ncutils as nc


def test_significant_digits():
    assert nc.significant(0.0123456) == "0.0123"
    assert nc.significant(123456.0, 2) == "1.2e+05"
    assert nc.significant(None) == "—"
    assert nc.significant(True) == "yes" and nc.significant(False) == "NO"
    assert nc.significant(math.inf) == "inf"
    assert nc.significant(7) == "7"


def test_assumption_and_conclusion_tables():
    table = nc.assumption_table([("n1 >= N", 160, True), ("σ' >= γ", 0.1000001, True)])
    assert table.index.name == "assumption"
    assert table.reset_index().to_dict("list") == {
        "assumption": ["n1 >= N", "σ' >= γ"],
        "measured": ["160", "0.1"],
        "holds?": ["yes", "yes"],
    }
    table = nc.conclusion_table([("NC1", 0.0190, 0.0102, True)])
    assert table.index.tolist() == ["NC1"] and list(table.iloc[0]) == ["0.019", "0.0102", "yes"]
    with pytest.raises(ValueError, match="holds: bool"):
        nc.assumption_table([("x", 1.0, 1)])
    with pytest.raises(ValueError, match="inside: bool"):
        nc.conclusion_table([("x", 1.0, 2.0)])


def test_format_report_rounds_and_indexes_by_layer():
    report = {"layer": [1, 2], "kind": ["nonlinear", "linear"], "nc1": [0.123456, math.inf], "nc3": [None, 0.987654]}
    frame = nc.format_report(report, digits=3)
    assert list(frame.index) == [1, 2]
    assert frame.loc[1, "nc1"] == 0.123 and frame.loc[2, "nc1"] == math.inf
    assert frame.loc[2, "nc3"] == 0.988


def test_tables_accept_numpy_booleans_and_numbers():
    """Reproduce: python -m pytest tests/test_tables.py -k numpy"""
    import numpy as np

    table = nc.assumption_table([("a", np.float64(0.5), np.bool_(True)), ("b", np.int64(3), np.float64(2.0) > 3)])
    assert table["holds?"].tolist() == ["yes", "NO"] and table["measured"].tolist() == ["0.5", "3"]
    assert nc.conclusion_table([("q", 1.0, np.float32(0.25), np.bool_(False))])["inside?"].tolist() == ["NO"]


def test_a_general_table_rounds_indexes_and_checks_its_rows():
    frame = nc.table(["lambda", "NC1", "rank", "collapsed?"], [(0.0, 0.123456, 4, False), (0.01, 1.5e-7, 4, True)])
    assert list(frame.columns) == ["NC1", "rank", "collapsed?"] and frame.index.name == "lambda"
    assert frame.loc["0.01"].tolist() == ["1.5e-07", "4", "yes"]
    assert frame.loc["0"].tolist() == ["0.123", "4", "NO"]
    with pytest.raises(ValueError, match="every row needs 4 values"):
        nc.table(["a", "b", "c", "d"], [(1, 2, 3)])


def test_a_value_on_a_rounding_boundary_gets_one_digit_more():
    """21.725 computed as 21.72499999999 on one CPU and 21.72500000001 on another printed as 21.72 and
    21.73 (conditioning_near_optimal, issue 21); both sides of a boundary now print alike."""
    for value, digits, shown in [(21.725, 4, "21.725"), (0.125, 2, "0.125"), (2.5, 1, "2.5"), (-3.45, 2, "-3.45")]:
        for relative in (-1e-14, 0.0, 1e-14):
            assert nc.significant(value * (1 + relative), digits) == shown, (value, relative)
    assert nc.significant(21.7263, 4) == "21.73"  # away from a boundary: the digits asked for
    assert nc.format_report({"layer": [1], "nc1": [21.725 * (1 - 1e-14)]}, digits=4)["nc1"].iloc[0] == 21.725


@given(
    digits=st.integers(1, 6),
    mantissa=st.integers(1, 9_999_999),
    exponent=st.integers(-30, 30),
    left=st.floats(-1e-13, 1e-13),
    right=st.floats(-1e-13, 1e-13),
)
def test_both_sides_of_any_rounding_boundary_print_alike(digits, mantissa, exponent, left, right):
    """Property: a value within 1e-13 (relative) of the midpoint between two printed values of
    ``digits`` digits prints the same whichever side it falls on."""
    leading = mantissa % 10 ** (digits - 1) + 10 ** (digits - 1) if digits > 1 else mantissa % 9 + 1
    boundary = (leading + 0.5) * 10.0 ** (exponent - digits)
    assert nc.significant(boundary * (1 + left), digits) == nc.significant(boundary * (1 + right), digits)


@given(value=st.floats(allow_nan=False, allow_infinity=False, width=64), digits=st.integers(1, 8))
def test_significant_keeps_at_least_its_digits_and_the_value(value, digits):
    """Property: the text reads back as the value, to half a unit of its last shown digit."""
    text = nc.significant(value, digits)
    back = float(text)
    assert abs(back - value) <= 0.5 * 10 ** (1 - digits) * abs(value) * (1 + 1e-9) + 1e-300


def test_below_prints_the_bound_a_noise_level_value_meets():
    assert nc.below(1.11e-16, 1e-10) == "< 1e-10" and nc.below(-5.55e-17, 1e-10) == "< 1e-10"
    assert nc.below(0.0, 1e-14) == "< 1e-14"
    assert nc.below(3.2e-9, 1e-10) == "3.2e-09"  # a missed bound shows by how much
    with pytest.raises(ValueError, match="bound must be a positive number, got 0"):
        nc.below(1e-16, 0)
    with pytest.raises(ValueError, match="value is NaN"):
        nc.below(math.nan, 1e-10)
