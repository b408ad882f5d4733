"""The floating-point settings under which the suite runs the notebooks (tests/kernel_settings.py):
each knob changes the arithmetic, a kernel gets its notebook's setting, a failure names it, and the
rotation covers every value of every knob.

Reproduce: python -m pytest tests/test_kernel_settings.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kernel_matrix
import kernel_settings
import nbformat
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from kernel_settings import ATEN, MKL, SETTINGS, THREADS, Setting

ROOT = Path(__file__).resolve().parent.parent

# float64 and float32 products, an SVD and a long sum, hashed: what each setting computes
FINGERPRINT = """
import hashlib, torch
torch.manual_seed(0)
a, b = torch.randn(257, 129, dtype=torch.float64), torch.randn(129, 301, dtype=torch.float64)
f = torch.randn(300, 200) @ torch.randn(200, 100)
parts = [a @ b, torch.linalg.svdvals(a), f, torch.randn(100_003, dtype=torch.float64).cumsum(0)]
print(torch.backends.cpu.get_cpu_capability(), *(hashlib.md5(p.numpy().tobytes()).hexdigest()[:12] for p in parts))
"""


def fingerprint(setting: Setting) -> list[str]:
    with kernel_settings.applied(setting):
        done = subprocess.run([sys.executable, "-c", FINGERPRINT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


needs_avx2 = pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
    reason="ATen's avx2 and default kernels are the same on a CPU without AVX2",
)


@needs_avx2
def test_each_knob_changes_the_arithmetic():
    """Else the suite would run every notebook under one arithmetic and call it several."""
    own = fingerprint(Setting("own", "own", 1))
    no_simd = fingerprint(Setting("default", "own", 1))
    assert no_simd[0] == "DEFAULT" and own[0] != "DEFAULT"
    assert no_simd[1:] != own[1:], "ATEN_CPU_CAPABILITY=default computed what the CPU's own kernels did"
    mkl = {level: fingerprint(Setting("own", level, 1))[1] for level in MKL}  # the float64 product
    assert len(set(mkl.values())) >= 2, f"every MKL_CBWR gave the same float64 product: {mkl}"


def test_the_settings_are_every_combination_once():
    assert len(SETTINGS) == len(ATEN) * len(MKL) * len(THREADS) == len(set(SETTINGS)) == 18
    assert SETTINGS[0] == Setting("own", "own", 1)  # the stored outputs' own setting
    assert {s.name for s in SETTINGS} == set(kernel_settings.BY_NAME)


def test_one_run_of_the_suite_covers_every_value_of_every_knob(monkeypatch):
    monkeypatch.delenv(kernel_settings.CHOOSE, raising=False)
    notebooks = kernel_settings.toc_notebooks()
    chosen = [kernel_settings.chosen(path) for path in notebooks]
    assert len(set(chosen)) == min(len(notebooks), len(SETTINGS)), "two notebooks share a setting"
    for knob, levels in (("aten", ATEN), ("mkl", MKL), ("threads", THREADS)):
        assert {getattr(s, knob) for s in chosen} == set(levels), knob
    assert kernel_settings.chosen(ROOT / "elsewhere.ipynb") == SETTINGS[0]  # not in _toc.yml


def test_ncutils_kernel_setting_chooses_one_for_every_notebook(monkeypatch):
    notebook = kernel_settings.toc_notebooks()[0]
    monkeypatch.setenv(kernel_settings.CHOOSE, "default/COMPATIBLE/2")
    assert kernel_settings.chosen(notebook) == Setting("default", "COMPATIBLE", 2)
    monkeypatch.setenv(kernel_settings.CHOOSE, "none")
    assert kernel_settings.chosen(notebook) is None


keys = st.sampled_from(["ATEN_CPU_CAPABILITY", "MKL_CBWR", "NCUTILS_THREADS", "OMP_WAIT_POLICY"])


@given(
    setting=st.sampled_from(SETTINGS),
    before=st.dictionaries(keys, st.text(st.characters(min_codepoint=48, max_codepoint=122), max_size=8)),
)
def test_applied_sets_the_setting_and_restores_the_environment(setting, before):
    """Property: inside the block the variables are the setting's (unset for 'own'); after it, the
    environment is what it was, whatever it held before."""
    saved = dict(os.environ)
    try:
        for key in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "NCUTILS_THREADS", "OMP_WAIT_POLICY"):
            os.environ.pop(key, None)
        os.environ.update(before)
        outside = dict(os.environ)
        with kernel_settings.applied(setting):
            for key, value in setting.environment().items():
                assert os.environ.get(key) == value
        assert dict(os.environ) == outside
    finally:
        os.environ.clear()
        os.environ.update(saved)


def probe_notebook(path: Path, stored: str) -> Path:
    """A one-cell notebook that prints what its kernel computes with, stored as having printed ``stored``."""
    cell = nbformat.v4.new_code_cell(
        "import os, torch, ncutils as nc\n"
        "nc.seed_everything(0, threads=1)\n"
        "print(torch.backends.cpu.get_cpu_capability() == 'DEFAULT', os.environ.get('MKL_CBWR'), torch.get_num_threads())",
        execution_count=1,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text=stored + "\n")],
    )
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def nbval(notebook: Path, setting: str) -> subprocess.CompletedProcess:
    """nbval on ``notebook`` (outside the book) with this plugin, every kernel under ``setting``."""
    command = [sys.executable, "-m", "pytest", "-p", "kernel_settings", "--nbval", "--nbval-current-env"]
    command += ["-p", "no:cacheprovider", str(notebook)]
    environment = {**os.environ, kernel_settings.CHOOSE: setting, "PYTHONPATH": str(ROOT / "tests")}
    return subprocess.run(command, cwd=notebook.parent, env=environment, capture_output=True, text=True, timeout=300)


@needs_avx2
def test_a_notebook_kernel_runs_under_its_setting_and_a_failure_names_it(tmp_path):
    notebook = probe_notebook(tmp_path / "probe.ipynb", "True COMPATIBLE 2")
    assert nbval(notebook, "default/COMPATIBLE/2").returncode == 0  # the kernel had the setting
    done = nbval(notebook, "own/own/1")  # ... and another one prints something else
    assert done.returncode == 1, done.stdout[-2000:]
    assert "kernel setting own/own/1" in done.stdout
    assert f"reproduce: {kernel_settings.CHOOSE}=own/own/1 python -m pytest" in done.stdout


def test_an_unknown_setting_is_one_clear_error():
    environment = {**os.environ, kernel_settings.CHOOSE: "avx9/own/1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "tests/test_tables.py"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "NCUTILS_KERNEL_SETTING='avx9/own/1' is not a setting; choose one of: none, own/own/1" in done.stderr


@needs_avx2
def test_the_matrix_runs_notebooks_under_settings_and_names_the_failures(tmp_path, capsys):
    notebook = probe_notebook(tmp_path / "probe.ipynb", "False None 1")  # what the CPU's own setting prints
    assert kernel_matrix.main([str(notebook), "--setting", "own/own/1", "--setting", "default/own/1"]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[-1].split() == ["probe.ipynb", "default/own/1"]  # the notebook and the one setting it failed under
