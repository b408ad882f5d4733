"""Run a preset's sweep as a job array, one job per (variant, seed), through submitit.

    python -m ncutils run mlp_head_depth --scale paper --launcher slurm --partition gpu --time 240
    python -m ncutils status mlp_head_depth --scale paper --out results

``--launcher local`` starts the jobs as processes of this machine; ``--launcher slurm`` submits them
to SLURM as one job array (``sbatch``). With ``--array-parallelism N``, SLURM runs at most N jobs of
the array at once; locally, N jobs are started instead, each training its share of the runs one
after another (a machine's cores or its GPU's memory would not hold 30 trainings at once). Each
(variant, seed) is trained by :func:`~ncutils.runner.run_variant`, the in-process runner's own code,
which writes the same ``<variant>_seed<k>.json`` into ``OUT/PRESET/SCALE/``:
:func:`~ncutils.results.load_runs` reads the folder of a job array as it reads that of an
in-process run.

A run checkpoints into ``<variant>_seed<k>.checkpoint.pt`` and always continues from there. SIGTERM
stops it at the end of the current step, with that step saved. submitit's signal for pre-emption
and time limits (SIGUSR2; SLURM sends it 90 s before the limit) does the same, then requeues the job
through the ``checkpoint`` method of ``submitit.helpers.Checkpointable``. A job killed outright
continues from its last checkpoint when the sweep is submitted again with ``--resume``, which
submits only the runs that are neither done nor running.

Jobs take no lock: the folder's configuration is checked once, at submission, under the folder's
lock, and the data are loaded once there, so that a missing file stops the submission rather than
every job. submitit's logs and pickles, and ``jobs.json`` (which job trains which run, for
:mod:`ncutils.status`), are kept in ``OUT/PRESET/SCALE/.submitit/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

from .catalogue import get_preset
from .files import FileProblem, FolderLock, read_json, writable_folder, write_json_atomic
from .history import TrainingInterrupted
from .preset import Preset, PresetError, load_data
from .results import check_folder, results_folder, run_path
from .runner import run_variant
from .utils import pick_device

LAUNCHERS = ("inprocess", "local", "slurm")
LOCAL_TIME_LIMIT = 7 * 24 * 60  # minutes: submitit's local executor would stop a job after 2 minutes
SLURM_TIME_LIMIT = 240  # minutes, when --time is not given (submitit's own default is 5)


class LauncherError(ValueError):
    """submitit missing, no SLURM here, or a submission that failed (a usage error: exit code 2)."""


def import_submitit():
    """submitit, imported when a job array is asked for: ncutils works without it."""
    try:
        import submitit
    except ImportError:
        raise LauncherError(
            "--launcher local and slurm need submitit: pip install 'submitit>=1.5' (or pip install -e '.[cluster]')"
        ) from None
    return submitit


def checkpoint_name(label: str, seed: int) -> str:
    return f"{label}_seed{seed}.checkpoint.pt"


def jobs_folder(folder: Path) -> Path:
    """Where submitit keeps its logs and pickles, and ``jobs.json``."""
    return Path(folder) / ".submitit"


def executor_options(launcher, *, partition=None, gpus=None, minutes=None, cpus=None, parallelism=None) -> dict:
    """The command line's options as ``submitit.AutoExecutor`` parameters (for ``update_parameters``)."""
    options = {"timeout_min": minutes or (SLURM_TIME_LIMIT if launcher == "slurm" else LOCAL_TIME_LIMIT)}
    if gpus is None:  # a GPU per job on SLURM, and locally where this machine has one: submitit's local
        gpus = int(launcher == "slurm" or torch.cuda.is_available())  # jobs see no GPU when given none
    options["gpus_per_node"] = gpus
    if launcher == "slurm":
        chosen = {"slurm_partition": partition, "cpus_per_task": cpus, "slurm_array_parallelism": parallelism}
        options.update({k: v for k, v in chosen.items() if v is not None})
    return options


