"""Print the whole book to one PDF, offline: the single-page HTML build, printed by headless Chromium.

    python tests/build_pdf.py                         # -> _build/pdf/book.pdf
    python tests/build_pdf.py --edition student       # the student edition (no solutions)

Needs Debian's ``chromium`` (``sudo apt-get install chromium``) and ``pypdf``. The page is served
from 127.0.0.1 and printed after MathJax has had time to typeset every formula, so the PDF holds
rendered maths, figures and the notebooks' stored outputs. About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(folder: Path):
    """``folder`` served over HTTP on 127.0.0.1 (a free port) while the block runs; yields its URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def build_book(out: Path, builder: str = "html", root: Path = ROOT, **environment) -> Path:
    """The book at ``root`` built into ``out`` by the README's build command (without pip), with
    ``builder`` (``html`` or ``singlehtml``) and extra environment variables; the folder of its pages."""
    jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jupyter_book is None:
        raise SystemExit("jupyter-book is not installed: python -m pip install -r requirements.txt")
    build = subprocess.run(
        [jupyter_book, "build", str(root), "-W", "-n", "--keep-going", "--builder", builder, "--path-output", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **environment},
    )
    if build.returncode != 0:
        raise SystemExit(f"the {builder} build failed:\n{build.stdout[-3000:]}{build.stderr[-3000:]}")
    return out / "_build" / builder


def build_single_page(out: Path, edition: str = "full") -> Path:
    """The book as one HTML page (``--builder singlehtml``); the path of that page.

    Sphinx writes the page as ``book/intro.html`` (the root document's name) but with links relative
    to the site's root (``_static/…``, ``_images/…``): the page is moved there, as ``book.html``."""
    site = build_book(out, "singlehtml", NCUTILS_EDITION=edition)
    page = site / "book.html"
    os.replace(site / "book" / "intro.html", page)
    return page


def print_to_pdf(page: Path, pdf: Path, seconds: int = 240) -> int:
    """Serve ``page``'s folder on 127.0.0.1 and print the page with headless Chromium to ``pdf``,
    after up to 120 s of (virtual) time for MathJax to typeset; the number of pages."""
    from pypdf import PdfReader

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no browser: sudo apt-get install chromium chromium-driver")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    options = ["--headless=new", "--no-sandbox", "--disable-gpu", "--run-all-compositor-stages-before-draw"]
    with served(page.parent) as url:
        printed = subprocess.run(
            [
                chromium,
                *options,
                "--virtual-time-budget=120000",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}",
                f"{url}/{page.name}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds,
        )
    if printed.returncode != 0 or not pdf.is_file():
        raise SystemExit(f"chromium could not print {page}:\n{printed.stderr[-2000:]}")
    return len(PdfReader(pdf).pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf", help="the PDF to write")
    parser.add_argument("--edition", choices=("full", "student"), default="full")
    args = parser.parse_args(argv)
    page = build_single_page(args.out.parent / f"singlehtml-{args.edition}", args.edition)
    pages = print_to_pdf(page, args.out)
    print(f"wrote {args.out} ({pages} pages, {args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
