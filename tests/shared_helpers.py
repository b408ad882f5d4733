"""Small helpers that several test modules use (importable from them: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os


def crash_at_step(step):
    """An ``on_record`` hook that raises RuntimeError("crash") when training records ``step``."""

    def on_record(model, state):
        if state.step == step:
            raise RuntimeError("crash")

    return on_record


class RunsCode:
    """Unpickling this object would create ``marker``: a stand-in for any code a crafted file runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)