class RunJob:
    """One job of the array: ``RunJob(preset, folder, ...)(label, seed)`` trains that (variant, seed)
    with :func:`run_variant`, from its checkpoint if there is one, and returns a line saying how it ended.

    ``checkpoint`` is the protocol of ``submitit.helpers.Checkpointable`` (the same call, requeued);
    the class does not derive from it so that ncutils imports without submitit.
    """

    def __init__(self, preset, folder, *, device="auto", data_root="data", overwrite=False, threads=None, command=""):
        self.preset, self.folder, self.device, self.data_root = preset, Path(folder), device, data_root
        self.overwrite, self.threads, self.command = overwrite, threads, command

    def __call__(self, label: str, seed: int) -> str:
        if self.threads:
            torch.set_num_threads(self.threads)
        variant = {v.label: v for v in self.preset.variants}[label]
        data = load_data(self.preset, self.data_root)
        with _preemption_stops_training() as requeue:
            try:
                (output,) = run_variant(
                    self.preset,
                    variant,
                    data,
                    [seed],
                    device=self.device,
                    folder=self.folder,
                    resume=True,
                    overwrite=self.overwrite,
                    command=self.command,
                    checkpoint_name=checkpoint_name(label, seed),
                )
            except TrainingInterrupted as stop:
                print(f"{label} seed {seed}: {stop}; the state is saved in {stop.checkpoint}", flush=True)
                if requeue is not None and stop.signal_name == requeue.signal_name:
                    requeue()  # submitit calls self.checkpoint(label, seed), requeues the job and exits
                return f"stopped: {stop}"
        print(f"{label} seed {seed}: done, {output.path}", flush=True)
        return f"done: {output.path}"

    def checkpoint(self, *args, **kwargs):
        """What submitit requeues after pre-emption or a time-out: the same call, which resumes."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


class RunJobsInTurn:
    """One local job that trains several runs one after another: ``RunJobsInTurn(job)(runs)`` calls
    ``job(label, seed)`` for each ``(label, seed)`` of ``runs``. A run that fails (a diverged loss, say)
    does not keep the next ones from training; the job then raises one error naming every failed run.
    It stops at the first run that is stopped (SIGTERM or pre-emption), so that a stopped job trains
    nothing more. Requeued, it calls the same list again, and the runs already done are read, not
    trained again (``run_variant`` resumes a finished run by reading it)."""

    def __init__(self, job: RunJob):
        self.job = job

    def __call__(self, runs) -> str:
        lines, failures = [], []
        for label, seed in runs:
            try:
                lines.append(self.job(label, seed))
            except Exception as error:  # one run's failure, said again after the other runs
                print(f"{label} seed {seed}: failed: {error}", flush=True)
                failures.append(f"{label} seed {seed}: {type(error).__name__}: {error}")
                continue
            if lines[-1].startswith("stopped"):
                break
        if failures:
            raise RuntimeError(f"{len(failures)} of this job's runs failed: " + "; ".join(failures))
        return "\n".join(lines)

    checkpoint = RunJob.checkpoint  # requeued after pre-emption: the same call, whose runs resume


def in_turns(runs: list, parallelism: int | None) -> list[list]:
    """``runs`` dealt to ``parallelism`` jobs in turn (run i to job i mod N), or one job per run."""
    if parallelism is None or parallelism >= len(runs):
        return [[run] for run in runs]
    return [runs[j::parallelism] for j in range(parallelism)]


@contextmanager
def _preemption_stops_training():
    """Under submitit, its pre-emption signal (SIGUSR2) stops training at the end of the current step, as
    SIGTERM does, so that run_variant saves that step. Yields a function that hands the job back to
    submitit's handler (checkpoint, requeue, exit), or None outside submitit. Outside training, the
    signal goes to submitit's handler at once: the job resumes from its last checkpoint."""
    import submitit

    signum = getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG, None)
    submitits = None if signum is None else signal.getsignal(signum)
    if not callable(submitits) or threading.current_thread() is not threading.main_thread():
        yield None
        return
    idle = signal.getsignal(signal.SIGTERM)

    def stop(sig, frame):
        training = signal.getsignal(signal.SIGTERM)  # train() asks the loop to stop through this handler
        (submitits if training is idle or not callable(training) else training)(sig, frame)

    def requeue():
        submitits(signum, None)

    requeue.signal_name = signal.Signals(signum).name
    signal.signal(signum, stop)
    try:
        yield requeue
    finally:
        signal.signal(signum, submitits)


