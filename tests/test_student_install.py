"""A student's install works on a fresh machine: a new virtual environment, torch, then
``python -m pip install -e ".[notebooks]"`` (JupyterLab and what the notebooks import, without the
book toolchain); Jupyter then starts a kernel and runs Chapter 1's notebook from top to bottom.

Slow (a few minutes, mostly pip): it installs JupyterLab into an empty environment, as the README's
student quick start does. Reproduce: python -m pytest tests/test_student_install.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = "Scripts" if sys.platform == "win32" else "bin"


def _run(command, cwd, timeout):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_student_install_runs_chapter_1_in_a_jupyter_kernel(tmp_path):
    environment = tmp_path / "student"
    venv.create(environment, with_pip=True)
    python = str(environment / BIN / "python")
    torch = f"torch=={_installed_torch()}"  # the build already here (README: a CPU build first)
    _run([python, "-m", "pip", "install", "--quiet", torch], tmp_path, 900)
    _run([python, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[notebooks]"], tmp_path, 1500)
    have = _run([python, "-m", "pip", "list", "--format=freeze"], tmp_path, 120).stdout.lower()
    assert "jupyterlab==" in have and "jupyter-book" not in have and "nbval" not in have  # slim: no toolchain

    notebook = tmp_path / "neural_collapse.ipynb"  # as a student would open it: away from the checkout
    shutil.copy(ROOT / "book" / "neural_collapse.ipynb", notebook)
    jupyter = str(environment / BIN / "jupyter")
    _run([jupyter, "lab", "--version"], tmp_path, 120)
    _run([jupyter, "execute", "--inplace", str(notebook)], tmp_path, 600)  # starts a kernel, runs every cell
    assert '"output_type": "error"' not in notebook.read_text()


def _installed_torch() -> str:
    import torch

    return torch.__version__.split("+")[0]


def test_conda_environment_installs_the_same_as_the_student_extra():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    assert pip == ["-e .[notebooks]"] and any(str(d).startswith("pytorch") for d in dependencies)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("jupyterlab") for r in project["optional-dependencies"]["notebooks"])
    requirements = (ROOT / "requirements.txt").read_text()
    assert "\njupyterlab" in requirements  # so that the README's `jupyter lab book/` works after its install
