"""Run a preset: train every (variant, seed), checkpoint, and write one JSON result per run.

    python -m ncutils run mlp_layerwise --scale laptop --out book/results

Everything of one preset at one scale lives in one folder, ``OUT/<preset>/<scale>/``:

* ``<variant>_seed<k>.json``: one finished run (written atomically) with the configuration and its
  fingerprint, the seed, library versions, device, command line, the per-layer metric history,
  the final class means of the last layers and the singular values of the head's product;
* ``<variant>.checkpoint.pt``: weights and training states every ``checkpoint_every`` steps and
  when the run is stopped (Ctrl-C, SIGTERM), so that ``resume=True`` ends with the same numbers as
  an uninterrupted run; ``<variant>_seed<k>.diverged.json``: the partial history of a diverged run;
* ``.lock``: present while a run writes there, so that a second run on the folder is refused.

A job array (:mod:`ncutils.launcher`, ``--launcher local`` or ``slurm``) writes the same files, but
trains one (variant, seed) per job through :func:`run_variant`, with a checkpoint of its own,
``<variant>_seed<k>.checkpoint.pt``, and without the folder's lock.

A folder holds results of one configuration only: a run refuses to write where results of another
configuration are (unless ``overwrite=True``), and :func:`~ncutils.results.load_runs` refuses to
mix them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .catalogue import get_preset
from .files import (
    FileProblem,
    FolderLock,
    load_checkpoint,
    read_json,
    save_checkpoint,
    writable_folder,
    write_json_atomic,
)
from .history import TrainingDiverged, TrainingInterrupted, TrainState
from .metrics import class_means, nc1, nc2, singular_values
from .models import ResNet20Net, data_for
from .preset import DTYPES, Preset, PresetError, Variant, build_model, load_data
from .results import check_folder, fingerprint, results_folder, run_path
from .steps import can_stack
from .theory import head_product
from .train import train
from .utils import pick_device, progress_enabled

FORMAT = 2  # version of the result files' layout


def versions() -> dict:
    from . import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "ncutils": __version__,
        "platform": platform.platform(terse=True),
    }


@dataclass
class RunOutput:
    """One finished (variant, seed): where its JSON went, what it holds, and the trained model."""

    path: Path
    result: dict
    model: torch.nn.Module | None = field(repr=False)  # None when a resumed run found it already finished


def _final_class_means(model, data, layers: int) -> dict:
    """Class means (K × n_ℓ, float64) of the last ``layers`` layers after training."""
    if layers == 0:
        return {}
    data = data_for(model, data)
    with torch.no_grad():
        outputs = model.features(data.X)
    return {str(o.index): class_means(o.post, data.y, data.num_classes).cpu().tolist() for o in outputs[-layers:]}


def _backbone_final(model, data) -> dict | None:
    """Final NC1 and NC2 of a ResNet's backbone output (the head's input, layer 0), which the
    per-layer history does not cover; with a one-layer head it is the penultimate layer. None for an MLP."""
    if not isinstance(model, ResNet20Net):
        return None
    data = data_for(model, data)
    with torch.no_grad():
        Z = model.backbone_features(data.X)
    return {"nc1": float(nc1(Z, data.y)), "nc2": float(nc2(Z, data.y))}


def _head_singular_values(model) -> list[float]:
    """Singular values (float64, largest first) of the head's product W_L ⋯ W_{L1+1} after
    training: κ of this matrix is what an exactly balanced head turns into NC2
    (κ^{1/L2}), and the per-layer history keeps no weights to compute it from."""
    return singular_values(head_product(model.weights()[model.L1 :])).tolist()


def _finished_runs(preset: Preset, variant: Variant, seeds: Sequence[int], folder: Path) -> list[RunOutput] | None:
    """The results of this exact (preset, variant, seeds), if all of them exist; else None."""
    outputs = []
    for seed in seeds:
        path = run_path(folder, variant.label, seed)
        if not path.is_file():
            return None
        result = read_json(path, fix="delete it and run again")
        if result.get("fingerprint") != fingerprint(preset):
            return None
        outputs.append(RunOutput(path, result, None))
    return outputs


def run_variant(
    preset,
    variant,
    data,
    seeds,
    *,
    device="auto",
    folder,
    resume=False,
    overwrite=False,
    command="",
    bar=None,
    on_record: Callable | None = None,
    checkpoint_name: str | None = None,
) -> list[RunOutput]:
    """Train one variant for every seed (checkpointed); write one JSON per seed into ``folder``.

    The checkpoint is ``folder / checkpoint_name`` (default ``<variant>.checkpoint.pt``; a job of a
    job array, which trains one seed, names its own)."""
    if resume and (finished := _finished_runs(preset, variant, seeds, folder)) is not None:
        if bar is not None:  # a variant finished before the interruption is not trained again
            bar.update(preset.steps * len(seeds))
        return finished
    dtype = DTYPES[preset.dtype]
    data = data.to(dtype=dtype)
    models = [build_model(preset, variant, data.dim, data.num_classes, seed, dtype) for seed in seeds]
    configs = [preset.train_config(variant, seed, device) for seed in seeds]
    states = [TrainState() for _ in seeds]
    checkpoint = folder / (checkpoint_name or f"{variant.label}.checkpoint.pt")
    ours = {"preset": fingerprint(preset), "variant": variant.label, "seeds": list(seeds)}
    seconds = 0.0
    if resume and checkpoint.is_file():
        saved = load_checkpoint(checkpoint)
        if saved["fingerprint"] != ours and not overwrite:
            raise FileProblem(
                f"the checkpoint {checkpoint} was written by another configuration; delete it, run without "
                "--resume, or add --overwrite"
            )
        if saved["fingerprint"] == ours:
            for model, weights in zip(models, saved["models"]):
                model.load_state_dict(weights)
            states = [TrainState.from_dict(s) for s in saved["states"]]
            seconds = saved["seconds"]
    stacked = can_stack(models, configs)
    started = time.perf_counter()
    reached = {id(m): s.step for m, s in zip(models, states)}
    if bar is not None:
        bar.update(sum(reached.values()))

    def save():
        save_checkpoint(
            checkpoint,
            {
                "fingerprint": ours,
                "seconds": seconds + time.perf_counter() - started,
                "models": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models],
                "states": [s.to_dict() for s in states],
            },
        )

    def hook(model, state):
        if bar is not None:
            bar.update(state.step - reached[id(model)])
            watched = -2 if len(state.history.final["nc1"]) > 1 else -1
            bar.set_postfix(
                variant=variant.label,
                loss=f"{state.history.loss[-1]:.3g}",
                nc1=f"{state.history.final['nc1'][watched]:.3g}",
                refresh=False,
            )
        reached[id(model)] = state.step
        if on_record is not None:
            on_record(model, state)
        every_member_there = not stacked or model is models[-1]
        if every_member_there and state.step % preset.checkpoint_every == 0 and 0 < state.step < preset.steps:
            save()

    try:
        train(models, data, configs, states, on_record=hook)
    except TrainingInterrupted as error:
        save()
        error.checkpoint = checkpoint
        raise
    except TrainingDiverged as error:
        seed = seeds[error.member]
        path = folder / f"{variant.label}_seed{seed}.diverged.json"
        write_json_atomic(
            path,
            {
                "format": FORMAT,
                "fingerprint": fingerprint(preset),
                "variant": variant.label,
                "seed": seed,
                "message": str(error),
                "history": error.history.to_dict(),
            },
        )
        raise TrainingDiverged(
            f"variant {variant.label}, seed {seed}: {error} (its history until then: {path})", error.state, error.member
        ) from None
    seconds += time.perf_counter() - started

    outputs = []
    for model, seed, state in zip(models, seeds, states):
        result = {
            "format": FORMAT,
            "fingerprint": fingerprint(preset),
            "preset": preset.name,
            "scale": preset.scale,
            "figure": preset.figure,
            "variant": variant.label,
            "seed": seed,
            "command": command,
            "preset_config": dataclasses.asdict(preset),
            "variant_config": dataclasses.asdict(variant),
            "data": {
                "name": data.name,
                "num_samples": data.num_samples,
                "num_classes": data.num_classes,
                "per_class": data.per_class,
                "dim": data.dim,
            },
            "versions": versions(),
            "device": str(pick_device(device)),
            "threads": torch.get_num_threads(),
            "seconds": seconds / len(seeds),
            "vectorised_over_seeds": stacked and len(seeds) > 1,
            "history": state.history.to_dict(),
            "class_means": _final_class_means(model, data, preset.class_mean_layers),
            "backbone_final": _backbone_final(model, data),
            "head_singular_values": _head_singular_values(model),
        }
        result = json.loads(json.dumps(result))  # as it reads back from the file (lists, not tuples)
        path = run_path(folder, variant.label, seed)
        write_json_atomic(path, result)
        outputs.append(RunOutput(path, result, model))
    checkpoint.unlink(missing_ok=True)
    return outputs


def run_preset(
    preset: str | Preset,
    scale: str = "laptop",
    *,
    seeds: int | None = None,
    device: str = "auto",
    out: str | os.PathLike = "results",
    data_root: str | os.PathLike = "data",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    command: str = "",
    on_record: Callable | None = None,
) -> list[RunOutput]:
    """Run every variant of a preset for ``seeds`` seeds (default: the preset's) into
    ``OUT/<preset>/<scale>/``; return the runs.

    ``preset`` is a name (looked up at ``scale``) or a :class:`Preset`. ``on_record(model, state)``
    is passed on to :func:`~ncutils.train`. Before any data is loaded, the folder is created and
    test-written, locked, and checked to hold no results of another configuration. Raises
    :class:`PresetError` (unknown preset, scale or seeds), :class:`~ncutils.files.FileProblem`
    (folder unusable, locked, other configuration, damaged file), ``FileNotFoundError`` (data files
    missing), ``RuntimeError`` (CUDA asked for and absent), :class:`TrainingDiverged`, and
    :class:`TrainingInterrupted` after saving a checkpoint.
    """
    preset = get_preset(preset, scale) if isinstance(preset, str) else preset
    if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1):
        raise PresetError(f"seeds must be a positive int, got {seeds!r}")
    pick_device(device)  # fail before loading anything
    folder = writable_folder(results_folder(out, preset))
    seed_list = list(range(preset.seeds if seeds is None else seeds))
    outputs = []
    with FolderLock(folder):
        check_folder(folder, preset, overwrite)
        data = load_data(preset, data_root)
        total = preset.steps * len(seed_list) * len(preset.variants)
        with tqdm(total=total, disable=not progress_enabled(progress), desc=preset.name) as bar:
            for variant in preset.variants:
                outputs += run_variant(
                    preset,
                    variant,
                    data,
                    seed_list,
                    device=device,
                    folder=folder,
                    resume=resume,
                    overwrite=overwrite,
                    command=command,
                    bar=bar,
                    on_record=on_record,
                )
    return outputs


def command_line(argv: Sequence[str]) -> str:
    """The command as a reader would type it: ``python -m ncutils …``."""
    return " ".join(["python", "-m", "ncutils", *map(shlex.quote, argv)])
