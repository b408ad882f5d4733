"""Launch buttons (Colab, Binder) and the repository button only once ``repository.url`` is set.

Unset, Jupyter Book fills in its own repository (executablebooks/jupyter-book), and the buttons
would open someone else's notebooks; so until ``_config.yml`` names the book's repository (see
``tests/publish.py``), this extension removes them.
"""

JUPYTER_BOOK_DEFAULT = "https://github.com/executablebooks/jupyter-book"


def has_repository(url) -> bool:
    return bool(url) and url.rstrip("/") != JUPYTER_BOOK_DEFAULT


def _hide_buttons_without_repository(app, config):
    options = config.html_theme_options
    if has_repository(options.get("repository_url")):
        options["use_repository_button"] = True  # Jupyter Book refuses it in _config.yml while the URL is unset
    else:
        options["launch_buttons"] = {}
        options["use_repository_button"] = False


def setup(app):
    app.connect("config-inited", _hide_buttons_without_repository, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
