"""The instructors' page maps every exercise of the book to a lecture: each pen-and-paper exercise
(a ``{exercise}`` block of a page or a notebook) and each coding exercise (the function its
solution cell defines, in the notebook that holds it) has a row, and no row names one that is gone.

Reproduce: python -m pytest tests/test_instructors_page.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BOOK = Path(__file__).resolve().parent.parent / "book"
PAGE = (BOOK / "instructors.md").read_text()


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def pen_and_paper() -> set[str]:
    pages = sorted(BOOK.glob("*.md")) + sorted(BOOK.glob("*.ipynb"))
    return {label for p in pages for label in re.findall(r"```\{exercise\}[^\n]*\n:label: (ex-[\w-]+)", markdown_of(p))}


def coding() -> set[tuple[str, str]]:
    """(function, notebook) of every coding exercise: the first def of each nbgrader solution cell."""
    found = set()
    for path in sorted(BOOK.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                (name, *_) = re.findall(r"^def (\w+)\(", "".join(cell["source"]), re.M)
                found.add((name, path.stem))
    return found


def test_every_pen_and_paper_exercise_has_a_row_and_every_row_an_exercise():
    exercises = pen_and_paper()
    rows = set(re.findall(r"^\| \{ref\}`(ex-[\w-]+) <", PAGE, re.M))
    assert len(exercises) >= 13
    assert rows == exercises, f"no row: {sorted(exercises - rows)}; no such exercise: {sorted(rows - exercises)}"
    count = {10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen"}[len(exercises)]
    assert f"The book has {count} pen-and-paper exercises" in PAGE


def test_every_coding_exercise_has_a_row_naming_its_notebook():
    exercises = coding()
    rows = set(re.findall(r"^\| `(\w+)`: [^|]*\| \{doc\}`(\w+)` \|", PAGE, re.M))
    assert len(exercises) >= 14
    assert rows == exercises, f"no row: {sorted(exercises - rows)}; no such exercise: {sorted(rows - exercises)}"
