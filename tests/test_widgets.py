"""The explorers' plumbing (their figures are checked in the notebooks that use them)."""

import pytest

import ncutils as nc


def test_explorer_widgets():
    import ipywidgets

    calls = []
    slider = nc.choice_slider("λ", [1e-3, 1e-2, 1e-1])
    assert slider.value == 1e-2
    ui = nc.explorer(lambda weight_decay: calls.append(weight_decay), weight_decay=slider)
    assert isinstance(ui, ipywidgets.interactive)
    ui.update()  # what pressing the button does
    assert calls == [1e-2]
    with pytest.raises(ValueError, match="not one of the options"):
        nc.choice_slider("η", [0.1, 0.2], value=0.3)
    with pytest.raises(ValueError, match="at least one slider"):
        nc.explorer(lambda: None)
