"""Run each notebook's kernel under a floating-point setting other than this machine's own.

A number that nbval compares must print the same on any x86-64 CPU. Other CPUs are not at hand,
but three knobs change the arithmetic on this one, which is how the suite checks that claim:

- ``ATEN_CPU_CAPABILITY``: which of ATen's vectorised kernels torch runs (``default``: no SIMD;
  ``avx2``; or unset, the CPU's own, AVX-512 where it has it);
- ``MKL_CBWR``: MKL's code path for float64 matrix products and decompositions (unset: MKL's own
  choice for this CPU, which differs between Intel and AMD parts; ``AVX2``: the path an AVX2 CPU
  takes; ``COMPATIBLE``: plain SSE2);
- ``NCUTILS_THREADS``: torch's thread count, 1 or 2 (read by ``nc.seed_everything``; a
  reduction split over two threads is summed in another order). ``OMP_WAIT_POLICY=PASSIVE``
  goes with it: it changes no number, only keeps idle threads from spinning.

Together 3 x 3 x 2 = 18 settings. In the README's test command, this pytest plugin (loaded from
``pyproject.toml``) starts each notebook's kernel under one of them, notebook i of ``_toc.yml``
under setting i (the first is this machine's own, the one the stored outputs are made with), so
that one run of the suite covers 14 of the 18 and every value of every knob; a failing cell's
report names its setting and the command that reproduces it. ``NCUTILS_KERNEL_SETTING`` chooses
one setting for every notebook (a name such as ``default/COMPATIBLE/2``, or ``none``: the kernels
inherit the environment untouched), and ``python tests/kernel_matrix.py`` runs every notebook
under every setting.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ATEN = ("own", "avx2", "default")
MKL = ("own", "COMPATIBLE", "AVX2")
THREADS = (1, 2)
CHOOSE = "NCUTILS_KERNEL_SETTING"


@dataclass(frozen=True)
class Setting:
    """One floating-point setting of a notebook kernel; ``own`` leaves a knob to the CPU."""

    aten: str
    mkl: str
    threads: int

    @property
    def name(self) -> str:
        return f"{self.aten}/{self.mkl}/{self.threads}"

    def environment(self) -> dict[str, str | None]:
        """The variables this setting sets (None: removed, so that the CPU's own choice applies)."""
        return {
            "ATEN_CPU_CAPABILITY": None if self.aten == "own" else self.aten,
            "MKL_CBWR": None if self.mkl == "own" else self.mkl,
            "NCUTILS_THREADS": str(self.threads),
            # two kernels of 2 threads each on 2 cores: OpenMP's busy waiting made them 15x slower
            "OMP_WAIT_POLICY": "PASSIVE",
        }

    def command(self, notebook: Path | str) -> str:
        """A shell command that runs ``notebook`` under nbval in this setting."""
        relative = Path(notebook).resolve()
        with contextlib.suppress(ValueError):
            relative = relative.relative_to(ROOT)
        return f"{CHOOSE}={self.name} python -m pytest {shlex.quote(str(relative))}"


def _settings() -> tuple[Setting, ...]:
    """All 18, ordered so that any 6 in a row cover every ATen level with both thread counts; the
    MKL level changes every 6, so the book's 14 notebooks meet all three."""
    return tuple(Setting(ATEN[i % 3], MKL[i // 6], THREADS[i % 2]) for i in range(len(ATEN) * len(MKL) * len(THREADS)))


SETTINGS = _settings()
BY_NAME = {setting.name: setting for setting in SETTINGS}


@functools.cache
def toc_notebooks() -> tuple[Path, ...]:
    """The notebooks of ``_toc.yml`` in order, resolved (read once per process)."""
    from regenerate_notebooks import toc_notebooks as listed  # beside this file

    return tuple(path.resolve() for path in listed())


def chosen(notebook: Path) -> Setting | None:
    """The setting of ``notebook``'s kernel: the one ``NCUTILS_KERNEL_SETTING`` names (None for
    ``none``), else its place in ``_toc.yml`` (a notebook not listed there: this machine's own)."""
    choice = os.environ.get(CHOOSE, "").strip()
    if choice == "none":
        return None
    if choice:
        return BY_NAME[choice]  # checked in pytest_configure
    listed, path = toc_notebooks(), notebook.resolve()
    return SETTINGS[listed.index(path) % len(SETTINGS)] if path in listed else SETTINGS[0]


@contextlib.contextmanager
def applied(setting: Setting | None):
    """``os.environ`` changed to ``setting`` inside the block (a kernel started there inherits it);
    afterwards the setting's variables are as they were, and nothing else is touched."""
    changes = setting.environment() if setting else {}
    saved = {key: os.environ.get(key) for key in changes}

    def put(values):
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    try:
        put(changes)
        yield
    finally:
        put(saved)


_SETTING = pytest.StashKey[Setting]()  # a notebook cell's setting, for its failure report


def _is_notebook_cell(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


# pytest hooks: this module is a plugin (``-p kernel_settings`` in pyproject.toml's addopts)


def pytest_configure(config):
    choice = os.environ.get(CHOOSE, "").strip()
    if choice and choice != "none" and choice not in BY_NAME:
        raise pytest.UsageError(f"{CHOOSE}={choice!r} is not a setting; choose one of: none, {', '.join(BY_NAME)}")


def pytest_report_header(config):
    choice = os.environ.get(CHOOSE, "").strip()
    if choice:
        return f"notebook kernels: {CHOOSE}={choice} for every notebook"
    return "notebook kernels: notebook i of _toc.yml under floating-point setting i of tests/kernel_settings.py"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel in the setup of its first cell: give it the setting."""
    if not _is_notebook_cell(item):
        yield
        return
    setting = chosen(item.path)
    item.stash[_SETTING] = setting
    # in a JUnit report (kernel_matrix.py reads it): which notebook, under which setting
    item.user_properties += [("notebook", str(item.path)), ("kernel_setting", setting.name if setting else "none")]
    with applied(setting):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _is_notebook_cell(item) and item.stash.get(_SETTING, None) is not None:
        setting = item.stash[_SETTING]
        variables = " ".join(f"{k}={'(unset)' if v is None else v}" for k, v in setting.environment().items())
        report.sections.append(
            (f"kernel setting {setting.name}", f"{variables}\nreproduce: {setting.command(item.path)}")
        )
