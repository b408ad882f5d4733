"""Sphinx extension for the book build: the student edition, without the exercises' solutions.

    NCUTILS_EDITION=student jupyter-book build . --path-output _build/student

builds the same book with every ``{solution}`` removed (sphinx-exercise's ``hide_solutions``) and
says so in its title; without the variable (or with ``NCUTILS_EDITION=full``) solutions stay, hidden
behind a toggle. The coding exercises' solution cells are blanked as nbgrader blanks them for
students, and the page sources that the HTML offers for download (``_sources/``: the Markdown
pages and the notebooks) lose their solutions too. ``tests/test_book_html.py`` builds both
editions and compares them.
"""

import json
import os
import re
from pathlib import Path

EDITIONS = ("full", "student")


def _choose(app, config):
    edition = os.environ.get("NCUTILS_EDITION", "full") or "full"
    if edition not in EDITIONS:
        raise ValueError(f"NCUTILS_EDITION must be one of {EDITIONS}, got {edition!r}")
    if edition == "student":
        config.hide_solutions = True
        config.html_title = f"{config.html_title} (student edition)"


# A ```{solution} (or :::{solution}) block up to its closing fence of the same length.
SOLUTION_BLOCK = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}.*?^(?P=fence)[ \t]*\n?", re.M | re.S)


# The solution region of a coding exercise's cell (nbgrader's markers), as nbgrader's student
# version replaces it.
CODE_SOLUTION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)


def without_solutions(text: str) -> str:
    return SOLUTION_BLOCK.sub("", text)


def without_code_solution(source: str) -> str:
    """``source`` with every nbgrader solution region replaced by what the student edition shows."""
    return CODE_SOLUTION.sub(
        lambda m: f"{m['indent']}# YOUR CODE HERE\n{m['indent']}raise NotImplementedError()", source
    )


def student_notebook(notebook: dict) -> dict:
    """A notebook as the student edition shows it: no ``{solution}`` blocks in its text, and the
    coding exercises' solution cells (nbgrader metadata ``solution: true``) blanked, without outputs."""
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            cell["source"] = without_solutions(source).splitlines(keepends=True)
        elif cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = without_code_solution(source).splitlines(keepends=True)
            cell["outputs"] = []
    return notebook


def _student_source(app, docname, content):
    """The student edition reads every notebook without its solutions."""
    if app.config.hide_solutions and content[0].lstrip().startswith("{"):
        content[0] = json.dumps(student_notebook(json.loads(content[0])), indent=1, ensure_ascii=False)


def _strip_downloadable_sources(app, exception):
    """The student edition's ``_sources/`` copies, without solutions (the download button serves them)."""
    if exception is not None or not app.config.hide_solutions:
        return
    for path in Path(app.outdir, "_sources").rglob("*"):
        if path.suffix == ".ipynb":
            notebook = student_notebook(json.loads(path.read_text(encoding="utf-8")))
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        elif path.suffix in (".md", ".txt"):
            path.write_text(without_solutions(path.read_text(encoding="utf-8")), encoding="utf-8")


def setup(app):
    app.connect("config-inited", _choose)
    app.connect("source-read", _student_source)
    app.connect("build-finished", _strip_downloadable_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
