"""Grade the book's coding exercises with nbgrader, on a folder of students' notebooks.

    python tests/grading.py course COURSE   # COURSE/: nbgrader's course folder, one assignment per notebook,
                                            # with release/: the students' versions (solutions blanked)
    # hand out release/ASSIGNMENT/*.ipynb; put each student's back as submitted/STUDENT/ASSIGNMENT/
    python tests/grading.py grade COURSE    # nbgrader autograde every assignment, then COURSE/grades.csv

Each coding exercise of the book is a solution cell (nbgrader metadata ``solution: true``, the
solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) followed by a locked check cell
(``grade: true`` with its points): asserts with a message that tells the student what to look at.
The book's notebooks keep the solutions, so nbval checks them like every other cell; nbgrader's
``generate_assignment`` blanks them for students, and ``autograde`` re-runs each submission and
gives a check's points when it raises nothing. ``book/instructors.md`` says why nbgrader.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from regenerate_notebooks import toc_files  # beside this file

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """\
# nbgrader's configuration for the neural-collapse book's coding exercises (tests/grading.py).
c = get_config()
c.CourseDirectory.course_id = "neural-collapse-book"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db!r}
c.Execute.timeout = 300  # seconds per cell: some notebooks train for a minute in one cell
"""


def graded_notebooks() -> list[Path]:
    """The book's notebooks (in the order of _toc.yml) that hold at least one graded check."""
    found = []
    for name in toc_files():
        path = ROOT / name if name.endswith(".ipynb") else ROOT / f"{name}.ipynb"
        if path.is_file() and any(_is_check(cell) for cell in json.loads(path.read_text())["cells"]):
            found.append(path)
    return found


def _is_check(cell: dict) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def points(path: Path) -> float:
    """The points a notebook's checks are worth together."""
    cells = json.loads(path.read_text())["cells"]
    return float(sum(c["metadata"]["nbgrader"].get("points", 0) for c in cells if _is_check(c)))


def make_course(course: Path, notebooks: list[Path] | None = None) -> list[str]:
    """``course``/ as nbgrader wants it: ``nbgrader_config.py`` and ``source/ASSIGNMENT/ASSIGNMENT.ipynb``,
    one assignment per notebook with coding exercises; the assignment names."""
    course = course.resolve()
    if course.exists() and any(course.iterdir()):
        raise SystemExit(f"course: {course} exists and is not empty; choose a new folder")
    names = []
    for notebook in notebooks or graded_notebooks():
        (course / "source" / notebook.stem).mkdir(parents=True)
        shutil.copy(notebook, course / "source" / notebook.stem / notebook.name)
        names.append(notebook.stem)
    if not names:
        raise SystemExit("no notebook of the book has a graded check (nbgrader metadata grade: true)")
    db = f"sqlite:///{course / 'gradebook.db'}"
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course), db=db))
    return names


def nbgrader(course: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader`` in ``course``; exits with its output if it fails."""
    executable = shutil.which("nbgrader", path=str(Path(sys.executable).parent)) or shutil.which("nbgrader")
    if executable is None:
        raise SystemExit("nbgrader is not installed: python -m pip install -r requirements.txt")
    env = {
        **os.environ,
        # nbgrader runs `alembic` (its gradebook's migrations) from PATH: this interpreter's own
        # scripts come first, so that a virtual environment works without being activated
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        # the Experiments notebooks read the shipped results; a graded copy runs outside book/
        "NCUTILS_RESULTS": os.environ.get("NCUTILS_RESULTS", str(ROOT / "book" / "results")),
    }
    done = subprocess.run([executable, *arguments], cwd=course, capture_output=True, text=True, timeout=3600, env=env)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(arguments)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


def assignments(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir())


def release(course: Path) -> Path:
    """nbgrader's students' versions of every assignment, in ``course``/release: one nbgrader call for all
    of them (``--assignment=*``, about 8 s for the book's 14, against 6 s for each one alone)."""
    nbgrader(course, "generate_assignment", "--assignment=*", "--force")
    return course / "release"


def grade(course: Path) -> Path:
    """Autograde every submission in ``course``/submitted and write ``course``/grades.csv."""
    course = course.resolve()
    for assignment in assignments(course):
        if any((course / "submitted").glob(f"*/{assignment}")):
            nbgrader(course, "autograde", assignment, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return course / "grades.csv"


def read_grades(path: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """``grades.csv`` as {(assignment, student): (score, max_score)}."""
    with path.open(newline="") as file:
        return {(row["assignment"], row["student_id"]): (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(file)}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["course", "grade"])
    parser.add_argument("course", type=Path, help="the course folder")
    args = parser.parse_args(argv)
    if args.action == "course":
        names = make_course(args.course)
        release(args.course.resolve())
        print(f"{args.course}: {len(names)} assignments ({', '.join(names)}); hand out {args.course}/release/")
    else:
        table = read_grades(grade(args.course))
        for (assignment, student), (score, maximum) in sorted(table.items()):
            print(f"{assignment:28s} {student:20s} {score:g} / {maximum:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
