"""The explorers' plumbing (their figures are checked in the notebooks that use them)."""

import pytest

import ncutils as nc


def test_explorer_widgets():
    import ipywidgets

    calls = []
    slider = nc.choice_slider("λ", [1e-3, 1e-2, 1e-1])
    assert slider.value == 1e-2
    ui = nc.explorer(lambda weight_decay: calls.append(weight_decay), weight_decay=slider)
    assert isinstance(ui.widget, ipywidgets.interactive)
    ui.update()  # what pressing the button does
    assert calls == [1e-2]
    with pytest.raises(ValueError, match="not one of the options"):
        nc.choice_slider("η", [0.1, 0.2], value=0.3)
    with pytest.raises(ValueError, match="at least one slider"):
        nc.explorer(lambda: None)


def test_explorer_shows_the_widget_in_jupyter_and_a_note_in_the_book():
    slider = nc.choice_slider("learning rate η", [0.1, 0.2])
    bundle = nc.explorer(lambda lr: None, lr=slider)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # what a live notebook renders
    assert "needs a running" in bundle["text/plain"]
    note = bundle["text/html"]  # what the built book renders (the widget view is dropped there)
    assert "learning rate η" in note and "running Python kernel" in note and "static figure" in note
