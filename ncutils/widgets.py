"""ipywidgets explorers for a live notebook.

Widgets need a running kernel, so the online book shows, where the sliders would
be, a note saying so, and each explorer has a static twin (a small-multiples
figure of the same sweep) right after it. Training on every slider move would be
slow: an explorer redraws when its button is pressed.
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


STATIC_NOTE = (
    '<div class="admonition note explorer-note"><p class="admonition-title">Live explorer</p>'
    "<p>Here a live notebook shows sliders ({names}) and a button that trains a network and draws it. "
    "They need a running Python kernel: open this page's notebook in JupyterLab (see the README). "
    "The static figure just below shows the same experiment for the values of this page.</p></div>"
)


class Explorer:
    """An explorer as a cell's output: the widget where a kernel runs it (Jupyter shows the richest
    format it can, the widget view), and ``STATIC_NOTE`` as HTML where none does (the built book,
    which drops the widget view: ``nb_mime_priority_overrides`` in ``_config.yml``)."""

    def __init__(self, widget, names):
        self.widget = widget
        self.names = list(names)

    def _repr_mimebundle_(self, **kwargs):
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = STATIC_NOTE.format(names=", ".join(self.names))
        bundle["text/plain"] = f"Live explorer ({', '.join(self.names)}): needs a running kernel"
        return bundle

    def update(self):
        """Run the explorer with the sliders' current values (what pressing the button does)."""
        self.widget.update()


def explorer(run: Callable, button: str = "Train and plot", **sliders) -> Explorer:
    """Sliders for ``run``'s keyword arguments and a button; pressing it calls ``run(**values)``,
    which should train and draw a figure. Display the result as a cell's last line."""
    import ipywidgets as widgets

    if not sliders:
        raise ValueError("explorer needs at least one slider")
    widget = widgets.interactive(run, {"manual": True, "manual_name": button}, **sliders)
    return Explorer(widget, (slider.description for slider in sliders.values()))
