"""The shipped results of the two depth sweeps are what their presets train: the files are of the
presets' current configuration with all their seeds, and one of their networks, trained again here,
ends where its stored file says.

The retrained setting is the cheapest one: ``mlp_backbone_depth`` at laptop scale, variant
``L1=4``, seed 0 (3,000 full-batch steps, about 5 s on one thread). It goes through
``nc.run_preset``, the function behind ``python -m ncutils run``, with the preset narrowed to that
variant and ``seeds=1`` (the CLI's ``--seeds 1``), into a temporary folder.

Tolerance: relative 1e-3 on every final metric. The stored run trained its five seeds stacked
as one batched float32 network (batched matrix products), this one trains a single network (2-D
products), so the two differ in rounding from the first step on; over 3,000 steps of a converging
(not chaotic) run that grows to at most 2.5e-4 relative, measured on one machine with 1 and 2
threads and with ATen's kernels without SIMD and MKL's SSE2 path (``ATEN_CPU_CAPABILITY=default
MKL_CBWR=COMPATIBLE``), which stand in for another CPU. 1e-3 leaves a factor of 4 above that,
and is still far below what a change of the configuration does: the stored run of seed 1 differs
from that of seed 0 by up to 19%, and a run with a weight decay 10% larger by up to 35%.

Reproduce: python -m pytest -q -n 0 tests/test_shipped_depth_results.py
(another arithmetic: ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE python -m pytest -q -n 0 tests/test_shipped_depth_results.py)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import ncutils as nc
from ncutils import results
from ncutils.catalogue import get_preset

pytestmark = pytest.mark.usefixtures("one_thread")  # the shipped runs were made with --threads 1

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "book" / "results"
RTOL = 1e-3  # see the module's docstring
METRICS = ("nc1", "nc2", "balancedness", "negativity")  # what the two notebooks read, every layer


# python -m ncutils status mlp_head_depth --scale laptop --out book/results (and mlp_backbone_depth)
@pytest.mark.parametrize("name", ["mlp_head_depth", "mlp_backbone_depth"])
def test_shipped_files_are_of_the_current_preset_with_all_its_seeds(name):
    preset = get_preset(name, "laptop")
    assert preset.seeds == 5
    runs = nc.load_runs(name, SHIPPED, scale="laptop")
    assert {run["fingerprint"] for run in runs} == {results.fingerprint(preset)}
    found = sorted((run["variant"], run["seed"]) for run in runs)
    assert found == sorted((v.label, seed) for v in preset.variants for seed in range(preset.seeds))
    made_by = f"python -m ncutils run {name} --scale laptop --out book/results"  # as the notebooks print it
    assert all(run["command"].startswith(made_by) for run in runs), {run["command"] for run in runs}


# python -m ncutils run mlp_backbone_depth --scale laptop --seeds 1 --out /tmp/r --threads 1,
# narrowed to the variant L1=4, then compared with book/results/mlp_backbone_depth/laptop/L1=4_seed0.json
def test_one_shipped_network_trained_again_ends_where_its_file_says(tmp_path):
    name, label, seed = "mlp_backbone_depth", "L1=4", 0  # seed 0: the first of the preset's seeds 0..4
    preset = get_preset(name, "laptop")
    (variant,) = [v for v in preset.variants if v.label == label]
    (output,) = nc.run_preset(dataclasses.replace(preset, variants=(variant,)), out=tmp_path, seeds=1, progress=False)
    stored = json.loads((SHIPPED / name / "laptop" / f"{label}_seed{seed}.json").read_text(encoding="utf-8"))
    assert output.result["seed"] == stored["seed"] == seed
    assert output.result["history"]["config"] == stored["history"]["config"]  # same η schedule, λ, steps, seed
    assert output.result["history"]["steps"] == stored["history"]["steps"]
    again, then = output.result["history"], stored["history"]
    for key in ("loss", "data_loss"):
        assert again[key][-1] == pytest.approx(then[key][-1], rel=RTOL), key
    for metric in METRICS:
        new, old = again["reports"][-1][metric], then["reports"][-1][metric]
        assert [v is None for v in new] == [v is None for v in old], metric  # the same layers carry it
        pairs = [(a, b) for a, b in zip(new, old) if b is not None]
        assert [a for a, _ in pairs] == pytest.approx([b for _, b in pairs], rel=RTOL), metric
    assert output.result["head_singular_values"] == pytest.approx(stored["head_singular_values"], rel=RTOL)
