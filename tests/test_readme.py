"""The README's Python example runs as written (with fewer steps, to stay quick).

Reproduce: python -m pytest tests/test_readme.py
"""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_training_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has a Python example"
    namespace = {}
    for block in blocks:
        exec(block.replace("steps=5000", "steps=300"), namespace)  # noqa: S102 - our own README
    state = namespace["state"]
    assert state.step == 300 and state.history.steps[-1] == 300
    nc1 = state.history.metric("nc1", -2)
    assert nc1[-1] < nc1[0]  # training already collapses the penultimate layer a little
