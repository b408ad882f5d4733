"""Sphinx extension for the book build: the student edition, without the exercises' solutions.

    NCUTILS_EDITION=student jupyter-book build . --path-output _build/student

builds the same book with every ``{solution}`` removed (sphinx-exercise's ``hide_solutions``) and
says so in its title; without the variable (or with ``NCUTILS_EDITION=full``) solutions stay, hidden
behind a toggle. ``tests/test_book_html.py`` builds both and compares them.
"""

import os

EDITIONS = ("full", "student")


def _choose(app, config):
    edition = os.environ.get("NCUTILS_EDITION", "full") or "full"
    if edition not in EDITIONS:
        raise ValueError(f"NCUTILS_EDITION must be one of {EDITIONS}, got {edition!r}")
    if edition == "student":
        config.hide_solutions = True
        config.html_title = f"{config.html_title} (student edition)"


def setup(app):
    app.connect("config-inited", _choose)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