def submit(
    preset: str | Preset,
    scale: str = "laptop",
    *,
    launcher: str = "local",
    out="results",
    seeds: int | None = None,
    device: str = "auto",
    data_root="data",
    resume: bool = False,
    overwrite: bool = False,
    threads: int | None = None,
    command: str = "",
    options: dict | None = None,
    parallelism: int | None = None,
) -> list[tuple[str, int, object]]:
    """Submit one job per (variant, seed) not done yet; return ``(label, seed, submitit job)`` for each.

    ``parallelism``: at most that many runs train at once. On SLURM it is the job array's limit
    (pass it in ``options`` too, as :func:`executor_options` does); locally, the runs are dealt to
    that many jobs, each training its share in turn (see :func:`in_turns`), so that several runs
    then share one job.

    Under the folder's lock: the folder is checked to hold no results of another configuration
    (``overwrite`` removes them) and, unless ``resume``, no finished or checkpointed run of this one;
    with ``resume``, runs whose job is still queued or running get no second one.
    ``options``: parameters of ``submitit.AutoExecutor`` (see :func:`executor_options`). Raises
    :class:`LauncherError`, :class:`PresetError`, :class:`~ncutils.files.FileProblem`, and what
    :func:`~ncutils.preset.load_data` raises for missing data files.
    """
    submitit = import_submitit()
    preset = get_preset(preset, scale) if isinstance(preset, str) else preset
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1):
        raise PresetError(f"seeds must be a positive int, got {seeds!r}")
    if parallelism is not None and (
        not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1
    ):
        raise LauncherError(f"parallelism must be a positive int, got {parallelism!r}")
    if launcher not in LAUNCHERS[1:]:
        raise LauncherError(f"--launcher must be local or slurm for a job array, got {launcher!r}")
    if launcher == "local":
        pick_device(device)  # a slurm job picks its device on its node
    elif shutil.which("sbatch") is None:
        raise LauncherError("--launcher slurm: sbatch is not on this machine; submit from a SLURM login node")
    folder = writable_folder(results_folder(out, preset)).resolve()  # a job may start in another folder
    runs = [(v.label, seed) for v in preset.variants for seed in range(preset.seeds if seeds is None else seeds)]
    if resume:
        from .status import status

        running = {(label, seed) for label, seed, state, _ in status(preset, out, seeds) if state == "running"}
        runs = [r for r in runs if r not in running]
    with FolderLock(folder):
        check_folder(folder, preset, overwrite)
        started = [r for r in runs if run_path(folder, *r).is_file() or (folder / checkpoint_name(*r)).is_file()]
        if started and not resume:
            raise FileProblem(
                f"{folder} already holds {len(started)} finished or checkpointed run(s) of this configuration "
                f"({started[0][0]} seed {started[0][1]}, ...); add --resume to submit the others and continue "
                "from the checkpoints, or delete those files to train them again"
            )
        todo = [r for r in runs if not run_path(folder, *r).is_file()]
        if not todo:
            return []
        load_data(preset, data_root)  # missing or damaged data files: one error now, not one per job
        data_root = Path(data_root).resolve()
        job = RunJob(
            preset, folder, device=device, data_root=data_root, overwrite=overwrite, threads=threads, command=command
        )
        try:
            executor = submitit.AutoExecutor(folder=jobs_folder(folder), cluster=launcher)
            executor.update_parameters(name=preset.name, **(options or {}))
            shares = in_turns(todo, parallelism if launcher == "local" else None)
            if len(shares) < len(todo):
                jobs = executor.map_array(RunJobsInTurn(job), shares)
            else:
                jobs = executor.map_array(job, [label for label, _ in todo], [seed for _, seed in todo])
        except (RuntimeError, OSError, ValueError) as error:
            lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
            raise LauncherError(f"--launcher {launcher}: the submission failed: {lines[-1].strip()}") from None
        manifest = jobs_folder(folder) / "jobs.json"
        known = read_json(manifest, what="job list", fix="delete it") if manifest.is_file() else {}
        host = socket.gethostname()
        handles = {}
        for share, handle in zip(shares, jobs):
            for turn, run in enumerate(share, start=1):
                handles[run] = handle
                entry = {"cluster": launcher, "id": str(handle.job_id), "host": host}
                if len(share) > 1:
                    entry.update(turn=turn, turns=len(share))  # the job trains its runs in this order
                known[run_path(folder, *run).stem] = entry
        write_json_atomic(manifest, known)
    return [(label, seed, handles[label, seed]) for label, seed in todo]


def wait(submitted) -> None:
    """Block until every submitted job has ended (submitit polls the process or SLURM)."""
    for _, _, job in submitted:
        job.wait()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie, ended but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
