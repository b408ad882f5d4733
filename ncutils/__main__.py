"""Command line: ``python -m ncutils list``, ``python -m ncutils run PRESET [options]`` and
``python -m ncutils status PRESET [options]``.

``run`` trains every (variant, seed) in this process (``--launcher inprocess``, the default), or
submits one job per (variant, seed) through submitit (``--launcher local``: processes of this
machine, all at once or, with ``--array-parallelism N``, N at a time; ``--launcher slurm``: a SLURM
job array) and returns, printing the job ids (``--wait``:
once they have all ended, with a table of the runs). ``status`` prints that table: each run done,
running, stopped, failed or missing.

Exit codes: 0 success; 2 a usage error, always one line (unknown preset or scale, a GPU asked
for but absent, missing or damaged data files, an unusable or locked --out, results of another
configuration there, a damaged result or checkpoint, bad option values, submitit or sbatch
missing); 1 the loss diverged (the partial history is written), or with ``--wait`` a job did not
finish its run; 130 stopped by Ctrl-C or SIGTERM (the state is saved: continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from . import catalogue, launcher, preset, results, runner, status
from .data import DataFileError
from .files import FileProblem
from .history import TrainingDiverged, TrainingInterrupted


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ncutils",
        description="Run the experiments of Jacot, Súkeník, Wang & Mondelli (ICLR 2025) as presets: in this "
        "process, or as one job per network and seed through submitit (run --launcher local|slurm), and see "
        "where each run stands (status).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list",
        help="list the presets, one line each",
        description="List the presets; with --scale paper also an estimated GPU time.",
    )
    listing.add_argument(
        "--scale",
        choices=("laptop", "paper"),
        default=None,
        help="also show each preset's steps and seeds at this scale (paper: estimated GPU hours)",
    )

    run = commands.add_parser(
        "run",
        help="run one preset (here, or as a job array with --launcher)",
        description="Train every variant and seed of a preset and write one JSON file per run to OUT/PRESET/SCALE/: "
        "in this process, or as one job per (variant, seed) with --launcher local or slurm.",
        epilog="Presets: " + ", ".join(catalogue.PRESET_NAMES) + ". Example: python -m ncutils run mlp_layerwise "
        "--scale laptop --out book/results",
    )
    run.add_argument("preset", metavar="PRESET", help="a preset name (see `python -m ncutils list`)")
    run.add_argument(
        "--scale",
        default="laptop",
        metavar="{laptop,paper,tiny}",
        help="laptop: minutes on 2 CPU cores (default); paper: the paper's settings, GPU expected; "
        "tiny: a few steps, for tests",
    )
    run.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA if available, else CPU (default)"
    )
    run.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds 0..N-1 (default: the preset's)")
    run.add_argument("--out", default="results", metavar="DIR", help="results folder (default: ./results)")
    run.add_argument(
        "--data-root",
        default="data",
        metavar="DIR",
        help="folder with the MNIST / CIFAR-10 files for --scale paper (default: ./data)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoints in OUT (finished variants are not run again)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace results of another configuration in OUT/PRESET/SCALE (otherwise the run refuses)",
    )
    run.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's)")
    jobs = run.add_argument_group(
        "job arrays",
        "With --launcher local or slurm, each (variant, seed) is one job, submitted through submitit; the command "
        "returns once they are submitted. A job writes the same result file as an in-process run, checkpoints into "
        "VARIANT_seedK.checkpoint.pt, and continues from there when requeued or submitted again with --resume. "
        "submitit's logs go to OUT/PRESET/SCALE/.submitit/.",
    )
    jobs.add_argument(
        "--launcher",
        choices=launcher.LAUNCHERS,
        default="inprocess",
        help="inprocess: train here, one variant after the other (default); local: one process per job on this "
        "machine; slurm: one SLURM job array",
    )
    jobs.add_argument("--wait", action="store_true", help="wait for the jobs to end, then print their states")
    jobs.add_argument("--partition", default=None, metavar="NAME", help="slurm: the partition (default: SLURM's)")
    jobs.add_argument(
        "--gpus-per-job",
        type=int,
        default=None,
        metavar="N",
        help="GPUs each job sees (default: 1 on slurm; local: 1 where CUDA is available, else 0; every local "
        "job sees the same first N GPUs)",
    )
    jobs.add_argument(
        "--time",
        type=int,
        default=None,
        metavar="MINUTES",
        help=f"time limit of each job (slurm default: {launcher.SLURM_TIME_LIMIT}); a job that reaches it saves its "
        "state and is requeued",
    )
    jobs.add_argument("--cpus-per-job", type=int, default=None, metavar="N", help="slurm: CPUs per job")
    jobs.add_argument(
        "--array-parallelism",
        type=int,
        default=None,
        metavar="N",
        help="at most N networks train at once (slurm: the array's limit; local: N processes, each training "
        "its share of the networks in turn; default: all at once)",
    )
    parser.run_parser = run  # usage errors of `run` print its usage line

    state = commands.add_parser(
        "status",
        help="the state of every run of a preset",
        description="One line per (variant, seed) of a preset in OUT/PRESET/SCALE/: done, running, stopped "
        "(a checkpoint: continue with run --resume), failed (with the error's last line) or missing.",
    )
    state.add_argument("preset", metavar="PRESET", help="a preset name (see `python -m ncutils list`)")
    state.add_argument("--scale", default="laptop", metavar="{laptop,paper,tiny}", help="default: laptop")
    state.add_argument("--out", default="results", metavar="DIR", help="results folder (default: ./results)")
    state.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds 0..N-1 (default: the preset's)")
    parser.status_parser = state
    return parser


def _list(args) -> int:
    for name, figure, scales, description in catalogue.list_presets():
        line = f"{name:<24} {figure:<42} [{scales}]  {description}"
        if args.scale is not None:
            try:
                chosen = catalogue.get_preset(name, args.scale)
            except preset.PresetError:
                line += f"\n{'':<24} (no {args.scale} scale)"
            else:
                line += f"\n{'':<24} {len(chosen.variants)} variant(s) × {chosen.seeds} seeds × {chosen.steps} steps"
                if args.scale == "paper":
                    samples = {"mnist": 54_210, "cifar10": 50_000}.get(chosen.data, 5_000)
                    hours = preset.estimate_gpu_hours(chosen, samples)
                    line += f", ≈ {hours:.3g} GPU-hours (estimate from FLOP counts)"
        print(line)
    return 0


def _usage_error(parser, message: str) -> int:
    parser.print_usage(sys.stderr)
    print(f"python -m ncutils: error: {message}", file=sys.stderr)
    return 2


def _job_option_error(args) -> str | None:
    """What is wrong with the job-array options, if anything (one line)."""
    # option: (its value, the launchers it applies to, its least value)
    options = {
        "--partition": (args.partition, ("slurm",), None),
        "--cpus-per-job": (args.cpus_per_job, ("slurm",), 1),
        "--array-parallelism": (args.array_parallelism, ("local", "slurm"), 1),
        "--gpus-per-job": (args.gpus_per_job, ("local", "slurm"), 0),
        "--time": (args.time, ("local", "slurm"), 1),
        "--wait": (args.wait or None, ("local", "slurm"), None),
    }
    for option, (value, launchers, least) in options.items():
        if value is not None and args.launcher not in launchers:
            return f"{option} needs --launcher {' or '.join(launchers)}, got --launcher {args.launcher}"
        if value is not None and least is not None and value < least:
            return f"{option} must be an integer >= {least}, got {value}"
    return None


def _submit(args, parser, argv) -> int:
    options = launcher.executor_options(
        args.launcher,
        partition=args.partition,
        gpus=args.gpus_per_job,
        minutes=args.time,
        cpus=args.cpus_per_job,
        parallelism=args.array_parallelism,
    )
    try:
        submitted = launcher.submit(
            args.preset,
            args.scale,
            launcher=args.launcher,
            out=args.out,
            seeds=args.seeds,
            device=args.device,
            data_root=args.data_root,
            resume=args.resume,
            overwrite=args.overwrite,
            threads=args.threads,
            command=runner.command_line(argv),
            options=options,
            parallelism=args.array_parallelism,
        )
    except (preset.PresetError, FileProblem, DataFileError, FileNotFoundError, launcher.LauncherError) as error:
        return _usage_error(parser, str(error))
    except RuntimeError as error:
        if "CUDA" in str(error):  # --device cuda without a GPU
            return _usage_error(parser, f"--device {args.device}: {error}")
        raise
    chosen = catalogue.get_preset(args.preset, args.scale)
    folder = results.results_folder(args.out, chosen)
    watch = runner.command_line(["status", args.preset, "--scale", args.scale, "--out", str(args.out)])
    if not submitted:
        print(f"nothing to submit: every run in {folder} is done or running (see {watch})")
        return 0
    shares = {}  # job id: the runs it trains, in turn
    for label, seed, job in submitted:
        shares.setdefault(job.job_id, []).append(f"{label} seed {seed}")
    runs = "" if len(shares) == len(submitted) else f" for {len(submitted)} runs, each job training its share in turn"
    print(
        f"submitted {len(shares)} {args.launcher} job(s){runs}: "
        + ", ".join(f"{job_id} ({', '.join(share)})" for job_id, share in shares.items())
    )
    print(f"submitit's logs: {launcher.jobs_folder(folder.resolve())}")
    if not args.wait:
        print(f"watch them with: {watch}")
        return 0
    try:
        launcher.wait(submitted)
    except KeyboardInterrupt:
        print(f"\nstopped waiting; the jobs go on: {watch}", file=sys.stderr)
        return 130
    rows = status.status(chosen, args.out, args.seeds)
    print(status.table(rows))
    return 0 if all(row[2] == "done" for row in rows) else 1


def _status(args, parser) -> int:
    if args.seeds is not None and args.seeds < 1:
        return _usage_error(parser, f"--seeds must be a positive integer, got {args.seeds}")
    try:
        chosen = catalogue.get_preset(args.preset, args.scale)
        rows = status.status(chosen, args.out, args.seeds)
    except (preset.PresetError, FileProblem) as error:
        return _usage_error(parser, str(error))
    print(f"{chosen.name} at scale {chosen.scale} in {results.results_folder(args.out, chosen)}")
    print(status.table(rows))
    return 0


def _run(args, parser, argv) -> int:
    if args.seeds is not None and args.seeds < 1:
        return _usage_error(parser, f"--seeds must be a positive integer, got {args.seeds}")
    if (problem := _job_option_error(args)) is not None:
        return _usage_error(parser, problem)
    if args.threads is not None:
        cores = os.cpu_count() or 1
        if not 1 <= args.threads <= cores:
            return _usage_error(
                parser, f"--threads must lie in 1..{cores} (this machine's CPU cores), got {args.threads}"
            )
        torch.set_num_threads(args.threads)
    if args.launcher != "inprocess":
        return _submit(args, parser, argv)
    try:
        outputs = runner.run_preset(
            args.preset,
            args.scale,
            seeds=args.seeds,
            device=args.device,
            out=args.out,
            data_root=args.data_root,
            resume=args.resume,
            overwrite=args.overwrite,
            command=runner.command_line(argv),
        )
    except (preset.PresetError, FileProblem, DataFileError) as error:
        return _usage_error(parser, str(error))
    except FileNotFoundError as error:  # data files missing: the message says which and where
        return _usage_error(parser, str(error))
    except TrainingDiverged as error:
        print(f"python -m ncutils: the run diverged: {error}", file=sys.stderr)
        return 1
    except TrainingInterrupted as error:
        print(
            f"\n{error}; the state is saved in {error.checkpoint or args.out}: continue with the same command "
            "and --resume",
            file=sys.stderr,
        )
        return 130
    except RuntimeError as error:
        if "CUDA" in str(error):  # --device cuda without a GPU
            return _usage_error(parser, f"--device {args.device}: {error}")
        raise
    except KeyboardInterrupt:  # a second Ctrl-C, or one while loading the data
        print("\ninterrupted before the state could be saved", file=sys.stderr)
        return 130
    folders = sorted({o.path.parent for o in outputs})
    print(f"wrote {len(outputs)} result file(s) to {', '.join(map(str, folders))}")
    chosen = catalogue.get_preset(args.preset, args.scale)
    seeds = range(chosen.seeds if args.seeds is None else args.seeds)
    for folder in folders:
        for label, extra in results.stale_seeds(folder, chosen, list(seeds)).items():
            print(
                f"note: {folder} also holds seeds {', '.join(map(str, extra))} of variant {label} from an earlier "
                "run of the same configuration (kept; load_runs reads them too)"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list(args)
    if args.command == "status":
        return _status(args, parser.status_parser)
    return _run(args, parser.run_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
