"""A teacher may adapt and redistribute the book: its licences are stated, in full, and it says how
to cite it and the paper.

Reproduce: python -m pytest tests/test_licence_and_citation.py
"""

import re
from pathlib import Path

import yaml
from pybtex.database import parse_file
from pybtex.richtext import Text

ROOT = Path(__file__).resolve().parent.parent


def test_code_is_mit_and_text_and_figures_cc_by_4():
    licence = (ROOT / "LICENSE").read_text()
    assert "MIT License" in licence and "Permission is hereby granted, free of charge" in licence
    assert "CC BY 4.0" in licence and "LICENSE-CONTENT" in licence
    content = (ROOT / "LICENSE-CONTENT").read_text()
    assert "Creative Commons Attribution 4.0 International Public License" in content
    sections = re.findall(r"^Section (\d) -- ", content, re.M)
    assert sections == [str(k) for k in range(1, 9)], "the CC BY 4.0 legal code has Sections 1 to 8"


def test_the_intro_page_states_both_licences():
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "CC BY 4.0" in intro and "MIT" in intro and "CITATION.cff" in intro


def test_citation_file_cites_the_book_and_the_paper_as_the_bibliography_does():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    for key in ("cff-version", "message", "title", "authors"):
        assert citation.get(key), f"CITATION.cff lacks {key!r}"
    assert citation["cff-version"] == "1.2.0" and set(citation["license"]) == {"MIT", "CC-BY-4.0"}
    paper = citation["references"][0]
    entry = parse_file(ROOT / "book" / "references.bib").entries["jacot2025wide"]
    assert paper["title"] == entry.fields["title"]
    assert paper["year"] == int(entry.fields["year"])
    bib_authors = [
        (Text.from_latex(" ".join(p.last_names)).render_as("text"), " ".join(p.first_names))
        for p in entry.persons["author"]
    ]
    assert [(a["family-names"], a["given-names"]) for a in paper["authors"]] == bib_authors
    assert entry.fields["eprint"] in paper["url"]


def test_the_book_has_the_readmes_student_quick_start():
    """book/get_started.md includes the README's section: one text, in both places."""
    page = (ROOT / "book" / "get_started.md").read_text()
    readme = (ROOT / "README.md").read_text()
    start, end = re.search(r':start-after: "(.+)"', page)[1], re.search(r':end-before: "(.+)"', page)[1]
    assert start in readme and end in readme and readme.index(start) < readme.index(end)
    section = readme[readme.index(start) : readme.index(end)]
    for route in ("source .venv/bin/activate", ".venv\\Scripts\\Activate.ps1", "conda env create -f environment.yml"):
        assert route in section, f"the student quick start lacks {route!r}"
    assert "book/get_started" in (ROOT / "_toc.yml").read_text()
