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
        return f"{value:.{digits}g}"
    return str(value)


def format_report(report: dict, columns=None, digits: int = 4):
    """The collapse report as a pandas DataFrame indexed by layer, rounded to ``digits`` significant digits."""
    import pandas as pd

    frame = pd.DataFrame(report)
    if columns is not None:
        frame = frame[list(columns)]
    rounded = frame.map(lambda v: float(f"{v:.{digits}g}") if isinstance(v, float) and math.isfinite(v) else v)
    return rounded.set_index("layer") if "layer" in rounded.columns else rounded


def _table(header, rows, digits):
    """A DataFrame indexed by its first column: a notebook shows it as an HTML table whose rows are
    named by that column (no numeric index to take up a phone's width)."""
    import pandas as pd

    frame = pd.DataFrame([[significant(v, digits) for v in row] for row in rows], columns=header)
    return frame.set_index(header[0])


def assumption_table(rows, digits: int = 3):
    """Rows (assumption, measured value, holds?) as a table; ``holds`` is a bool."""
    for row in rows:
        if len(row) != 3 or not isinstance(row[2], (bool, np.bool_)):
            raise ValueError(f"each row must be (assumption, measured, holds: bool), got {row!r}")
    return _table(["assumption", "measured", "holds?"], rows, digits)


def conclusion_table(rows, digits: int = 3):
    """Rows (quantity, bound or prediction, measured, inside?) as a table; ``inside`` is a bool."""
    for row in rows:
        if len(row) != 4 or not isinstance(row[3], (bool, np.bool_)):
            raise ValueError(f"each row must be (quantity, bound, measured, inside: bool), got {row!r}")
    return _table(["quantity", "bound or prediction", "measured", "inside?"], rows, digits)
