"""Command line: ``python -m ncutils list`` and ``python -m ncutils run PRESET [options]``.

Exit codes: 0 success; 2 a usage error, always one line (unknown preset or scale, a GPU asked
for but absent, missing or damaged data files, an unusable or locked --out, results of another
configuration there, a damaged result or checkpoint, bad option values); 1 the loss diverged
(the partial history is written); 130 stopped by Ctrl-C or SIGTERM (the state is saved: continue
with ``--resume``).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from . import catalogue, preset, results, runner
from .data import DataFileError
from .files import FileProblem
from .history import TrainingDiverged, TrainingInterrupted


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ncutils",
        description="Run the experiments of Jacot, Súkeník, Wang & Mondelli (ICLR 2025) as presets.",
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
        help="run one preset",
        description="Train every variant and seed of a preset and write one JSON file per run to OUT/PRESET/SCALE/.",
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
    parser.run_parser = run  # usage errors of `run` print its usage line
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


def _run(args, parser, argv) -> int:
    if args.seeds is not None and args.seeds < 1:
        return _usage_error(parser, f"--seeds must be a positive integer, got {args.seeds}")
    if args.threads is not None:
        cores = os.cpu_count() or 1
        if not 1 <= args.threads <= cores:
            return _usage_error(
                parser, f"--threads must lie in 1..{cores} (this machine's CPU cores), got {args.threads}"
            )
        torch.set_num_threads(args.threads)
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
    return _run(args, parser.run_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
