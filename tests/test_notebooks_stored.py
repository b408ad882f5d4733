"""Every notebook in book/ is stored the way strict nbval needs it.

nbval re-runs a notebook and compares each cell with its stored output, but it skips a cell whose
execution count is empty: a notebook saved without outputs "passes" while checking nothing. These
tests make sure there is something to check, and that it was made by one clean run from the top.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from regenerate_notebooks import toc_files  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SKIP_DIRS = {"_build", ".ipynb_checkpoints", "jupyter_execute", ".jupyter_cache"}


def book_notebooks() -> list[Path]:
    return sorted(path for path in BOOK.rglob("*.ipynb") if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts))


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


NOTEBOOKS = book_notebooks()
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no .ipynb under {BOOK}: nbval would check nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_was_executed(path):
    missing = [i for i, c in enumerate(code_cells(path)) if c.get("execution_count") is None]
    assert not missing, (
        f"{path.name}: code cells {missing} (0-based, among non-empty code cells) have no execution "
        "count, so nbval skips them; run `python tests/regenerate_notebooks.py` on this notebook"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_outputs_and_no_errors(path):
    outputs = [o for c in code_cells(path) for o in c.get("outputs", [])]
    assert outputs, f"{path.name} stores no output at all: nbval has nothing to compare"
    errors = [o.get("ename", "?") for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name} stores error outputs {errors}: re-run it cleanly"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_run_top_to_bottom_once(path):
    counts = [c.get("execution_count") for c in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts are {counts}, not 1..{len(counts)} in order: "
        "the stored outputs do not come from one run from the top"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_listed_in_toc(path):
    stem = path.relative_to(ROOT).with_suffix("")
    listed = {Path(name).with_suffix("") for name in toc_files()}
    assert stem in listed, f"{stem} is not listed in _toc.yml: the book never shows it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_seeds_everything(path):
    cells = code_cells(path)
    assert cells, f"{path.name} has no code cell"
    first = "".join(cells[0]["source"])
    assert "seed_everything(" in first, (
        f"{path.name}: the first code cell must call nc.seed_everything(...) (it fixes the seed "
        "and the thread count, without which printed numbers change run to run)"
    )
