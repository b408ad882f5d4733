"""A notebook's claims: stated with their thresholds before the data are shown, checked when shown.

Two kinds, told apart in every table:

- a **check** is an identity or an implementation check (a recursion to 1e-12, a known answer,
  a bound against the number it bounds): strict, and no evidence for the paper;
- an **empirical** claim is what a run shows about training (a trend over seeds, a threshold
  crossed), with a threshold chosen from the theory or from an earlier, stated run.

The row of the table *is* the assert: :meth:`Claims.table` shows every row and raises
:class:`ClaimFailed` if any row does not read as stated, so a "holds?" column cannot disagree
with a check. A row stated with ``expect=False`` must read "no", and says why.

With ``NCUTILS_CLAIMS_LOG`` set to a file, every row shown is also appended to it as a line of
JSON (before any failure is raised): the suite reads it to report which claims break under
other seeds (``tests/test_claims_other_seeds.py``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import os

import numpy as np

from .seeds import seed_offset
from .tables import below, significant, table

CLAIMS_LOG_VARIABLE = "NCUTILS_CLAIMS_LOG"
KINDS = ("check", "empirical")
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SHOWN_AS_BOUND = 1e-6  # a value (or a check's threshold) this small is noise: shown as the bound it meets


class ClaimFailed(AssertionError):
    """A row of a claims table that does not read as it was stated."""


@dataclasses.dataclass
class Claim:
    """One row: what is claimed, its kind, the rule ``measured op threshold``, and what was measured."""

    key: str
    statement: str
    kind: str
    op: str
    threshold: float | bool
    expect: bool = True
    why: str = ""
    measured: float | bool | None = None

    @property
    def measured_yet(self) -> bool:
        return self.measured is not None

    @property
    def holds(self) -> bool:
        if self.op == "is":
            return self.measured is True
        return bool(_COMPARE[self.op](self.measured, self.threshold))

    def rule(self) -> str:
        return "yes" if self.op == "is" else f"{self.op} {significant(float(self.threshold), 3)}"

    def shown_measured(self, digits: int) -> str:
        if self.op == "is":
            return significant(self.measured)
        small = self.kind == "check" and 0 < abs(self.threshold) <= _SHOWN_AS_BOUND
        if small and self.op in ("<", "<="):
            return below(self.measured, self.threshold, digits)
        if small and self.holds:  # e.g. "> -1e-12": the value itself is rounding noise
            return f"{self.op} {self.threshold:g}"
        if self.measured == 0:
            return "0"  # exactly zero (a rank deficit, an empty set): no noise to hide
        if self.op in ("<", "<=") and self.holds and abs(self.measured) < _SHOWN_AS_BOUND:
            return below(self.measured, _SHOWN_AS_BOUND)  # far below its threshold: its digits are noise
        return significant(float(self.measured), digits)

    def verdict(self) -> str:
        if self.expect:
            return "yes" if self.holds else "NO"
        return "yes, expected no" if self.holds else f"no, as expected: {self.why}"


class Claims:
    """The claims of one part of a notebook, in the order they are stated.

    >>> claims = nc.Claims()
    >>> claims.empirical("flatter", "final sharpness at η = 1.6 over that at η = 0.2, largest seed", "<", 0.8)
    >>> claims.stated()            # shown before any data
    >>> claims.record("flatter", max(ratios))
    >>> claims.table()             # shown after the data; raises if a row does not read as stated
    """

    def __init__(self) -> None:
        self._claims: dict[str, Claim] = {}

    def check(self, key: str, statement: str, op: str, threshold, *, expect: bool = True, why: str = "") -> None:
        """State an identity or implementation check: ``measured op threshold``."""
        self._state(Claim(key, statement, "check", op, threshold, expect, why))

    def empirical(self, key: str, statement: str, op: str, threshold, *, expect: bool = True, why: str = "") -> None:
        """State an empirical claim: ``measured op threshold``, the threshold fixed before the data."""
        self._state(Claim(key, statement, "empirical", op, threshold, expect, why))

    def _state(self, claim: Claim) -> None:
        if not isinstance(claim.key, str) or not claim.key:
            raise ValueError(f"key must be a non-empty str, got {claim.key!r}")
        if claim.key in self._claims:
            raise ValueError(f"claim {claim.key!r} is stated twice")
        if not isinstance(claim.statement, str) or not claim.statement:
            raise ValueError(f"statement of {claim.key!r} must be a non-empty str, got {claim.statement!r}")
        if claim.op == "is":
            if claim.threshold is not True:
                raise ValueError(f"claim {claim.key!r}: op 'is' takes threshold True, got {claim.threshold!r}")
        elif claim.op in _COMPARE:
            if isinstance(claim.threshold, bool) or not isinstance(claim.threshold, (int, float, np.number)):
                raise ValueError(f"claim {claim.key!r}: threshold must be a number, got {claim.threshold!r}")
            if not math.isfinite(claim.threshold):
                raise ValueError(f"claim {claim.key!r}: threshold must be finite, got {claim.threshold!r}")
            claim.threshold = float(claim.threshold)
        else:
            raise ValueError(
                f"claim {claim.key!r}: op must be one of 'is', {', '.join(map(repr, _COMPARE))}; got {claim.op!r}"
            )
        if not isinstance(claim.expect, bool):
            raise ValueError(f"claim {claim.key!r}: expect must be True or False, got {claim.expect!r}")
        if not claim.expect and not claim.why:
            raise ValueError(f"claim {claim.key!r} is expected to read no: say why (why=...)")
        self._claims[claim.key] = claim

    def record(self, key: str, measured) -> None:
        """The measured value of a stated claim (a number, or a bool for op 'is'); once per claim."""
        if key not in self._claims:
            stated = ", ".join(self._claims) or "none"
            raise KeyError(f"claim {key!r} was never stated (stated: {stated}); state it before the data")
        claim = self._claims[key]
        if claim.measured_yet:
            raise ValueError(f"claim {key!r} is measured already ({claim.measured!r}); a claim is measured once")
        if claim.op == "is":
            if not isinstance(measured, (bool, np.bool_)):
                raise ValueError(f"claim {key!r} (op 'is') needs a bool, got {measured!r}")
            measured = bool(measured)
        else:
            if isinstance(measured, (bool, np.bool_)) or not isinstance(measured, (int, float, np.number)):
                raise ValueError(f"claim {key!r} needs a number, got {measured!r}")
            measured = float(measured)
            if math.isnan(measured):
                raise ValueError(f"claim {key!r}: the measured value is NaN")
        claim.measured = measured

    def stated(self):
        """The claims as stated, before any data: what each one says, its kind and its threshold."""
        rows = [(c.statement, c.kind, c.rule(), "yes" if c.expect else f"no: {c.why}") for c in self._claims.values()]
        return table(["claim", "kind", "holds if", "expected to hold?"], rows)

    def table(self, digits: int = 3):
        """Every claim with what was measured, checked: raises :class:`ClaimFailed` naming each row
        that does not read as stated (or was never measured)."""
        missing = [key for key, c in self._claims.items() if not c.measured_yet]
        if missing:
            raise ClaimFailed(f"claims stated but never measured: {', '.join(missing)}")
        self._log()
        wrong = [c for c in self._claims.values() if c.holds != c.expect]
        if wrong:
            lines = [
                f"{c.key} ({c.kind}): {c.statement} — measured {c.shown_measured(digits)}, holds if {c.rule()}"
                + ("" if c.expect else f", expected not to hold ({c.why})")
                for c in wrong
            ]
            raise ClaimFailed("claims that do not read as stated:\n  " + "\n  ".join(lines))
        rows = [(c.statement, c.kind, c.rule(), c.shown_measured(digits), c.verdict()) for c in self._claims.values()]
        return table(["claim", "kind", "holds if", "measured", "holds?"], rows)

    def _log(self) -> None:
        path = os.environ.get(CLAIMS_LOG_VARIABLE, "").strip()
        if not path:
            return
        with open(path, "a", encoding="utf-8") as log:
            for c in self._claims.values():
                row = {
                    "key": c.key,
                    "statement": c.statement,
                    "kind": c.kind,
                    "rule": c.rule(),
                    "measured": c.measured,
                    "holds": c.holds,
                    "expect": c.expect,
                    "seed_offset": seed_offset(),
                }
                log.write(json.dumps(row, ensure_ascii=False) + "\n")
