"""The built HTML book: it builds from the stored notebook outputs (the ones nbval checks), without
warnings, and a reader's browser fetches nothing from the network: no CDN URL in any page, MathJax
served from the book's own files.

Reproduce: python -m pytest tests/test_book_html.py
(or by hand: jupyter-book build . -W -n --keep-going, then grep _build/html for the hosts below)
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDN_HOSTS = ("unpkg.com", "jsdelivr.net", "cdnjs.cloudflare.com", "googleapis.com", "code.jquery.com", "cdn.")
ASSET = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)


def pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


def test_every_chapter_is_built(html):
    toc = (ROOT / "_toc.yml").read_text()
    files = re.findall(r"file:\s*(\S+)", toc) + re.findall(r"root:\s*(\S+)", toc)
    assert files
    for name in files:
        assert (html / f"{Path(name).with_suffix('')}.html").is_file(), name


def test_no_page_names_a_cdn_or_loads_anything_from_the_network(html):
    for page in pages(html):
        text = page.read_text()
        for host in CDN_HOSTS:
            assert host not in text, f"{page.relative_to(html)} names {host}"
        remote = [url for url in ASSET.findall(text) if re.match(r"(https?:)?//", url)]
        assert not remote, f"{page.relative_to(html)} loads {remote}"


def test_maths_is_rendered_by_the_books_own_mathjax(html):
    with_maths = [p for p in pages(html) if "\\(" in p.read_text() or "\\[" in p.read_text()]
    assert len(with_maths) >= 10
    for page in with_maths:
        scripts = [url for url in ASSET.findall(page.read_text()) if "mathjax" in url.lower()]
        assert scripts and all(url.endswith("_static/mathjax/tex-chtml.js") for url in scripts), page.name
    assert (html / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 500_000
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_the_student_edition_has_the_exercises_without_their_solutions(html, tmp_path, book_builder):
    """Reproduce: NCUTILS_EDITION=student jupyter-book build . --path-output _build/student"""
    student = book_builder(tmp_path, NCUTILS_EDITION="student")
    for page in ("generic_guarantees", "wide_networks", "conditioning", "neural_collapse"):
        full_text = (html / "book" / f"{page}.html").read_text()
        student_text = (student / "book" / f"{page}.html").read_text()
        assert 'class="solution' in full_text and 'class="solution' not in student_text, page
        assert student_text.count('class="exercise') == full_text.count('class="exercise') > 0, page
    assert "(student edition)" in (student / "book" / "intro.html").read_text()

    # the page sources behind the download button: the full edition's have the solutions, the student's not
    def solutions(site):  # solution blocks: a line that opens a ```{solution} or :::{solution} fence
        block = re.compile(r'^\s*"?(?:`{3,}|:{3,})\{solution\}', re.M)
        return sum(len(block.findall(path.read_text())) for path in (site / "_sources").rglob("*.*"))

    assert solutions(html) >= 10 and solutions(student) == 0
    exercises = sum(path.read_text().count("{exercise}") for path in (student / "_sources").rglob("*.*"))
    assert exercises == sum(path.read_text().count("{exercise}") for path in (html / "_sources").rglob("*.*")) >= 10


def _text(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment).strip()


def test_bibliography_labels_read_as_the_citations_in_the_text(html):
    """The list's labels are the text's citations ("Jacot et al., 2025"), not alpha keys like
    "JSukenikWM25" (book/_ext/bibstyle.py). Reproduce: python -m pytest tests/test_book_html.py -k bibliography"""
    listing = (html / "book" / "bibliography.html").read_text()
    labels = {
        anchor: _text(label)
        for anchor, label in re.findall(
            r'<div class="citation" id="(id\d+)"[^>]*>\s*<span class="label">(.*?)</span>\s*</span>', listing, re.S
        )
    }
    assert len(labels) >= 10, f"only {len(labels)} entries found in the bibliography"
    for anchor, label in labels.items():
        assert re.fullmatch(r"\[[^\]]+?( and [^\]]+| et al\.)?, \d{4}[a-z]?\]", label), (anchor, label)
    cited = [
        (anchor, _text(text))
        for page in pages(html)
        for anchor, text in re.findall(r'href="bibliography.html#(id\d+)"[^>]*>(.*?)</a>', page.read_text(), re.S)
    ]
    assert cited, "no citation links to the bibliography"
    for anchor, text in cited:
        assert f"[{text}]" == labels[anchor], f"citation {text!r} links to the entry labelled {labels[anchor]!r}"
