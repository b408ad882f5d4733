"""pytest reads this file when only notebooks are named (``python -m pytest book/x.ipynb``):
it gives their kernels the same environment as ``tests/conftest.py`` (which it runs), so
checking one notebook compares like with like."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[1] / "tests" / "conftest.py"))
