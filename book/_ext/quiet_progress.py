"""Sphinx extension for the book build: no progress bars in the executed notebooks.

MyST-NB runs each notebook in a kernel that inherits this process's environment; ncutils draws
no progress bar when ``NCUTILS_PROGRESS=0`` (see ``ncutils.utils.progress_enabled``). A bar drawn
during the build would end up in the HTML as a widget with nothing to show.
"""

import os


def setup(app):
    os.environ["NCUTILS_PROGRESS"] = "0"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
