"""ipywidgets explorers for a live notebook.

Widgets need a running kernel, so the online book shows each explorer's static
twin (a small-multiples figure of the same sweep) beside it. Training on every
slider move would be slow: an explorer redraws when its button is pressed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def choice_slider(description: str, options: Sequence, value=None):
    """A slider over a fixed list of values (e.g. learning rates on a log grid)."""
    import ipywidgets as widgets

    options = list(options)
    if not options:
        raise ValueError(f"options for {description!r} must not be empty")
    if value is None:
        value = options[len(options) // 2]
    if value not in options:
        raise ValueError(f"value {value!r} for {description!r} is not one of the options {options!r}")
    return widgets.SelectionSlider(
        options=options,
        value=value,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
    )


def explorer(run: Callable, button: str = "Train and plot", **sliders):
    """Sliders for ``run``'s keyword arguments and a button; pressing it calls ``run(**values)``,
    which should train and draw a figure. Returns the widget (display it as a cell's last line)."""
    import ipywidgets as widgets

    if not sliders:
        raise ValueError("explorer needs at least one slider")
    return widgets.interactive(run, {"manual": True, "manual_name": button}, **sliders)
