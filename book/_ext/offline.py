"""Sphinx extension for the book build: nothing is fetched from the network when a page is read.

Jupyter Book always loads sphinx-thebe, which writes the URL of thebe's JavaScript on unpkg.com
into every page (and declares it twice, a console error) even with live code switched off. The
book has no live code in the HTML (its explorers need a real kernel: run the notebooks in
Jupyter), so the thebe scripts are removed from every page. MathJax comes from the
``sphinx-mathjax-offline`` package and the widget scripts are switched off in ``_config.yml``;
``tests/test_book_html.py`` checks the built pages for any CDN URL.
"""


def _is_thebe(filename, body) -> bool:
    filename = filename or ""
    return filename.endswith("sphinx-thebe.js") or "thebe@" in filename or "THEBE_JS_URL" in (body or "")


def _drop_thebe(app, *args):
    builder = getattr(app, "builder", None)
    if builder is not None and hasattr(builder, "_js_files"):
        builder._js_files[:] = [
            asset for asset in builder._js_files if not _is_thebe(asset.filename, asset.attributes.get("body"))
        ]
    app.registry.js_files[:] = [(f, kw) for f, kw in app.registry.js_files if not _is_thebe(f, kw.get("body"))]


def setup(app):
    app.connect("env-before-read-docs", _drop_thebe, priority=900)  # after sphinx-thebe adds them (500)
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
