"""Sphinx extension for the book build: the whole book as one HTML page, from which the PDF is printed.

sphinx-proof and sphinx-exercise register how to write their boxes (theorems, exercises, ...)
for the ``html`` builder only, so ``--builder singlehtml`` stops at the first theorem. The single
page builder writes the same HTML: it gets the same handlers. ``tests/build_pdf.py`` uses it.
"""


def _share_html_handlers(app):
    if app.builder.name == "singlehtml":
        single = app.registry.translation_handlers.setdefault("singlehtml", {})
        for node, visitors in app.registry.translation_handlers.get("html", {}).items():
            single.setdefault(node, visitors)


def setup(app):
    app.connect("builder-inited", _share_html_handlers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
