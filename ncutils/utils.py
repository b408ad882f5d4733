"""Seeds, devices and progress bars: the few helpers every notebook needs once."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int = 0, threads: int | None = 1) -> None:
    """Seed Python, NumPy and torch, and fix torch's CPU thread count.

    CPU torch with a fixed seed *and* a fixed thread count prints bit-identical
    numbers run to run; 1 and 2 threads differ in the 4th–6th digit, because a
    reduction is summed in a different order. Every notebook therefore calls this
    in its first cell. ``threads=None`` leaves the thread count alone.

    The environment variable ``NCUTILS_THREADS``, when set, replaces ``threads``: the test
    suite runs some notebooks with 2 threads this way, to check that what they print does
    not depend on the thread count (``tests/kernel_settings.py``).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    threads = _threads_from_environment(threads)
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _threads_from_environment(threads: int | None) -> int | None:
    """``NCUTILS_THREADS`` if it is set (a positive int, else a clear error), else ``threads``."""
    value = os.environ.get("NCUTILS_THREADS", "").strip()
    if not value:
        return threads
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"NCUTILS_THREADS must be a positive int, got {value!r}")
    return int(value)


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when available, else CPU; anything else is checked.

    Asking for CUDA on a machine without a GPU is an error, not a silent CPU run.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={str(device)!r} was asked for, but torch sees no CUDA GPU; use device='auto' or 'cpu'"
        )
    return device


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw progress bars: an explicit ``progress`` wins; otherwise on, unless the
    ``CI`` variable is set or ``NCUTILS_PROGRESS`` is ``0``/``false``/``off`` (the book build
    sets it, so the HTML pages carry no progress bars)."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        return False
    return os.environ.get("NCUTILS_PROGRESS", "").lower() not in ("0", "false", "off", "no")
