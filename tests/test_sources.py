"""The book cites only public sources: no page, notebook, docstring or shipped result names an
internal working document, and the appendix that says where each statement comes from is in
the table of contents.

Reproduce: python -m pytest tests/test_sources.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from regenerate_notebooks import toc_files  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parent.parent
INTERNAL = re.compile(r"(?i:\bdigest\b)|§\s*\d|\b[EG][1-6]\b(?=[ ,)(])")  # "the digest", "§4.2", "E5 (", "G1,"


def reader_facing_files() -> list[Path]:
    files = [ROOT / "README.md"]
    files += sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "book").glob("*.ipynb"))
    files += sorted((ROOT / "ncutils").glob("*.py"))
    files += sorted((ROOT / "book" / "results").glob("*/*.json"))  # their preset labels and notes
    return files


def text_of(path: Path) -> str:
    if path.suffix == ".ipynb":  # sources and outputs, what a reader sees
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        parts = ["".join(c["source"]) for c in cells]
        for c in cells:
            for out in c.get("outputs", []):
                parts.append("".join(out.get("text", "")))
                parts.append("".join(out.get("data", {}).get("text/plain", "")))
        return "\n".join(parts)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", reader_facing_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_citation_of_internal_notes(path):
    hits = [m.group(0) for m in INTERNAL.finditer(text_of(path))]
    assert not hits, f"{path.relative_to(ROOT)} cites an internal document ({hits[:3]}): cite a public source"


def test_internal_pattern_catches_what_it_should():
    assert INTERNAL.search("as the digest says") and INTERNAL.search("(digest §4.2, E5)")
    assert not INTERNAL.search("Figure 1 of arXiv v1 (verified caption); E = Z_L - Y")


def test_the_sources_appendix_is_in_the_book():
    assert "book/about_sources" in toc_files()
    text = (ROOT / "book" / "about_sources.md").read_text(encoding="utf-8")
    for status in ("verified", "second-hand", "ours"):
        assert f"| {status}" in text, f"no row with status {status!r}"
