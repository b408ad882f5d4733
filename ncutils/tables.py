"""Tables a notebook shows: the per-layer report, and the assumption / conclusion checks.

Numbers are rounded to a few significant digits, so that a printed table is the
same on every run (nbval compares it) and easy to read.
"""

from __future__ import annotations

import math

import numpy as np


def significant(value, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, as text ('—' for None, 'inf' for ∞)."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "NO"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return _stable_g(value, digits)
    return str(value)


BOUNDARY = 1e-12  # relative: how close to a rounding boundary a value may lie and still be shown at its digits


def _stable_g(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, or to more where it lies within ``BOUNDARY``
    (relative) of a rounding boundary: 21.725 computed as 21.7249999… on one CPU and 21.7250…01
    on another would print as 21.72 and 21.73; both print as 21.725."""
    for shown in range(digits, 18):
        low, high = f"{value * (1 - BOUNDARY):.{shown}g}", f"{value * (1 + BOUNDARY):.{shown}g}"
        if low == high:
            return low
    return f"{value:.17g}"


def below(value, bound: float, digits: int = 2) -> str:
    """A quantity at the noise floor shown as the bound it meets: ``'< 1e-10'`` when ``value < bound``.

    Its own digits (1.1e-16 on one CPU, 5.6e-17 on another) say nothing but which kernels summed
    it, and nbval compares what a notebook prints. A value that misses the bound is shown as
    itself (``digits`` significant digits), so a failing check still says by how much."""
    if not isinstance(bound, (int, float)) or not bound > 0:
        raise ValueError(f"bound must be a positive number, got {bound!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"value is NaN (bound {bound:g})")
    return f"< {bound:g}" if abs(value) < bound else significant(value, digits)


def format_report(report: dict, columns=None, digits: int = 4):
    """The collapse report as a pandas DataFrame indexed by layer, rounded to ``digits`` significant digits."""
    import pandas as pd

    frame = pd.DataFrame(report)
    if columns is not None:
        frame = frame[list(columns)]
    rounded = frame.map(lambda v: float(_stable_g(v, digits)) if isinstance(v, float) and math.isfinite(v) else v)
    return rounded.set_index("layer") if "layer" in rounded.columns else rounded


def table(header, rows, digits: int = 3):
    """``rows`` under the column names ``header`` as a DataFrame indexed by its first column, every
    number rounded to ``digits`` significant digits (booleans as yes/NO). A notebook shows it as an
    HTML table that fits the book's column (and scrolls inside itself on a phone), where a printed
    fixed-width table would run off the page; rows are named by the first column, with no numeric
    index to take up a phone's width."""
    import pandas as pd

    header = list(header)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"every row needs {len(header)} values ({header}), got {len(row)}: {row!r}")
    frame = pd.DataFrame([[significant(v, digits) for v in row] for row in rows], columns=header)
    return frame.set_index(header[0])


def assumption_table(rows, digits: int = 3):
    """Rows (assumption, measured value, holds?) as a table; ``holds`` is a bool."""
    for row in rows:
        if len(row) != 3 or not isinstance(row[2], (bool, np.bool_)):
            raise ValueError(f"each row must be (assumption, measured, holds: bool), got {row!r}")
    return table(["assumption", "measured", "holds?"], rows, digits)


def conclusion_table(rows, digits: int = 3):
    """Rows (quantity, bound or prediction, measured, inside?) as a table; ``inside`` is a bool."""
    for row in rows:
        if len(row) != 4 or not isinstance(row[3], (bool, np.bool_)):
            raise ValueError(f"each row must be (quantity, bound, measured, inside: bool), got {row!r}")
    return table(["quantity", "bound or prediction", "measured", "inside?"], rows, digits)
