"""Every notebook's claims under two other seeds: does an empirical claim survive re-seeding?

A notebook takes all its seeds from ``nc.seeds`` (``ncutils/seeds.py``), so
``NCUTILS_SEED_OFFSET`` moves every one of them; each claims table it shows
(``nc.Claims.table``) appends its rows to ``NCUTILS_CLAIMS_LOG``. This test executes each
notebook that states claims under two offsets (its stored outputs play no part) and fails,
naming every claim that broke, if any row does not read as stated under either offset.

Reproduce one case:
    NCUTILS_SEED_OFFSET=1000 python -m pytest tests/test_claims_other_seeds.py -k "conditioning_large_lr and 1000"
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
OFFSETS = (1000, 2000)  # seeds 1000–1004 and 2000–2004 (data seeds moved the same way)


def notebooks_with_claims() -> list[Path]:
    """The notebooks of the book that state claims through ``nc.Claims``."""
    found = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in nbformat.read(path, 4).cells if c["cell_type"] == "code")
        if "nc.Claims(" in code:
            found.append(path)
    return found


def run_under_offset(path: Path, offset: int, log: Path) -> str | None:
    """Execute ``path`` with every seed moved by ``offset``; the error of a failing cell, or None."""
    notebook = nbformat.read(path, 4)
    environment = {"NCUTILS_SEED_OFFSET": str(offset), "NCUTILS_CLAIMS_LOG": str(log), "NCUTILS_KERNEL_SETTING": "none"}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)  # the kernel is a child process: it inherits these
    try:
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    except CellExecutionError as error:
        return str(error).strip().splitlines()[-1]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return None


def test_some_notebooks_state_claims():
    assert notebooks_with_claims(), "no notebook of book/ states its claims through nc.Claims"


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("path", notebooks_with_claims(), ids=lambda p: p.stem)
def test_claims_hold_under_other_seeds(path, offset, tmp_path):
    log = tmp_path / "claims.jsonl"
    error = run_under_offset(path, offset, log)
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    broken = [r for r in rows if r["holds"] != r["expect"]]
    report = "\n".join(
        f"  {r['kind']} {r['key']!r}: {r['statement']} — measured {r['measured']!r}, holds if {r['rule']}"
        + ("" if r["expect"] else " (stated as expected not to hold)")
        for r in broken
    )
    reproduce = (
        f'NCUTILS_SEED_OFFSET={offset} python -m pytest tests/test_claims_other_seeds.py -k "{path.stem} and {offset}"'
    )
    assert not broken, f"{path.name} under seed offset {offset}: claims that broke\n{report}\nreproduce: {reproduce}"
    assert error is None, f"{path.name} under seed offset {offset} stopped: {error}\nreproduce: {reproduce}"
    assert rows, f"{path.name} under seed offset {offset} showed no claims table"
