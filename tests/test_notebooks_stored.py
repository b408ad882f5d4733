"""Every notebook in book/ is stored the way strict nbval needs it.

nbval re-runs a notebook and compares each cell with its stored output, but it skips a cell whose
execution count is empty: a notebook saved without outputs "passes" while checking nothing. These
tests make sure there is something to check, and that it was made by one clean run from the top.
"""

from __future__ import annotations

import base64
import json
import re
import struct
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
def test_first_code_cells_install_and_seed(path):
    """The setup cell (tests/publish.py: installs ncutils on Colab, nothing elsewhere), then imports
    and nc.seed_everything(...)."""
    cells = code_cells(path)
    assert len(cells) >= 2, f"{path.name} has fewer than two code cells"
    assert "NCUTILS_SOURCE" in "".join(cells[0]["source"]), (
        f"{path.name}: the first code cell must be the setup cell; run `python tests/publish.py URL` (or '')"
    )
    assert "seed_everything(" in "".join(cells[1]["source"]), (
        f"{path.name}: the code cell after the setup cell must call nc.seed_everything(...) (it fixes the "
        "seed and the thread count, without which printed numbers change run to run)"
    )


# The book's text column is 676 px at a 1280 px window; its monospace output fits 76 characters.
# Wider lines run off the page (tests/test_browser.py measures the rendered width of every output).
COLUMN_CHARACTERS = 76
THEORY = {"neural_collapse", "generic_nc1", "generic_conditioning", "wide_phase1", "wide_phase2",
          "conditioning_near_optimal", "conditioning_large_lr"}  # fmt: skip
DRAWS = ("plt.", "fig.", "subplots(", "nc.plot", ".plot(", "imshow(")


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    return "" if "text/html" in data or "image/png" in data else "".join(data.get("text/plain", ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_text_outputs_fit_the_column(path):
    """Reproduce: python -m pytest tests/test_notebooks_stored.py -k fit_the_column"""
    wide = [
        (i, line[:50])
        for i, cell in enumerate(code_cells(path))
        for output in cell.get("outputs", [])
        for line in _text(output).splitlines()
        if len(line) > COLUMN_CHARACTERS
    ]
    assert not wide, (
        f"{path.name}: text output lines longer than {COLUMN_CHARACTERS} characters run off the book's "
        f"column (show a table with nc.table(...), or break the line): {wide[:5]}"
    )


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem in THEORY], ids=lambda p: p.stem)
def test_theory_pages_fold_plotting_code_and_show_measurements(path):
    """On the theory pages a reader wants the figure, not the matplotlib calls: a cell that draws is
    folded (tag ``hide-input``), and a folded cell measures nothing (no assert hides behind the fold)."""
    cells = code_cells(path)
    unfolded = [i for i, c in enumerate(cells) if any(d in "".join(c["source"]) for d in DRAWS)
                and "hide-input" not in c.get("metadata", {}).get("tags", [])]  # fmt: skip
    hidden = [i for i, c in enumerate(cells) if "hide-input" in c.get("metadata", {}).get("tags", [])
              and "assert " in "".join(c["source"])]  # fmt: skip
    assert not unfolded, f"{path.name}: code cells {unfolded} draw a figure but are not tagged hide-input"
    assert not hidden, f"{path.name}: code cells {hidden} are folded (hide-input) but check something (assert)"


# A figure wider than this is shrunk so much in the 676 px column that its 11 pt text (font.size of
# nc.plotting's style, 100 dpi) falls below 8.6 px on screen: draw it on fewer columns instead.
WIDEST_FIGURE_PX = 1200


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_are_legible_in_the_column(path):
    """Reproduce: python -m pytest tests/test_notebooks_stored.py -k legible"""
    widths = []
    for i, cell in enumerate(code_cells(path)):
        for output in cell.get("outputs", []):
            if png := output.get("data", {}).get("image/png"):
                width = struct.unpack(">I", base64.b64decode(png)[16:20])[0]  # the PNG header's width
                widths.append((i, width))
    too_wide = [(i, width) for i, width in widths if width > WIDEST_FIGURE_PX]
    assert not too_wide, (
        f"{path.name}: figures (code cell, width in px) {too_wide} are wider than {WIDEST_FIGURE_PX} px: "
        "in the book's 676 px column their text shrinks below 8.6 px; use a narrower figsize or more rows"
    )


# float64 rounding of quantities of order 1 lands between these: a value printed there is noise,
# and a bound there ("< 1e-14") is one another CPU's rounding can miss
ROUNDING_LEVEL = (1e-20, 1e-12)
SCIENTIFIC = re.compile(r"(?<![\w.])-?\d+(\.\d+)?e-\d+")


def _compared_text(cell: dict) -> str:
    """The text nbval compares in ``cell`` (nothing for a cell whose output it ignores)."""
    tags = cell.get("metadata", {}).get("tags", [])
    if "nbval-ignore-output" in tags or "NBVAL_IGNORE_OUTPUT" in "".join(cell["source"]):
        return ""
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append("".join(output.get("text", "")))
        for kind in ("text/plain", "text/html"):
            texts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(texts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_compared_output_prints_a_value_at_the_noise_floor(path):
    """A value above 1e-20 and below 1e-12 is rounding noise whose digits change with the CPU (1.11e-16
    on one, 5.55e-17 on another): print a bound it meets with a margin (``nc.below(value, 1e-12)``),
    not its digits. Reproduce: python -m pytest tests/test_notebooks_stored.py -k noise_floor"""
    low, high = ROUNDING_LEVEL
    found = [
        (i, match.group())
        for i, cell in enumerate(code_cells(path))
        for match in SCIENTIFIC.finditer(_compared_text(cell))
        if low < abs(float(match.group())) < high
    ]
    assert not found, f"{path.name}: code cells print values at the noise floor (cell, value): {found[:8]}"
