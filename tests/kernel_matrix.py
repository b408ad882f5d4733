"""Run every notebook under every floating-point setting of ``tests/kernel_settings.py``.

    python tests/kernel_matrix.py                          # all 18 settings, every notebook of _toc.yml
    python tests/kernel_matrix.py --setting own/own/2 --setting default/COMPATIBLE/1 book/wide_phase2.ipynb
    python tests/kernel_matrix.py --log-dir matrix-logs    # keep each setting's pytest output

The README's test command runs each notebook under one setting; this is the full check, for a
change that touches many printed numbers (about 2.5 minutes a setting on 2 cores, 45 in all).
It prints one row per notebook and one column per setting, and exits non-zero if any cell failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from kernel_settings import BY_NAME, CHOOSE, ROOT, SETTINGS, toc_notebooks


def failed_cells(junit: Path) -> dict[str, list[str]]:
    """{notebook name: [its failed or erroring cells]} from a pytest JUnit XML report, whose cells
    carry their notebook as a property (set by kernel_settings.py)."""
    failed: dict[str, list[str]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        notebook = next((p.get("value") for p in case.iter("property") if p.get("name") == "notebook"), "?")
        failed.setdefault(Path(notebook).name, []).append(case.get("name", "?"))
    return failed


def run_setting(name: str, notebooks: list[Path], log_dir: Path | None) -> dict[str, list[str]]:
    """nbval over ``notebooks`` with every kernel in setting ``name``; the failures by notebook."""
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "report.xml"
        # -c: the book's pytest options (nbval, this plugin) also for a notebook outside the book
        command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "-q", f"--junitxml={junit}"]
        command += [*map(str, notebooks)]
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, CHOOSE: name}, capture_output=True, text=True)
        if log_dir is not None:
            (log_dir / f"{name.replace('/', '_')}.log").write_text(done.stdout + done.stderr)
        if not junit.exists():
            raise SystemExit(f"pytest under {name} wrote no report (exit {done.returncode}):\n{done.stdout[-2000:]}")
        return failed_cells(junit)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of _toc.yml")
    parser.add_argument("--setting", action="append", dest="settings", metavar="NAME", help="repeatable; default: all")
    parser.add_argument("--log-dir", type=Path, help="write each setting's pytest output here")
    args = parser.parse_args(argv)
    args.settings = args.settings or [s.name for s in SETTINGS]
    unknown = [name for name in args.settings if name not in BY_NAME]
    if unknown:
        parser.error(f"--setting: {', '.join(unknown)} not among {', '.join(BY_NAME)}")
    notebooks = [p.resolve() for p in args.notebooks] or list(toc_notebooks())
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)

    failures = {}
    for name in args.settings:
        failures[name] = run_setting(name, notebooks, args.log_dir)
        bad = failures[name]
        print(f"{name:22} {'all pass' if not bad else '; '.join(f'{n}: {len(c)} cells' for n, c in bad.items())}")
        sys.stdout.flush()

    width = max(len(p.name) for p in notebooks)
    print(f"\n{'notebook':{width}}  failed under")
    for path in notebooks:
        under = [name for name in args.settings if path.name in failures[name]]
        print(f"{path.name:{width}}  {', '.join(under) if under else '-'}")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
