"""The whole-book PDF: printed offline from the single-page build, with every chapter in it.

Reproduce: python tests/build_pdf.py   (writes _build/pdf/book.pdf)
"""

import html as html_text
import re
import unicodedata

import pytest
from build_pdf import build_single_page, print_to_pdf
from test_browser import _browser_or_skip


def test_the_pdf_has_every_chapter(html, tmp_path):
    _browser_or_skip()
    from pypdf import PdfReader

    pages = print_to_pdf(build_single_page(tmp_path / "single"), tmp_path / "book.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(tmp_path / "book.pdf").pages)
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))  # NFKC: the ligature "ﬂ" is "fl"
    titles = []
    for page in sorted((html / "book").glob("*.html")):
        match = re.search(r"<h1>(.*?)<", page.read_text())
        if match and page.stem not in ("bibliography",):
            titles.append(html_text.unescape(match.group(1)).strip())
    assert len(titles) >= 15
    missing = [t for t in titles if re.sub(r"\s+", " ", t) not in text]
    assert not missing, f"chapters missing from the PDF: {missing}"
    assert pages > 100


def test_an_unknown_edition_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="singlehtml build failed"):
        build_single_page(tmp_path, "nonsense")
