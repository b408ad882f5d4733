"""Reading the runner's results: the runs of a preset, their metric curves and seed statistics.

The book's Experiments notebooks read ``book/results/<preset>/<scale>/`` through these
functions; nothing here trains or writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import FileProblem, read_json
from .history import History

RESULTS_ENV = "NCUTILS_RESULTS"  # where the book's notebooks look for results (default: book/results)
SCALE_ENV = "NCUTILS_SCALE"  # which scale they read (default: laptop)


def results_dir(default: str | os.PathLike = "results") -> Path:
    """The results folder: ``$NCUTILS_RESULTS`` if set, else ``default`` (the book's notebooks
    run in ``book/``, where ``results`` holds the shipped laptop-scale runs)."""
    return Path(os.environ.get(RESULTS_ENV) or default)


def result_files(folder: Path, diverged: bool = False) -> list[Path]:
    """The result files of one preset folder, sorted (``diverged``: with the partial ones of diverged runs)."""
    paths = sorted(Path(folder).glob("*_seed*.json"))
    return paths if diverged else [p for p in paths if not p.name.endswith(".diverged.json")]


def load_runs(preset: str, folder: str | os.PathLike | None = None, scale: str | None = None) -> list[dict]:
    """Every run of ``preset`` at ``scale`` (default ``$NCUTILS_SCALE``, else ``laptop``) in ``folder``
    (default :func:`results_dir`), ordered by
    variant, then seed. Runs of different configurations are never mixed: if the files disagree,
    one :class:`~ncutils.files.FileProblem` names two of them."""
    folder = Path(folder) if folder is not None else results_dir()
    scale = scale or os.environ.get(SCALE_ENV) or "laptop"
    where = folder / preset / scale
    paths = result_files(where)
    if not paths:
        raise FileNotFoundError(
            f"no results of preset {preset!r} at scale {scale!r} in {str(where)!r}: run "
            f"`python -m ncutils run {preset} --scale {scale} --out {folder}` first"
        )
    fix = f"delete it, or run `python -m ncutils run {preset} --scale {scale} --out {folder} --overwrite`"
    runs = [read_json(p, fix=fix) for p in paths]
    for path, run in zip(paths, runs):
        if "fingerprint" not in run or "history" not in run:
            raise FileProblem(f"the result file {path} was not written by this version of ncutils; {fix}")
        if run["fingerprint"] != runs[0]["fingerprint"]:
            raise FileProblem(
                f"{paths[0].name} and {path.name} in {where} are runs of different configurations "
                f"(fingerprints {runs[0]['fingerprint']} and {run['fingerprint']}); they are not mixed: {fix}"
            )
    order = {v["label"]: i for i, v in enumerate(runs[0]["preset_config"]["variants"])}
    return sorted(runs, key=lambda r: (order.get(r["variant"], len(order)), r["seed"]))


def by_variant(runs: list[dict]) -> dict[str, list[dict]]:
    """Group runs by variant label (in preset order)."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(run["variant"], []).append(run)
    return groups


def history_of(run: dict) -> History:
    """A run's metric history as a :class:`~ncutils.History` (``.metric(name, layer)`` etc.)."""
    return History.from_dict(run["history"])


def metric_curves(runs: list[dict], name: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, seeds × recorded-steps array) of one metric at one layer over several runs.

    Values are returned as stored, never averaged: NC2 is ``inf`` at a step where the class
    means have rank below K (``means_rank`` says so), NaN where a metric does not apply.
    """
    histories = [history_of(r) for r in runs]
    steps = np.array(histories[0].steps)
    if any(h.steps != histories[0].steps for h in histories):
        raise ValueError("the runs recorded different steps; compare runs of one preset and variant")
    return steps, np.stack([h.metric(name, layer) for h in histories])


def final_metric(runs: list[dict], name: str, layer: int) -> np.ndarray:
    """The last recorded value of one metric at one layer, one entry per run (``inf`` kept as is)."""
    return np.array([history_of(r).metric(name, layer)[-1] for r in runs])


def seed_band(values, log: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, low, high) over seeds (the rows of ``values``), column by column.

    ``log``: the geometric mean and a multiplicative ±1 standard-deviation band (the mean
    and standard deviation of log10 of the values); else the mean ± 1 standard deviation.
    An infinite value is not averaged away: where any seed is ``+inf`` (NC2 of class means
    of rank < K) the centre is ``inf`` and the band is NaN, so nothing finite is made up.
    """
    values = np.asarray(values, dtype=float)
    infinite = np.isposinf(values).any(axis=0)
    finite = np.where(infinite, 1.0, values)  # placeholders, overwritten below: no warning, no silent mean
    if log:
        logs = np.log10(finite)
        mean, std = logs.mean(0), logs.std(0)
        centre, low, high = 10**mean, 10 ** (mean - std), 10 ** (mean + std)
    else:
        centre, std = finite.mean(0), finite.std(0)
        low, high = centre - std, centre + std
    centre = np.where(infinite, np.inf, centre)
    low, high = np.where(infinite, np.nan, low), np.where(infinite, np.nan, high)
    return centre, low, high


def seed_mean_std(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds (the rows of ``values``), for tables.

    The rule of :func:`seed_band`: where any seed is ``+inf`` (NC2 of class means of rank
    < K) the mean is ``inf`` and the standard deviation NaN, never a finite average.
    """
    centre, _, high = seed_band(values, log=False)
    return centre, high - centre
