"""Where each (variant, seed) of a preset stands: ``python -m ncutils status PRESET --scale S --out DIR``.

One row per run, in one of five states:

* ``done``: its result file, of the preset's current configuration (fingerprint), is there;
* ``running``: a job of a job array that SLURM or this machine still runs (or has queued), or an
  in-process run that holds the folder's lock; with a local ``--array-parallelism``, the job that
  will train it in turn;
* ``stopped``: a checkpoint, and nothing running that would finish it: continue with ``--resume``;
* ``failed``: the loss diverged (``.diverged.json``), or the job ended with an error (the detail is
  the error's last line) or without a result and without a checkpoint;
* ``missing``: nothing yet, or its local job stopped before this run's turn came.

Job states come from ``.submitit/jobs.json`` (written by :mod:`ncutils.launcher`) and submitit:
SLURM's accounting (``sacct``) for SLURM jobs, the job's process for local ones. Without that file
(an in-process run) the state is read from the files alone.
"""

from __future__ import annotations

import logging
import pickle
import socket
from collections import Counter
from pathlib import Path

import torch

from .files import FileProblem, FolderLock, read_json
from .launcher import checkpoint_name, jobs_folder, pid_alive
from .preset import Preset
from .results import fingerprint, results_folder, run_path

STATES = ("done", "running", "stopped", "failed", "missing")
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL"}


def _checkpoint_step(folder: Path, label: str, seed: int, ours: str) -> int | None:
    """The step saved for this run: in its job's checkpoint, else in the in-process runner's one for the
    variant; None if neither holds this configuration's run. Tensors are mapped, not read."""
    for path in (folder / checkpoint_name(label, seed), folder / f"{label}.checkpoint.pt"):
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            seeds = saved["fingerprint"]["seeds"]
            if saved["fingerprint"]["preset"] == ours and seed in seeds:
                return int(saved["states"][seeds.index(seed)]["step"])
        except Exception:  # no file, or not one of ours: not a checkpoint of this run
            continue
    return None


class _PlainData(pickle.Unpickler):
    """Reads a pickle of plain data only (tuples, strings, numbers): a class or function named in the
    file is refused, so that a crafted file in the folder ``status`` is pointed at cannot run code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"it names {module}.{name}, and status reads plain data only")


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _job_state(job: dict, folder: Path) -> tuple[bool, str, str]:
    """(still running or queued, its state as a word, the last line of its error or ''), from submitit."""
    import submitit

    kind = submitit.SlurmJob if job["cluster"] == "slurm" else submitit.Job
    handle = kind(jobs_folder(folder), job["id"])
    if handle.paths.result_pickle.is_file():  # the job function returned or raised: submitit's pickle of
        try:  # ("success", what it returned: a line of text) or ("error", the traceback as text)
            with open(handle.paths.result_pickle, "rb") as f:
                outcome, value = _PlainData(f).load()
        except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as error:
            return False, "UNREADABLE", f"{handle.paths.result_pickle.name}: {error}"
        return False, "FAILED" if outcome == "error" else "FINISHED", _last_line(value) if outcome == "error" else ""
    if job["cluster"] == "slurm":
        logging.getLogger("submitit").setLevel(logging.ERROR)  # no sacct here: state UNKNOWN, said below
        state = handle.state.split()[0] if handle.state else "UNKNOWN"
        live = state not in ENDED
    elif job.get("host") != socket.gethostname():
        state, live = f"UNKNOWN (a process of {job.get('host')})", True
    else:
        live = pid_alive(int(job["id"]))
        state = "RUNNING" if live else "ENDED"
    return live, state, "" if live else _last_line(handle.stderr())


def run_state(folder: Path, preset: Preset, label: str, seed: int, job: dict | None, holder: str | None):
    """(state, detail) of one run; ``job``: its entry in ``jobs.json``; ``holder``: who holds the folder's lock."""
    ours = fingerprint(preset)
    other = ""
    if run_path(folder, label, seed).is_file():
        try:
            result = read_json(run_path(folder, label, seed))
        except FileProblem as error:
            return "failed", str(error)
        if result.get("fingerprint") == ours:
            return "done", f"{result.get('seconds', 0):.3g} s on {result.get('device', '?')}"
        other = f"{run_path(folder, label, seed).name} is a result of another configuration"
    diverged = folder / f"{label}_seed{seed}.diverged.json"
    if diverged.is_file():
        partial = read_json(diverged, fix="delete it")
        if partial.get("fingerprint") == ours:
            return "failed", partial.get("message", "the loss diverged")
    step = _checkpoint_step(folder, label, seed, ours)
    saved = "" if step is None else f"checkpoint at step {step} of {preset.steps}"
    if job is not None:
        live, state, error = _job_state(job, folder)
        where = f"{job['cluster']} job {job['id']}: {state}"
        turn = f"{job['turn']} of {job['turns']}" if "turns" in job else None  # a local job training runs in turn
        if live:
            if turn:
                where += f" (this run is its {turn}, in turn)"
            return "running", ", ".join(filter(None, [where, saved]))
        if error:
            return "failed", f"{where}: {error}"
    elif holder is not None:
        return "running", ", ".join(filter(None, [f"in-process run ({holder})", saved]))
    if step is not None:
        return "stopped", f"{saved}: continue with --resume"
    if job is not None and turn:  # its job ended before this run began
        return "missing", f"{where} before this run's turn ({turn}): submit again with --resume"
    if job is not None:
        return "failed", f"{where} without a result or a checkpoint: submit it again"
    return "missing", other


def status(preset: Preset, out, seeds: int | None = None) -> list[tuple[str, int, str, str]]:
    """(variant, seed, state, detail) of every run of ``preset`` in ``OUT/<preset>/<scale>/``: seeds
    ``0..seeds-1`` (default: the preset's), and any other seed a job was submitted for."""
    folder = results_folder(out, preset)
    manifest = jobs_folder(folder) / "jobs.json"
    jobs = read_json(manifest, what="job list", fix="delete it") if manifest.is_file() else {}
    holder = FolderLock(folder).holder()
    if any(job["cluster"] == "slurm" for job in jobs.values()):
        import submitit

        for job in jobs.values():  # registered together, their states come from one call of sacct
            if job["cluster"] == "slurm":
                submitit.SlurmJob(jobs_folder(folder), job["id"])
    rows = []
    for variant in preset.variants:
        numbers = set(range(preset.seeds if seeds is None else seeds))
        numbers |= {int(k.rsplit("_seed", 1)[1]) for k in jobs if k.rsplit("_seed", 1)[0] == variant.label}
        for seed in sorted(numbers):
            job = jobs.get(run_path(folder, variant.label, seed).stem)
            rows.append((variant.label, seed, *run_state(folder, preset, variant.label, seed, job, holder)))
    return rows


def table(rows) -> str:
    """The rows as an aligned table, then one line of counts."""
    header = ("variant", "seed", "state", "detail")
    cells = [header, *[(label, str(seed), state, detail) for label, seed, state, detail in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths)), row[3]]).rstrip() for row in cells]
    counts = Counter(state for _, _, state, _ in rows)
    lines.append(f"{len(rows)} run(s): " + ", ".join(f"{counts[s]} {s}" for s in STATES))
    return "\n".join(lines)
