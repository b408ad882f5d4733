"""Re-execute the book's notebooks in place, the same way every time, so nbval can compare against them.

    python tests/regenerate_notebooks.py                       # every notebook listed in _toc.yml
    python tests/regenerate_notebooks.py book/a.ipynb ...      # only these
    python tests/regenerate_notebooks.py --jobs 1              # one at a time (default: 2)

Each notebook runs top to bottom in a fresh ``python3`` kernel, in its own folder (as nbval and
jupyter-book run it), with ``CI=true`` (progress bars off), ``PYTHONHASHSEED=0`` and no
``MPLBACKEND`` (inline figures): the environment ``tests/conftest.py`` gives nbval. Volatile
metadata (cell timings, widget state) is dropped so that diffs stay small. A notebook in which a
cell raises is not overwritten, and the script exits non-zero. Run it on a CPU: nbval compares
printed numbers, and a GPU changes their last digits.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 600  # seconds per cell
KERNEL = "python3"


def toc_files(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """Every ``file:`` entry of a Jupyter Book table of contents, in order, as written there."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return found


def toc_notebooks() -> list[Path]:
    """The notebooks the book shows: entries of _toc.yml that exist as .ipynb files."""
    paths = [ROOT / Path(name).with_suffix(".ipynb") for name in toc_files()]
    return [p for p in paths if p.is_file()]


def set_environment() -> None:
    """The environment nbval's kernels get: run tests/conftest.py itself (kernels inherit it)."""
    runpy.run_path(str(Path(__file__).with_name("conftest.py")))


def strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Drop what changes from run to run without meaning anything: timings, widget state, and the
    way the kernel happened to split a cell's printed text into stream chunks."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.metadata.pop("collapsed", None)
            cell.metadata.pop("scrolled", None)
            cell.outputs = merge_streams(cell.outputs)


def merge_streams(outputs: list) -> list:
    """Consecutive outputs of one stream (stdout or stderr) as one output."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def run_one(path: Path) -> tuple[Path, bool, float, str]:
    """Execute one notebook; write it back only if no cell raised."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        return path, False, time.perf_counter() - start, str(error)
    except Exception as error:  # kernel died, timeout, ...
        return path, False, time.perf_counter() - start, f"{type(error).__name__}: {error}"
    seconds = time.perf_counter() - start
    strip_volatile(nb)
    nbformat.write(nb, path)
    return path, True, seconds, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all in _toc.yml)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run in parallel (default: 2)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    bad = [str(p) for p in notebooks if p.suffix != ".ipynb" or not p.is_file()]
    if bad:
        parser.error(f"not a notebook file: {', '.join(bad)}")
    if not notebooks:
        print("no notebooks listed in _toc.yml", file=sys.stderr)
        return 1

    set_environment()
    print(f"running {len(notebooks)} notebook(s), {args.jobs} at a time, {CELL_TIMEOUT} s per cell at most", flush=True)
    failed = []
    total = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(args.jobs, len(notebooks))) as pool:
        for path, ok, seconds, message in pool.map(run_one, notebooks):
            name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            if ok:
                print(f"{seconds:7.1f} s  {name}", flush=True)
            else:
                failed.append(name)
                print(f"{seconds:7.1f} s  {name}  FAILED (not overwritten)\n{message}", file=sys.stderr, flush=True)
    print(f"{time.perf_counter() - total:7.1f} s  in all", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
