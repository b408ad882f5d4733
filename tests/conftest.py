"""Test-session environment, shared by the unit tests and by nbval's notebook kernels.

The stored notebook outputs were made by ``tests/regenerate_notebooks.py`` with this same
environment, so a local ``python -m pytest`` compares like with like:

- ``CI=true``: ncutils' progress bars are off (a tqdm bar would be an extra output);
- ``PYTHONHASHSEED=0``: the same hash seed in every kernel;
- no ``MPLBACKEND``: each kernel picks matplotlib's inline backend, so figures are outputs,
  as in the stored notebooks. This pytest process itself draws with Agg (headless).

Kernels and pytest-xdist workers are started after this module runs and inherit its
environment. pytest loads this file when an argument lies under ``tests/`` (the default
``testpaths`` includes it); to check a single notebook, name a test file too, e.g.
``python -m pytest tests/test_notebooks_stored.py book/neural_collapse.ipynb``.
"""

import os
import signal
from pathlib import Path

import matplotlib
import pytest
import torch

os.environ["CI"] = "true"
os.environ["PYTHONHASHSEED"] = "0"
os.environ.pop("MPLBACKEND", None)
matplotlib.use("Agg")


@pytest.fixture
def one_thread():
    """One torch CPU thread for the duration of a test (runs of tiny presets: bit-identical numbers
    from run to run, and no oversubscription beside pytest-xdist's other worker)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def interruptible():
    """Python's own Ctrl-C and SIGTERM handling for the test (a process started in the background
    inherits SIGINT ignored, and ``train`` leaves an ignored signal ignored)."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)


def build_book(out: Path, root: Path | None = None, **environment) -> Path:
    """The HTML book (this one, or a copy at ``root``) built into ``out`` (see ``tests/build_pdf.py``);
    fails the test if the build fails."""
    from build_pdf import ROOT
    from build_pdf import build_book as build

    try:
        return build(out, "html", root or ROOT, **environment)
    except SystemExit as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def book_builder():
    """:func:`build_book`, for tests that build another edition (a fixture: ``book/conftest.py``
    shadows this module's name for a plain import)."""
    return build_book


@pytest.fixture(scope="session")
def html(tmp_path_factory) -> Path:
    """The book as the README builds it."""
    return build_book(tmp_path_factory.mktemp("book"))
