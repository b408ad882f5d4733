"""The notation page names real code: every `nc.…` name and every attribute of a dataset, a model,
a history or a feature list that it gives exists in ncutils.

Reproduce: python -m pytest tests/test_notation_page.py
"""

import re
from pathlib import Path

import ncutils as nc

PAGE = Path(__file__).resolve().parent.parent / "book" / "notation.md"


def test_every_ncutils_name_on_the_notation_page_exists():
    text = PAGE.read_text()
    names = sorted(set(re.findall(r"`nc\.([A-Za-z_][\w.]*)", text)))
    assert len(names) > 20
    for name in names:
        obj = nc
        for part in name.split("."):
            assert hasattr(obj, part), f"notation page names nc.{name}, which ncutils does not have"
            obj = getattr(obj, part)


def test_every_attribute_on_the_notation_page_exists():
    text = PAGE.read_text()
    data = nc.digits(per_class=3)
    model = nc.NCNet(data.dim, [16, 8], [8], data.num_classes, seed=0)
    history = nc.train(model, data, nc.TrainConfig(lr=0.01, weight_decay=1e-3, steps=2, record=1)).history
    objects = {"data": data, "model": model, "history": history, "f": model.features(data.X)[0]}
    found = re.findall(r"`(data|model|history|f)(?:\[[^\]]*\])?\.([A-Za-z_]\w*)", text)
    assert len(found) > 15
    for owner, attribute in set(found):
        assert hasattr(objects[owner], attribute), f"notation page names {owner}.{attribute}, which does not exist"
