"""Publish the book from a repository: one command sets the repository's URL everywhere it is needed.

    python tests/publish.py https://github.com/OWNER/REPO    # set the URL
    python tests/publish.py --check                          # exit 1 if a notebook disagrees with _config.yml

It writes the URL into ``_config.yml`` (``repository.url``: the Colab and Binder launch buttons,
which ``book/_ext/launch.py`` shows only once a URL is set) and into the first code cell of every
notebook, the setup cell, which installs ``ncutils`` from that repository where it is missing (on
Colab) and does nothing where it is installed (a local install, Binder, CI). Without a URL, the setup
cell says how to install ``ncutils`` from a checkout instead. The cell's output is empty either way
where ``ncutils`` is installed, so the notebooks need no re-execution.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL_LINE = re.compile(r"^(  url: )\"(.*)\"(.*)$", re.MULTILINE)  # repository.url in _config.yml

SETUP_CELL = """\
# Setup, for Colab: install this book's library, ncutils, from the book's repository (the package
# called ncutils on PyPI is another one). Where ncutils is installed already, this does nothing.
import importlib.util
import subprocess
import sys

NCUTILS_SOURCE = "{source}"  # set by `python tests/publish.py URL`
if importlib.util.find_spec("ncutils") is None:
    if not NCUTILS_SOURCE:
        raise ModuleNotFoundError("ncutils is missing: in the book's folder, run `python -m pip install -e .`")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", NCUTILS_SOURCE], check=True)"""
SETUP_TAGS = ["remove-cell"]  # the HTML book's readers do not run anything


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` of the book's ``_config.yml`` ('' where none is set)."""
    config = root / "_config.yml"
    match = URL_LINE.search(config.read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f'{config}: no `repository:` block with a `  url: "..."` line')
    return match.group(2)


def source_for(url: str) -> str:
    """The pip source of ``ncutils`` in the repository at ``url`` ('' for no URL)."""
    return f"git+{url}" if url else ""


def setup_cell(url: str) -> str:
    return SETUP_CELL.format(source=source_for(url))


def notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks the book's ``_toc.yml`` lists."""
    from regenerate_notebooks import toc_files  # beside this file

    names = [str(Path(name).with_suffix("")) for name in toc_files(root / "_toc.yml")]
    return [root / f"{name}.ipynb" for name in names if (root / f"{name}.ipynb").is_file()]


def write_setup_cells(url: str, root: Path = ROOT) -> list[Path]:
    """Make every notebook's first code cell (after its title) the setup cell for ``url``, inserting
    it where a notebook has none; the notebooks changed."""
    changed = []
    for path in notebooks(root):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        source = setup_cell(url)
        cells = notebook["cells"]
        at = next((i for i, cell in enumerate(cells) if cell["cell_type"] == "code"), len(cells))
        first = cells[at] if at < len(cells) else None
        is_setup = first is not None and "NCUTILS_SOURCE" in "".join(first["source"])
        if is_setup and "".join(first["source"]) == source:
            continue
        lines = source.splitlines(keepends=True)
        if is_setup:
            first["source"] = lines
        else:
            cell = {"cell_type": "code", "execution_count": None, "metadata": {"tags": SETUP_TAGS}, "outputs": []}
            cells.insert(at, {**cell, "id": "setup", "source": lines})
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        changed.append(path)
    return changed


def set_repository(url: str, root: Path = ROOT) -> None:
    """Write ``url`` into ``root``'s ``_config.yml`` and its notebooks' setup cells."""
    if url and not re.fullmatch(r"https://(github\.com|gitlab\.com|bitbucket\.org)/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"url: expected https://github.com/OWNER/REPO (or GitLab, Bitbucket), got {url!r}")
    config = root / "_config.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(URL_LINE.sub(lambda m: f'{m.group(1)}"{url}"{m.group(3)}', text, count=1), encoding="utf-8")
    write_setup_cells(url, root)


def disagreeing(root: Path = ROOT) -> list[str]:
    """Notebooks whose first code cell is not the setup cell for ``_config.yml``'s URL."""
    expected = setup_cell(repository_url(root))
    wrong = []
    for path in notebooks(root):
        code = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        if not code or "".join(code[0]["source"]) != expected:
            wrong.append(path.name)
    return wrong


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/REPO ('' to unset)")
    parser.add_argument("--check", action="store_true", help="only check that the notebooks agree with _config.yml")
    args = parser.parse_args(argv)
    if args.check or args.url is None:
        wrong = disagreeing()
        if wrong:
            print(f"setup cells disagree with _config.yml's repository.url in: {', '.join(wrong)}", file=sys.stderr)
            print("run: python tests/publish.py URL", file=sys.stderr)
        return 1 if wrong else 0
    set_repository(args.url.rstrip("/"))
    print(f"repository.url = {args.url!r} in _config.yml and in the setup cell of {len(notebooks())} notebooks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
