"""Command line: ``python -m ncutils list`` and ``python -m ncutils run PRESET [options]``.

Exit codes: 0 success; 2 a usage error (unknown preset or scale, a GPU asked for but absent,
missing data files, bad option values); 1 the run failed (e.g. the loss diverged);
130 interrupted (Ctrl-C; continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from . import experiments
from .train import TrainingDiverged


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
        description="Train every variant and seed of a preset and write one JSON file per run to OUT/PRESET/.",
        epilog="Presets: " + ", ".join(experiments.PRESET_NAMES) + ". Example: python -m ncutils run mlp_layerwise "
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
    run.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's)")
    parser.run_parser = run  # usage errors of `run` print its usage line
    return parser


def _list(args) -> int:
    for name, figure, scales, description in experiments.list_presets():
        line = f"{name:<24} {figure:<42} [{scales}]  {description}"
        if args.scale is not None:
            try:
                preset = experiments.get_preset(name, args.scale)
            except experiments.PresetError:
                line += f"\n{'':<24} (no {args.scale} scale)"
            else:
                line += f"\n{'':<24} {len(preset.variants)} variant(s) × {preset.seeds} seeds × {preset.steps} steps"
                if args.scale == "paper":
                    samples = {"mnist": 54_210, "cifar10": 50_000}.get(preset.data, 5_000)
                    hours = experiments.estimate_gpu_hours(preset, samples)
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
        outputs = experiments.run_preset(
            args.preset,
            args.scale,
            seeds=args.seeds,
            device=args.device,
            out=args.out,
            data_root=args.data_root,
            resume=args.resume,
            command=experiments.command_line(argv),
        )
    except experiments.PresetError as error:
        return _usage_error(parser, str(error))
    except FileNotFoundError as error:  # data files missing: the message says which and where
        return _usage_error(parser, str(error))
    except RuntimeError as error:
        if isinstance(error, TrainingDiverged):
            print(f"python -m ncutils: the run diverged: {error}", file=sys.stderr)
            return 1
        if "CUDA" in str(error):  # --device cuda without a GPU
            return _usage_error(parser, f"--device {args.device}: {error}")
        raise
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: continue with the same command and --resume (checkpoints are in {args.out})",
            file=sys.stderr,
        )
        return 130
    folders = sorted({str(o.path.parent) for o in outputs})
    print(f"wrote {len(outputs)} result file(s) to {', '.join(folders)}")
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
