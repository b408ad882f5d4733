"""Which seeds a notebook trains, and the spread of a quantity over them.

Every notebook takes its seeds from :func:`seeds`, so one environment variable,
``NCUTILS_SEED_OFFSET``, moves all of them at once: the test suite re-runs the notebooks
under two other offsets and checks that their empirical claims still hold
(``tests/test_claims_other_seeds.py``).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

SEED_OFFSET_VARIABLE = "NCUTILS_SEED_OFFSET"


def seed_offset() -> int:
    """The offset added to every seed: ``NCUTILS_SEED_OFFSET`` (a non-negative int), or 0."""
    value = os.environ.get(SEED_OFFSET_VARIABLE, "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise ValueError(f"{SEED_OFFSET_VARIABLE} must be a non-negative int, got {value!r}")
    return int(value)


def seeds(count: int, start: int = 0) -> list[int]:
    """``count`` seeds, ``start``, ``start + 1``, … moved by :func:`seed_offset`.

    A notebook writes ``SEEDS = nc.seeds(5)`` and a data seed ``nc.seeds(1, start=100)[0]``;
    with no offset set these are 0–4 and 100."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ValueError(f"start must be a non-negative int, got {start!r}")
    offset = seed_offset()
    return [offset + start + i for i in range(count)]


@dataclasses.dataclass(frozen=True)
class Spread:
    """A quantity over seeds: its mean, a t interval of the mean, and how many seeds are above 0."""

    mean: float
    low: float
    high: float
    count: int
    positive: int
    level: float

    def __str__(self) -> str:
        from .tables import significant

        return (
            f"{significant(self.mean, 2)} ({self.level:.0%} interval {significant(self.low, 2)} to "
            f"{significant(self.high, 2)}; > 0 in {self.positive} of {self.count} seeds)"
        )


def spread(values, level: float = 0.95) -> Spread:
    """Mean of ``values`` (one per seed) with a Student-t interval of the mean at ``level``.

    A trend is stated from it as "falls in every seed" (``positive == count`` for the drop) or
    "falls on average by ``mean`` (interval ``low`` to ``high``)" when the interval excludes 0."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"values must be one number per seed, at least 2 of them, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"values must be finite, got {values.tolist()}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + level / 2, values.size - 1)) * float(values.std(ddof=1)) / math.sqrt(values.size)
    return Spread(mean, mean - half, mean + half, int(values.size), int((values > 0).sum()), level)
