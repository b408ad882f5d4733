"""Printed tables: rounding and the row checks."""

import math

import pytest

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
