"""The runner's results: which configuration a folder holds, the runs of a preset, their metric
curves and seed statistics.

The book's Experiments notebooks read ``book/results/<preset>/<scale>/`` through these
functions; nothing here trains. A folder holds the results of one configuration (its
:func:`fingerprint`): :func:`check_folder` refuses (or, told to, removes) results of another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .files import FileProblem, read_json
from .history import History
from .preset import Preset

RESULTS_ENV = "NCUTILS_RESULTS"  # where the book's notebooks look for results (default: book/results)
SCALE_ENV = "NCUTILS_SCALE"  # which scale they read (default: laptop)


def results_dir(default: str | os.PathLike = "results") -> Path:
    """The results folder: ``$NCUTILS_RESULTS`` if set, else ``default`` (the book's notebooks
    run in ``book/``, where ``results`` holds the shipped laptop-scale runs)."""
    return Path(os.environ.get(RESULTS_ENV) or default)


# Fields that say nothing about how a network is trained: editing them keeps a run's fingerprint.
NOT_CONFIGURATION = ("figure", "description", "notes", "seeds")


# Fields added to Preset after results were shipped, with the default that reproduces the older runs:
# at that default they are left out, so that those runs keep their fingerprint.
ADDED_LATER = {"linear_init_scale": 1.0, "loss": "mse"}


def _without_unset(fields: dict) -> dict:
    """The configuration fields of a preset's dict: without the descriptive ones, nor fields added
    later that are at their older default."""
    return {
        k: v for k, v in fields.items() if k not in NOT_CONFIGURATION and not (k in ADDED_LATER and v == ADDED_LATER[k])
    }


def configuration(preset: Preset) -> dict:
    """Every field of the preset that changes what a (variant, seed) run computes, as plain JSON."""
    return json.loads(json.dumps(_without_unset(dataclasses.asdict(preset))))


def fingerprint(preset: Preset) -> str:
    """A short hash of :func:`configuration`: scale, steps, schedule, every variant, ... (not the
    number of seeds, nor the descriptive text)."""
    text = json.dumps(configuration(preset), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def results_folder(out: str | os.PathLike, preset: Preset) -> Path:
    return Path(out) / preset.name / preset.scale


def run_path(folder: Path, variant: str, seed: int) -> Path:
    return folder / f"{variant}_seed{seed}.json"


def _difference(there, here, where: str = "") -> str:
    """The first field where two configurations differ, as 'steps: 4000 there, 20 here'."""
    if isinstance(there, dict) and isinstance(here, dict):
        for key in sorted(set(there) | set(here)):
            if there.get(key) != here.get(key):
                return _difference(there.get(key), here.get(key), f"{where}.{key}" if where else key)
    if isinstance(there, list) and isinstance(here, list) and len(there) == len(here):
        for i, (a, b) in enumerate(zip(there, here)):
            if a != b:
                return _difference(a, b, f"{where}[{i}]")
    if there == here:
        return "same settings, another fingerprint (written by another version of ncutils)"
    return f"{where or 'configuration'}: {there!r} there, {here!r} here"


def check_folder(folder: Path, preset: Preset, overwrite: bool) -> None:
    """Refuse a folder that holds results of another configuration (or remove them: ``overwrite``)."""
    ours = fingerprint(preset)
    here = configuration(preset)
    fix = "use another --out, or --overwrite to replace them"
    for path in result_files(folder, diverged=True):
        try:
            result = read_json(path, fix=f"delete it, or {fix}")
        except FileProblem:
            if not overwrite:
                raise
            result = {}
        if result.get("fingerprint") != ours:
            if overwrite:
                path.unlink()
                continue
            there = _without_unset(result.get("preset_config", {}))
            difference = _difference(there, here)
            raise FileProblem(f"{folder} holds results of another configuration ({path.name}: {difference}); {fix}")


def stale_seeds(folder: Path, preset: Preset, seeds: Sequence[int]) -> dict[str, list[int]]:
    """Seeds of each variant that the folder holds beyond ``seeds`` (from an earlier, larger run)."""
    stale = {}
    for variant in preset.variants:
        found = sorted(
            int(p.stem.rsplit("_seed", 1)[1])
            for p in folder.glob(f"{variant.label}_seed*.json")
            if p.stem.rsplit("_seed", 1)[1].isdigit()
        )
        extra = [s for s in found if s not in seeds]
        if extra:
            stale[variant.label] = extra
    return stale


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
