"""Job arrays through submitit (``python -m ncutils run PRESET --launcher local|slurm``) and
``python -m ncutils status``: the same results as an in-process run, resume after SIGKILL, SIGTERM
and pre-emption, the state of every run, and one-line usage errors.

Nothing of submitit is mocked: its local executor starts real processes, which train real tiny
presets. SLURM is stood in for by three shell scripts on PATH (``srun``, ``sbatch``, ``sacct``),
so that submitit writes, and "submits", its real sbatch script.

Reproduce: python -m pytest -n 0 -p no:cacheprovider tests/test_launcher.py -q
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from shared_helpers import RunsCode, crash_at_step

import ncutils as nc
from ncutils import files, launcher, results, status
from ncutils.__main__ import main
from ncutils.catalogue import get_preset
from ncutils.preset import load_data
from ncutils.runner import run_variant

pytest.importorskip("submitit")
pytestmark = pytest.mark.usefixtures("one_thread")  # in tests/conftest.py; the jobs get --threads 1 too

ROOT = Path(__file__).resolve().parent.parent
ERROR = "python -m ncutils: error: "


def cli(capsys, *argv):
    """``python -m ncutils ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def the_error(err: str, command: str = "run") -> str:
    """The one error line after argparse's usage line; fails on anything else (a traceback above all)."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and lines[0].startswith(f"usage: python -m ncutils {command} "), err
    assert all(line.startswith(" ") for line in lines[1:-1]), err
    assert lines[-1].startswith(ERROR), err
    return lines[-1].removeprefix(ERROR)


def as_stored(obj) -> str:
    """``obj`` as its JSON text: NaN equal to NaN, every float to the last bit."""
    return json.dumps(obj, sort_keys=True)


def numbers(obj) -> np.ndarray:
    """Every number in a history or a set of class means, in a fixed order."""
    if isinstance(obj, dict):
        return np.concatenate([numbers(obj[k]) for k in sorted(obj)] or [np.zeros(0)])
    if isinstance(obj, list):
        return np.concatenate([numbers(v) for v in obj] or [np.zeros(0)])
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return np.array([float(obj)])
    return np.zeros(0)


def one_seed_at_a_time(preset, folder):
    """The in-process runs of ``preset``, one (variant, seed) per call of run_variant, as a job trains them."""
    data = load_data(preset)
    return {
        (v.label, seed): run_variant(preset, v, data, [seed], folder=folder)[0].result
        for v in preset.variants
        for seed in range(preset.seeds)
    }


def states(rows):
    return {(label, seed): state for label, seed, state, _ in rows}


# ---------------------------------------------------------------- a local job array, end to end


# python -m ncutils run mlp_backbone_depth --scale tiny --out /tmp/r --launcher local --threads 1 --wait
def test_a_local_job_array_writes_what_an_in_process_run_writes(tmp_path, capsys):
    preset = get_preset("mlp_backbone_depth", "tiny")  # 2 variants × 2 seeds: 4 jobs
    args = ["run", preset.name, "--scale", "tiny", "--out", tmp_path, "--launcher", "local", "--threads", "1"]
    code, out, err = cli(capsys, *args, "--wait")
    assert code == 0 and not err
    folder = results.results_folder(tmp_path, preset)
    lines = out.splitlines()
    assert lines[0].startswith("submitted 4 local job(s): ") and "(L1=4 seed 1)" in lines[0]
    assert lines[1] == f"submitit's logs: {folder / '.submitit'}"
    assert lines[-1] == "4 run(s): 4 done, 0 running, 0 stopped, 0 failed, 0 missing"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".submitit", "L1=2_seed0.json", "L1=2_seed1.json", "L1=4_seed0.json", "L1=4_seed1.json"]

    runs = nc.load_runs(preset.name, tmp_path, scale="tiny")  # read as an in-process folder is
    assert [(r["variant"], r["seed"]) for r in runs] == [("L1=2", 0), ("L1=2", 1), ("L1=4", 0), ("L1=4", 1)]
    assert {r["fingerprint"] for r in runs} == {results.fingerprint(preset)}
    single = one_seed_at_a_time(preset, tmp_path / "single")
    for run in runs:  # a job trains one network as run_variant does with one seed: the same bits
        expected = single[run["variant"], run["seed"]]
        assert as_stored(run["history"]) == as_stored(expected["history"])
        assert as_stored(run["class_means"]) == as_stored(expected["class_means"])
        assert run["command"].startswith(f"python -m ncutils run {preset.name} --scale tiny")

    # The in-process runner trains the two seeds of a variant as one stacked float32 network (batched
    # matrix products), which changes the last bits: measured ≤ 2.4e-6 relative on the histories and
    # ≤ 1.4e-7 absolute on the class means of these presets.
    stacked = nc.run_preset(preset, out=tmp_path / "stacked", progress=False)
    assert [o.result["vectorised_over_seeds"] for o in stacked] == [True] * 4
    for run, other in zip(runs, stacked):
        for part in ("history", "class_means"):
            np.testing.assert_allclose(numbers(run[part]), numbers(other.result[part]), rtol=1e-5, atol=1e-6)

    code, out, err = cli(capsys, "status", preset.name, "--scale", "tiny", "--out", tmp_path)
    assert code == 0 and not err
    assert [line.split()[2] for line in out.splitlines()[2:-1]] == ["done"] * 4
    assert out.splitlines()[-1] == "4 run(s): 4 done, 0 running, 0 stopped, 0 failed, 0 missing"

    code, out, err = cli(capsys, *args)  # again: refused, nothing is submitted
    message = the_error(err)
    assert code == 2 and f"{folder} already holds 4 finished or checkpointed run(s)" in message
    assert "--resume" in message
    code, out, err = cli(capsys, *args, "--resume")
    assert code == 0 and out.startswith(f"nothing to submit: every run in {folder} is done or running")


# ---------------------------------------------------------------- killed, stopped and pre-empted jobs


def job_process(job) -> int:
    """The process that runs a local job's function: the only child of submitit's controller."""
    (child,) = Path(f"/proc/{job.job_id}/task/{job.job_id}/children").read_text().split()
    return int(child)


# a job of `--launcher local` killed (kill -KILL / kill -TERM its process) or pre-empted (SIGUSR2, what
# SLURM sends before pre-emption or the time limit) after its first checkpoint; then the same command
# with --resume: each run must end with the numbers of an uninterrupted one
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the job's process through Linux's /proc")
def test_killed_stopped_and_preempted_jobs_end_as_if_uninterrupted(tmp_path):
    tiny = get_preset("mlp_layerwise", "tiny")
    preset = dataclasses.replace(tiny, steps=2000, record_every=100, checkpoint_every=100, seeds=3)  # ≈ 1 s a job
    options = launcher.executor_options("local")
    submitted = launcher.submit(preset, out=tmp_path, threads=1, options=options)
    folder = results.results_folder(tmp_path, preset)
    to_send = {0: signal.SIGKILL, 1: signal.SIGTERM, 2: signal.SIGUSR2}
    deadline = time.monotonic() + 120
    while to_send and time.monotonic() < deadline:
        for _, seed, job in submitted:
            if seed in to_send and (folder / launcher.checkpoint_name("main", seed)).is_file():
                assert not results.run_path(folder, "main", seed).exists(), "the job finished before its signal"
                os.kill(job_process(job), to_send.pop(seed))
        time.sleep(0.005)
    assert not to_send, "no checkpoint appeared"
    launcher.wait(submitted)

    jobs = {seed: job for _, seed, job in submitted}
    rows = status.status(preset, tmp_path)
    assert states(rows) == {("main", 0): "stopped", ("main", 1): "stopped", ("main", 2): "done"}, rows
    assert all("continue with --resume" in row[3] for row in rows[:2])
    saved = [files.load_checkpoint(folder / launcher.checkpoint_name("main", s))["states"][0]["step"] for s in (0, 1)]
    assert saved[0] % preset.checkpoint_every == 0 and 0 < saved[0] < preset.steps  # SIGKILL: the last checkpoint
    assert 0 < saved[1] < preset.steps  # SIGTERM: the step it stopped at
    assert f"stopped by SIGTERM at step {saved[1]}" in jobs[1].stdout()
    assert "stopped by SIGUSR2 at step" in jobs[2].stdout() and "done" in jobs[2].stdout()
    assert "Requeued job" in jobs[2].stdout()  # submitit's requeue: the local executor restarts the job

    again = launcher.submit(preset, out=tmp_path, threads=1, resume=True, options=options)
    assert [(label, seed) for label, seed, _ in again] == [("main", 0), ("main", 1)]
    launcher.wait(again)
    assert set(states(status.status(preset, tmp_path)).values()) == {"done"}
    assert not list(folder.glob("*.checkpoint.pt"))
    uninterrupted = one_seed_at_a_time(preset, tmp_path / "uninterrupted")
    for run in nc.load_runs("mlp_layerwise", tmp_path, scale="tiny"):
        expected = uninterrupted["main", run["seed"]]
        assert as_stored(run["history"]) == as_stored(expected["history"]), run["seed"]
        assert as_stored(run["class_means"]) == as_stored(expected["class_means"]), run["seed"]


# ---------------------------------------------------------------- local jobs that train their runs in turn


@given(runs=st.integers(0, 40), parallelism=st.one_of(st.none(), st.integers(1, 50)))
def test_in_turns_deals_every_run_once_to_at_most_n_jobs(runs, parallelism):
    todo = [(f"v{i % 3}", i // 3) for i in range(runs)]
    shares = launcher.in_turns(todo, parallelism)
    assert sorted(run for share in shares for run in share) == sorted(todo)  # every run, once
    assert len(shares) == (runs if parallelism is None else min(runs, parallelism))
    assert all(share for share in shares)
    assert max(map(len, shares), default=0) - min(map(len, shares), default=0) <= 1  # shares differ by 1 at most
    for share in shares:  # a job trains its runs in the order of the sweep
        assert share == sorted(share, key=todo.index)


def job_stdout(folder, job_id) -> str:
    import submitit

    return submitit.Job(folder / ".submitit", job_id).stdout() or ""


# python -m ncutils run mlp_backbone_depth --scale tiny --out /tmp/r --launcher local --array-parallelism 2
#   --threads 1 --wait
def test_local_array_parallelism_trains_each_share_in_turn_to_the_same_bits(tmp_path, capsys):
    preset = get_preset("mlp_backbone_depth", "tiny")  # 2 variants × 2 seeds: 4 runs, 2 jobs
    args = ["run", preset.name, "--scale", "tiny", "--out", tmp_path, "--launcher", "local", "--threads", "1"]
    code, out, err = cli(capsys, *args, "--array-parallelism", "2", "--wait")
    assert code == 0 and not err
    match = re.fullmatch(
        r"submitted 2 local job\(s\) for 4 runs, each job training its share in turn: "
        r"(\d+) \(L1=2 seed 0, L1=4 seed 0\), (\d+) \(L1=2 seed 1, L1=4 seed 1\)",
        out.splitlines()[0],
    )
    assert match, out
    assert out.splitlines()[-1] == "4 run(s): 4 done, 0 running, 0 stopped, 0 failed, 0 missing"
    folder = results.results_folder(tmp_path, preset)
    jobs = json.loads((folder / ".submitit" / "jobs.json").read_text())
    first, second = match.groups()
    assert {name: (job["id"], job["turn"], job["turns"]) for name, job in jobs.items()} == {
        "L1=2_seed0": (first, 1, 2),
        "L1=4_seed0": (first, 2, 2),
        "L1=2_seed1": (second, 1, 2),
        "L1=4_seed1": (second, 2, 2),
    }
    for job_id, (a, b) in ((first, ("L1=2 seed 0", "L1=4 seed 0")), (second, ("L1=2 seed 1", "L1=4 seed 1"))):
        log = job_stdout(folder, job_id)  # one process, its two runs one after the other
        assert log.index(f"{a}: done") < log.index(f"{b}: done"), log

    single = one_seed_at_a_time(preset, tmp_path / "single")
    for run in nc.load_runs(preset.name, tmp_path, scale="tiny"):
        expected = single[run["variant"], run["seed"]]
        assert as_stored(run["history"]) == as_stored(expected["history"])
        assert as_stored(run["class_means"]) == as_stored(expected["class_means"])


def signal_during_the_first_of_two_runs(tmp_path, signum):
    """One local job training seeds 0 and 1 of a tiny preset in turn (≈ 1 s each), sent ``signum``
    once seed 0 has its first checkpoint; returns (preset, folder, job) after the job has ended."""
    tiny = get_preset("mlp_layerwise", "tiny")
    preset = dataclasses.replace(tiny, steps=2000, record_every=100, checkpoint_every=100, seeds=2)
    options = launcher.executor_options("local")
    submitted = launcher.submit(preset, out=tmp_path, threads=1, options=options, parallelism=1)
    (job,) = {handle for _, _, handle in submitted}
    folder = results.results_folder(tmp_path, preset)
    deadline = time.monotonic() + 120
    while not (folder / launcher.checkpoint_name("main", 0)).is_file() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not results.run_path(folder, "main", 0).exists(), "the run finished before its signal"
    os.kill(job_process(job), signum)
    launcher.wait(submitted)
    return preset, folder, job


def ends_as_if_uninterrupted(preset, tmp_path):
    assert set(states(status.status(preset, tmp_path)).values()) == {"done"}
    uninterrupted = one_seed_at_a_time(preset, tmp_path / "uninterrupted")
    for run in nc.load_runs("mlp_layerwise", tmp_path, scale="tiny"):
        assert as_stored(run["history"]) == as_stored(uninterrupted["main", run["seed"]]["history"])


# a local job that trains two runs in turn, stopped with SIGTERM during its first: the first is stopped
# (its checkpoint), the second missing (never begun); --resume then ends both as if uninterrupted
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the job's process through Linux's /proc")
def test_a_job_stopped_during_its_first_run_leaves_the_next_missing_and_resume_ends_both(tmp_path):
    preset, folder, job = signal_during_the_first_of_two_runs(tmp_path, signal.SIGTERM)
    rows = {(label, seed): (state, detail) for label, seed, state, detail in status.status(preset, tmp_path)}
    assert rows["main", 0][0] == "stopped" and "continue with --resume" in rows["main", 0][1]
    assert rows["main", 1] == (
        "missing",
        f"local job {job.job_id}: FINISHED before this run's turn (2 of 2): submit again with --resume",
    )
    assert not (folder / launcher.checkpoint_name("main", 1)).exists()

    options = launcher.executor_options("local")
    again = launcher.submit(preset, out=tmp_path, threads=1, resume=True, options=options, parallelism=1)
    assert [(label, seed) for label, seed, _ in again] == [("main", 0), ("main", 1)]
    launcher.wait(again)
    ends_as_if_uninterrupted(preset, tmp_path)


# a local job that trains two runs in turn, pre-empted (SIGUSR2) during its first: submitit requeues the
# whole job, which continues the first run from the step it saved, reads nothing twice, and trains the second
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the job's process through Linux's /proc")
def test_a_job_preempted_during_its_first_run_is_requeued_and_ends_both(tmp_path):
    preset, _, job = signal_during_the_first_of_two_runs(tmp_path, signal.SIGUSR2)
    log = job.stdout() or ""
    assert "main seed 0: training stopped by SIGUSR2 at step" in log and "Requeued job" in log, log
    assert log.index("Requeued job") < log.index("main seed 0: done") < log.index("main seed 1: done"), log
    ends_as_if_uninterrupted(preset, tmp_path)


# a local job whose first run diverges trains its second; the job then fails naming the diverged run
def test_a_failed_run_does_not_keep_the_next_run_of_its_job_from_training(tmp_path):
    tiny = get_preset("mlp_backbone_depth", "tiny")
    good = tiny.variants[0]
    bad = dataclasses.replace(good, label="diverges", lr=1e6)
    preset = dataclasses.replace(tiny, variants=(bad, good), seeds=1)
    submitted = launcher.submit(
        preset, out=tmp_path, threads=1, options=launcher.executor_options("local"), parallelism=1
    )
    launcher.wait(submitted)
    rows = {label: (state, detail) for label, _, state, detail in status.status(preset, tmp_path)}
    assert rows[good.label][0] == "done", rows
    assert rows["diverges"] == (
        "failed",
        "(lr=1e+06, weight_decay=0.004): the loss became inf at step 1; try a smaller learning rate",
    )
    log = job_stdout(results.results_folder(tmp_path, preset), submitted[0][2].job_id)
    assert log.index("diverges seed 0: failed") < log.index(f"{good.label} seed 0: done"), log
    error = submitted[0][2].stderr() or ""
    assert "RuntimeError: 1 of this job's runs failed: diverges seed 0: TrainingDiverged" in error, error


# a GPU box: submitit's local executor hides every GPU from a job given none (CUDA_VISIBLE_DEVICES=""),
# so local jobs get one GPU where this machine has one, as SLURM jobs do, unless --gpus-per-job says
def test_local_jobs_see_a_gpu_where_the_machine_has_one(tmp_path, monkeypatch):
    import submitit

    executor = submitit.AutoExecutor(folder=tmp_path, cluster="local")
    seen = {}
    for gpus in (0, 1):
        executor.update_parameters(timeout_min=1, gpus_per_node=gpus)
        seen[gpus] = executor.submit(os.getenv, "CUDA_VISIBLE_DEVICES").result()  # read in the job
    assert seen == {0: "", 1: "0"}

    assert launcher.executor_options("local")["gpus_per_node"] == int(torch.cuda.is_available())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a GPU box
    assert launcher.executor_options("local")["gpus_per_node"] == 1
    assert launcher.executor_options("local", gpus=0)["gpus_per_node"] == 0
    assert launcher.executor_options("local", gpus=2)["gpus_per_node"] == 2


# ---------------------------------------------------------------- status of hand-made folders


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


# python -m ncutils status mlp_head_depth --scale tiny --out /tmp/r --seeds 3, on a folder holding one run
# of each kind
def test_status_names_each_state_of_a_hand_made_folder(tmp_path, capsys):
    preset = get_preset("mlp_head_depth", "tiny")
    folder = results.results_folder(tmp_path, preset)
    v1, v2, v3 = preset.variants
    data = load_data(preset)
    run_variant(preset, v1, data, [0], folder=folder)  # done
    files.write_json_atomic(
        folder / f"{v1.label}_seed1.diverged.json",
        {"fingerprint": results.fingerprint(preset), "message": "the loss became nan at step 7"},
    )
    with pytest.raises(RuntimeError, match="crash"):  # a checkpoint at step 10, nothing running: stopped
        run_variant(
            preset,
            v2,
            data,
            [0],
            folder=folder,
            on_record=crash_at_step(20),
            checkpoint_name=f"{v2.label}_seed0.checkpoint.pt",
        )
    host, dead = socket.gethostname(), str(dead_pid())
    error = "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA error: out of memory\n"
    (folder / ".submitit").mkdir()
    (folder / ".submitit" / f"{dead}_0_result.pkl").write_bytes(pickle.dumps(("error", error)))
    jobs = {
        f"{v2.label}_seed1": {"cluster": "local", "id": str(os.getpid()), "host": host},  # alive: running
        f"{v3.label}_seed0": {"cluster": "local", "id": dead, "host": host},  # raised: failed
        f"{v3.label}_seed1": {"cluster": "local", "id": str(dead_pid()), "host": host},  # no trace at all: failed
    }
    files.write_json_atomic(folder / ".submitit" / "jobs.json", jobs)

    code, out, err = cli(capsys, "status", preset.name, "--scale", "tiny", "--out", tmp_path, "--seeds", "3")
    assert code == 0 and not err
    lines = out.splitlines()
    assert lines[0] == f"mlp_head_depth at scale tiny in {folder}"
    assert lines[1].split() == ["variant", "seed", "state", "detail"]
    rows = {tuple(line.split()[:2]): line.split(None, 3)[2:] for line in lines[2:-1]}
    assert rows["L2=1", "0"][0] == "done" and rows["L2=1", "0"][1].endswith("s on cpu")
    assert rows["L2=1", "1"] == ["failed", "the loss became nan at step 7"]
    assert rows["L2=2", "0"] == ["stopped", "checkpoint at step 10 of 20: continue with --resume"]
    assert rows["L2=2", "1"] == ["running", f"local job {os.getpid()}: RUNNING"]
    assert rows["L2=3", "0"] == ["failed", f"local job {dead}: FAILED: RuntimeError: CUDA error: out of memory"]
    assert rows["L2=3", "1"][0] == "failed" and "without a result or a checkpoint" in rows["L2=3", "1"][1]
    assert [rows[label, "2"] for label in ("L2=1", "L2=2", "L2=3")] == [["missing"]] * 3
    assert lines[-1] == "9 run(s): 1 done, 1 running, 1 stopped, 3 failed, 3 missing"

    # a live local job that trains its runs in turn (--array-parallelism): running, with its turn
    jobs[f"{v2.label}_seed1"].update(turn=2, turns=3)
    files.write_json_atomic(folder / ".submitit" / "jobs.json", jobs)
    rows = {(label, seed): (state, detail) for label, seed, state, detail in status.status(preset, tmp_path, 3)}
    assert rows[v2.label, 1] == ("running", f"local job {os.getpid()}: RUNNING (this run is its 2 of 3, in turn)")

    # an in-process run holds the folder: what it has not finished is running; its checkpoint gives the step
    other = get_preset("mlp_layerwise", "tiny")
    with pytest.raises(RuntimeError, match="crash"):
        nc.run_preset(other, out=tmp_path, progress=False, on_record=crash_at_step(20))
    rows = status.status(other, tmp_path)
    assert [row[2:] for row in rows] == [("stopped", "checkpoint at step 10 of 20: continue with --resume")] * 2
    lock = results.results_folder(tmp_path, other) / ".lock"
    lock.write_text(f"{socket.gethostname()} {os.getpid()}")
    rows = status.status(other, tmp_path)
    holder = f"in-process run ({socket.gethostname()} {os.getpid()})"
    assert [row[2:] for row in rows] == [("running", f"{holder}, checkpoint at step 10 of 20")] * 2


# python -m ncutils status mlp_layerwise --scale laptop --out book/results
def test_status_of_the_shipped_results_is_all_done(capsys):
    for name in ("mlp_layerwise", "mlp_head_depth"):
        code, out, err = cli(capsys, "status", name, "--scale", "laptop", "--out", ROOT / "book" / "results")
        runs = len(get_preset(name, "laptop").variants) * get_preset(name, "laptop").seeds
        assert code == 0 and not err
        assert out.splitlines()[-1] == f"{runs} run(s): {runs} done, 0 running, 0 stopped, 0 failed, 0 missing"


# ---------------------------------------------------------------- usage errors


# python -m ncutils run mlp_layerwise --scale tiny --launcher local --partition gpu   (and the other bad values)
def test_bad_job_array_options_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    base = ["run", "mlp_layerwise", "--scale", "tiny", "--out", tmp_path]
    cases = {
        ("--launcher", "local", "--partition", "gpu"): "--partition needs --launcher slurm, got --launcher local",
        ("--cpus-per-job", "4"): "--cpus-per-job needs --launcher slurm, got --launcher inprocess",
        ("--wait",): "--wait needs --launcher local or slurm, got --launcher inprocess",
        ("--launcher", "local", "--time", "0"): "--time must be an integer >= 1, got 0",
        ("--launcher", "slurm", "--gpus-per-job", "-1"): "--gpus-per-job must be an integer >= 0, got -1",
        ("--launcher", "slurm", "--array-parallelism", "0"): "--array-parallelism must be an integer >= 1, got 0",
        ("--launcher", "local", "--array-parallelism", "-2"): "--array-parallelism must be an integer >= 1, got -2",
        ("--array-parallelism", "2"): "--array-parallelism needs --launcher local or slurm, got --launcher inprocess",
    }
    for extra, expected in cases.items():
        code, out, err = cli(capsys, *base, *extra)
        assert code == 2 and not out and the_error(err) == expected
    argparse_cases = {  # argparse's own error line
        ("--launcher", "mpi"): "argument --launcher: invalid choice: 'mpi'",
        ("--launcher", "slurm", "--time", "1h"): "argument --time: invalid int value: '1h'",
    }
    for extra, expected in argparse_cases.items():
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in base + list(extra)])
        last = capsys.readouterr().err.splitlines()[-1]
        assert info.value.code == 2 and last.startswith(f"python -m ncutils run: error: {expected}")

    none = tmp_path / "none"  # the data are read once at submission: a missing file stops it
    code, _, err = cli(capsys, *base[:3], "paper", "--data-root", none, "--out", tmp_path, "--launcher", "local")
    assert code == 2 and "train-images-idx3-ubyte" in the_error(err) and str(none) in the_error(err)

    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    code, _, err = cli(capsys, *base, "--launcher", "slurm")
    assert (
        code == 2
        and the_error(err) == "--launcher slurm: sbatch is not on this machine; submit from a SLURM login node"
    )
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if it were not installed
    code, _, err = cli(capsys, *base, "--launcher", "local")
    assert code == 2 and "need submitit: pip install 'submitit>=1.5'" in the_error(err)

    code, _, err = cli(capsys, "status", "nope", "--out", tmp_path)
    assert code == 2 and "unknown preset 'nope'" in the_error(err, "status")
    code, _, err = cli(capsys, "status", "mlp_layerwise", "--seeds", "0", "--out", tmp_path)
    assert code == 2 and the_error(err, "status") == "--seeds must be a positive integer, got 0"
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob(".submitit"))


# ---------------------------------------------------------------- SLURM, through a stand-in cluster


STAND_IN = {
    "srun": "exit 0",
    "sbatch": 'echo "Submitted batch job 4242"',
    "sacct": "printf 'JobID|State|NodeList\\n4242_0|COMPLETED|n1\\n4242_1|FAILED|n1\\n4242_2|RUNNING|n2\\n"
    "4242_3|PENDING|None assigned\\n'",
}


# python -m ncutils run mlp_backbone_depth --scale tiny --launcher slurm --partition gpu --gpus-per-job 2
# --time 30 --cpus-per-job 4 --array-parallelism 2, then python -m ncutils status, on a SLURM login node
def test_a_slurm_job_array_script_and_its_status(tmp_path, capsys, monkeypatch):
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    for name, body in STAND_IN.items():
        (bin_folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    out_folder = tmp_path / "out"
    options = ["--partition", "gpu", "--gpus-per-job", "2", "--time", "30", "--cpus-per-job", "4"]
    argv = ["run", "mlp_backbone_depth", "--scale", "tiny", "--out", out_folder, "--launcher", "slurm", *options]
    code, out, err = cli(capsys, *argv, "--array-parallelism", "2")
    assert code == 0 and not err
    first, logs, watch = out.splitlines()
    assert first == "submitted 4 slurm job(s): 4242_0 (L1=2 seed 0), 4242_1 (L1=2 seed 1), 4242_2 (L1=4 seed 0), " + (
        "4242_3 (L1=4 seed 1)"
    )
    jobs_folder = out_folder / "mlp_backbone_depth" / "tiny" / ".submitit"
    assert logs == f"submitit's logs: {jobs_folder}"
    assert watch == f"watch them with: python -m ncutils status mlp_backbone_depth --scale tiny --out {out_folder}"
    script = (jobs_folder / "4242_submission.sh").read_text().splitlines()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --time=30",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --array=0-3%2",
        "#SBATCH --signal=USR2@90",  # submitit's warning before the time limit: the job saves and is requeued
        "#SBATCH --job-name=mlp_backbone_depth",
    ):
        assert line in script
    assert launcher.executor_options("slurm") == {"timeout_min": launcher.SLURM_TIME_LIMIT, "gpus_per_node": 1}

    (jobs_folder / "4242_1_0_log.err").write_text("srun: error: node n1\ntorch.OutOfMemoryError: CUDA out of memory\n")
    code, out, err = cli(capsys, "status", "mlp_backbone_depth", "--scale", "tiny", "--out", out_folder)
    assert code == 0 and not err
    rows = [line.split(None, 3) for line in out.splitlines()[2:-1]]
    assert rows == [
        ["L1=2", "0", "failed", "slurm job 4242_0: COMPLETED without a result or a checkpoint: submit it again"],
        ["L1=2", "1", "failed", "slurm job 4242_1: FAILED: torch.OutOfMemoryError: CUDA out of memory"],
        ["L1=4", "0", "running", "slurm job 4242_2: RUNNING"],
        ["L1=4", "1", "running", "slurm job 4242_3: PENDING"],
    ]


# python -m ncutils status mlp_head_depth --scale tiny --out OUT, with a crafted
# OUT/mlp_head_depth/tiny/.submitit/ID_0_result.pkl and ID named in jobs.json
def test_status_never_runs_code_from_a_crafted_result_pickle(tmp_path, capsys):
    preset = get_preset("mlp_head_depth", "tiny")
    folder = results.results_folder(tmp_path, preset)
    (folder / ".submitit").mkdir(parents=True)
    marker, dead = tmp_path / "code_ran", str(dead_pid())
    (folder / ".submitit" / f"{dead}_0_result.pkl").write_bytes(pickle.dumps(("error", RunsCode(marker))))
    job = {"cluster": "local", "id": dead, "host": socket.gethostname()}
    files.write_json_atomic(folder / ".submitit" / "jobs.json", {f"{preset.variants[0].label}_seed0": job})
    code, out, err = cli(capsys, "status", preset.name, "--scale", "tiny", "--out", tmp_path, "--seeds", "1")
    assert code == 0 and not err
    assert not marker.exists()
    row = next(line for line in out.splitlines() if line.startswith(preset.variants[0].label))
    assert "UNREADABLE" in row and "status reads plain data only" in row
