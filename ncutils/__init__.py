"""ncutils: train the networks of Jacot, Súkeník, Wang & Mondelli (ICLR 2025) and measure neural collapse.

Notebooks import only this module: ``import ncutils as nc``.
"""

from .catalogue import PRESET_NAMES, get_preset, list_presets
from .claims import ClaimFailed, Claims
from .curvature import ntk_norm, sharpness
from .data import DataFileError, Dataset, cifar10, digits, gaussian_mixture, mnist, mnist_subset
from .endpoints import end_point, load_end_points, save_end_points, train_end_points
from .files import FileProblem
from .history import History, TrainingDiverged, TrainingInterrupted, TrainState
from .metrics import (
    balancedness,
    balancedness_op,
    class_means,
    condition_number,
    imbalance,
    means_condition_number,
    nc1,
    nc1_pinv,
    nc2,
    nc2_etf,
    nc3,
    nc3_distance,
    negativity,
    numerical_rank,
    operator_norm,
    singular_values,
)
from .models import ACTIVATIONS, NCNet, ResNet20Net, data_for, smooth_leaky
from .plotting import plot_band, plot_metric, show_matrix, use_book_style
from .preset import Preset, PresetError, Variant
from .report import collapse_report, layer_metrics
from .results import (
    by_variant,
    final_metric,
    history_of,
    load_runs,
    metric_curves,
    results_dir,
    seed_band,
    seed_mean_std,
)
from .runner import run_preset
from .schedules import Schedule, constant, geometric_steps, piecewise, schedule_from_dict
from .seeds import Spread, seed_offset, seeds, spread
from .steps import data_term, objective
from .tables import assumption_table, below, conclusion_table, format_report, significant, table
from .theory import (
    HeadFromFeatures,
    NC1Bound,
    balanced_factorization,
    balanced_kappa,
    data_gradients,
    gd_balancedness_step,
    head_from_features,
    head_product,
    imbalance_decay,
    nc1_bound,
    nc1_bound_for,
    schatten_cost,
)
from .train import TrainConfig, train
from .utils import pick_device, progress_enabled, seed_everything
from .widgets import choice_slider, explorer

__version__ = "0.1.0"
