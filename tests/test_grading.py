"""The coding exercises grade themselves: nbgrader gives the book's solution full marks and the
blank students' version zero, and every exercise is well formed.

Reproduce: python -m pytest tests/test_grading.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grading
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from edition import student_notebook  # noqa: E402  (the student edition's blanking)

GRADED = grading.graded_notebooks()


def test_some_notebooks_have_coding_exercises():
    assert GRADED, "no notebook has a graded check"


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_every_coding_exercise_is_a_solution_then_a_locked_check(path):
    cells = json.loads(path.read_text())["cells"]
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.get("metadata", {})]
    assert len(ids) == len(set(ids)), f"{path.name}: grade ids repeat: {ids}"
    for i, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            source = "".join(cell["source"])
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source, (path.name, i)
            check = cells[i + 1]["metadata"].get("nbgrader", {})
            assert check.get("grade") and check.get("locked") and check.get("points", 0) > 0, (path.name, i)
            assert "hide-input" in cell["metadata"].get("tags", []), f"{path.name}: fold the solution (hide-input)"
        if meta.get("grade"):
            assert "assert " in "".join(cell["source"]), f"{path.name}: a check without an assert checks nothing"


def unactivated_path() -> str:
    """PATH without any folder that holds nbgrader's or alembic's script: as for a virtual
    environment used without being activated (``.venv/bin/python tests/grading.py ...``)."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [f for f in folders if f and not any((Path(f) / name).exists() for name in ("alembic", "nbgrader"))]
    path = os.pathsep.join(kept)
    assert shutil.which("alembic", path=path) is None and shutil.which("nbgrader", path=path) is None
    return path


def test_solution_gets_full_marks_and_the_blank_gets_zero(tmp_path, monkeypatch):
    """Grades two notebooks, as an instructor would grade a folder of submissions: Chapter 1, and an
    Experiments notebook, which must find the shipped results from the course folder. PATH lacks
    nbgrader's and alembic's scripts, as in a virtual environment that is not activated (nbgrader
    runs alembic from PATH; reproduce: ``.venv/bin/python tests/grading.py grade COURSE``)."""
    monkeypatch.delenv("NCUTILS_RESULTS", raising=False)
    monkeypatch.setenv("PATH", unactivated_path())
    notebooks = [ROOT / "book" / "neural_collapse.ipynb", ROOT / "book" / "experiments_head_depth.ipynb"]
    course = tmp_path / "course"
    assert grading.make_course(course, notebooks) == [n.stem for n in notebooks]
    grading.release(course)
    for notebook in notebooks:
        released = course / "release" / notebook.stem / notebook.name
        assert (
            "raise NotImplementedError()" in released.read_text() and "### BEGIN SOLUTION" not in released.read_text()
        )
        for student, version in (("solver", notebook), ("blank", released)):
            (course / "submitted" / student / notebook.stem).mkdir(parents=True)
            shutil.copy(version, course / "submitted" / student / notebook.stem / notebook.name)
    grades = grading.read_grades(grading.grade(course))
    for notebook in notebooks:
        full = grading.points(notebook)
        assert grades[(notebook.stem, "solver")] == (full, full), notebook.stem
        assert grades[(notebook.stem, "blank")] == (0.0, full), notebook.stem


@pytest.fixture(scope="module")
def released_course(tmp_path_factory):
    """A course of every graded notebook, with nbgrader's students' versions (one release for all),
    made as the README says (``python tests/grading.py course COURSE``) by an interpreter whose
    folder is not on PATH, as a virtual environment's is not until it is activated."""
    course = tmp_path_factory.mktemp("released") / "course"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "grading.py"), "course", str(course)],
        env={**os.environ, "PATH": unactivated_path()},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{len(GRADED)} assignments" in done.stdout
    assert sorted(p.name for p in (course / "release").iterdir()) == sorted(path.stem for path in GRADED)
    return course


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.stem)
def test_the_student_edition_blanks_what_nbgrader_blanks(path, released_course):
    released = json.loads((released_course / "release" / path.stem / path.name).read_text())["cells"]
    ours = student_notebook(json.loads(path.read_text()))["cells"]
    solution_cells = [i for i, c in enumerate(ours) if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert solution_cells
    for i in solution_cells:
        assert "".join(ours[i]["source"]) == "".join(released[i]["source"]), (path.name, i)
