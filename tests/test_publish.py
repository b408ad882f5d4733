"""Publishing: the setup cell installs ncutils where it is missing and does nothing where it is
installed; launch buttons appear once a repository URL is set; the GitHub workflow runs the README's
two commands and deploys the HTML.

Reproduce: python -m pytest tests/test_publish.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import publish
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "https://example.invalid/no/such-repository"  # any attempt to install from it fails


def test_every_notebook_starts_with_the_setup_cell_for_the_configured_url():
    assert publish.notebooks(), "no notebook found through _toc.yml"
    assert publish.disagreeing() == [], "run: python tests/publish.py URL (or '')"


def test_the_setup_cell_does_nothing_where_ncutils_is_installed():
    """Here ncutils is installed (pip install -e .): the cell must not call pip. With pip forbidden
    any index and the source unreachable, an install attempt would fail."""
    cell = publish.setup_cell(NOWHERE)
    run = subprocess.run(
        [sys.executable, "-c", cell],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
        timeout=60,
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_without_a_url_the_setup_cell_says_how_to_install(tmp_path):
    environment = tmp_path / "bare"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    run = subprocess.run(
        [str(python), "-c", publish.setup_cell("")], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert run.returncode != 0
    assert "ncutils is missing" in run.stderr and "pip install -e ." in run.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to install from a git URL")
def test_the_setup_cell_installs_ncutils_from_the_repository_where_it_is_missing(tmp_path):
    """A fresh virtual environment without ncutils (as on Colab); the repository is this checkout,
    reached by a git URL as a GitHub one would be. Its dependencies are skipped (PIP_NO_DEPS) to keep
    the test offline-fast: what is tested is that the cell finds ncutils missing and installs it."""
    if not (ROOT / ".git").exists():
        pytest.skip("this checkout is not a git repository")
    environment = tmp_path / "colab"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    cell = publish.setup_cell(f"file://{ROOT}")
    env = {**os.environ, "PIP_NO_DEPS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    first = subprocess.run([python, "-c", cell], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    where = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('ncutils').origin)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not this checkout, whose ncutils/ folder python would import from the working directory
        timeout=60,
    )
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(environment), where
    again = subprocess.run(
        [python, "-c", cell], capture_output=True, text=True, env={**env, "PIP_NO_INDEX": "1"}, cwd=tmp_path, timeout=60
    )
    assert (again.returncode, again.stdout, again.stderr) == (0, "", ""), "the second run must not call pip"


def _book_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "book-copy"
    ignore = shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__")
    shutil.copytree(ROOT / "book", copy / "book", ignore=ignore)
    for name in ("_config.yml", "_toc.yml", "README.md"):  # README: book/get_started.md includes a section of it
        shutil.copy(ROOT / name, copy / name)
    return copy


def test_launch_buttons_appear_only_once_a_repository_is_set(html, tmp_path, book_builder):
    page = (html / "book" / "wide_phase2.html").read_text()
    assert "launch-buttons" not in page and "executablebooks" not in page  # no URL: no buttons

    book = _book_copy(tmp_path)
    publish.set_repository("https://github.com/example-org/nc-book", root=book)
    assert publish.disagreeing(root=book) == []
    cells = json.loads((book / "book" / "generic_nc1.ipynb").read_text())["cells"]
    setup = "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])
    assert 'NCUTILS_SOURCE = "git+https://github.com/example-org/nc-book"' in setup

    built = book_builder(tmp_path / "out", root=book)
    page = (built / "book" / "wide_phase2.html").read_text()
    assert "https://colab.research.google.com/github/example-org/nc-book/blob/main/book/wide_phase2.ipynb" in page
    assert "https://mybinder.org/v2/gh/example-org/nc-book/main?urlpath=lab/tree/book/wide_phase2.ipynb" in page
    assert 'href="https://github.com/example-org/nc-book"' in page  # the repository button
    assert "executablebooks" not in page


def test_publish_refuses_a_url_that_is_not_a_repository(tmp_path):
    book = _book_copy(tmp_path)
    with pytest.raises(SystemExit, match="expected https://github.com/OWNER/REPO"):
        publish.set_repository("github.com/example-org", root=book)


def test_the_workflow_runs_the_readme_commands_and_deploys_the_html():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    jobs = workflow["jobs"]
    runs = {name: [step.get("run", "") for step in job.get("steps", [])] for name, job in jobs.items()}
    assert "bash .ci/run" in runs["test"]  # the README's test command
    assert "bash .ci/run --build" in runs["build"] and jobs["build"]["needs"] == "test"
    upload = next(s for s in jobs["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in jobs["deploy"]["steps"])
    assert jobs["test"]["timeout-minutes"] <= 90


def test_ci_run_reads_both_commands_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for flags, marker in ((["--print-command"], "test-command"), (["--build", "--print-command"], "build-command")):
        printed = subprocess.run(["bash", ".ci/run", *flags], cwd=ROOT, capture_output=True, text=True, check=True)
        command = printed.stdout.strip()
        assert command and command in readme.split(f"<!-- {marker} -->", 1)[1].split("```")[1]
