"""Files that must never be half-written, never run code when read, and never be shared by two runs.

* :func:`write_json_atomic` / :func:`save_checkpoint`: a temporary file, then a rename, so a reader
  (or a crash) never sees half a file;
* :func:`read_json` / :func:`load_checkpoint`: one clear error naming a damaged file; checkpoints
  load with ``weights_only=True`` (tensors and plain values only: a crafted file cannot run code);
* :class:`FolderLock`: one run per results folder at a time.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path

import torch


class FileProblem(ValueError):
    """A file or folder the user pointed us at cannot be used (a usage error: exit code 2)."""


def _atomic_write(path: Path, mode: str, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``.
    If writing fails, the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(mode, dir=path.parent, suffix=".tmp", delete=False) as f:
        try:
            write(f)
        except BaseException:
            f.close()
            os.unlink(f.name)
            raise
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)  # a temporary file is private (0600); results are ordinary files
    os.replace(f.name, path)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename: a reader never sees half a file."""
    _atomic_write(Path(path), "w", lambda f: json.dump(obj, f, separators=(",", ":")))


def read_json(path: str | os.PathLike, what: str = "result file", fix: str = "delete it and run again") -> dict:
    """A JSON object from ``path``; a truncated or foreign file gives one :class:`FileProblem` naming it."""
    try:
        with open(path) as f:
            obj = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FileProblem(f"the {what} {path} is damaged ({type(error).__name__}: {error}); {fix}") from None
    if not isinstance(obj, dict):
        raise FileProblem(f"the {what} {path} does not hold a JSON object; {fix}")
    return obj


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """``torch.save`` through a temporary file and a rename (an interrupted save keeps the previous checkpoint)."""
    _atomic_write(Path(path), "wb", lambda f: torch.save(state, f))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint's state, read with ``weights_only=True``: tensors and plain Python values only,
    so a crafted file cannot run code. A file that cannot be read gives one error naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError (refused content), RuntimeError (not a zip), EOFError, ...
        raise FileProblem(
            f"the checkpoint {path} cannot be read ({type(error).__name__}): it is damaged or was not written "
            "by ncutils; delete it to start this variant again"
        ) from None
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise FileProblem(f"the checkpoint {path} is not an ncutils checkpoint; delete it to start this variant again")
    return state


def writable_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) and prove it writable by writing a file there, before any
    work is done; otherwise one :class:`FileProblem` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except FileExistsError:
        raise FileProblem(f"{folder} exists and is not a folder; choose another --out") from None
    except OSError as error:
        raise FileProblem(f"cannot write to {folder} ({error.strerror}); choose another --out") from None
    return folder


class FolderLock:
    """``with FolderLock(folder):`` — refuse a second run on the same folder while one is running.

    The lock is a file ``.lock`` holding the host and process id; a lock left by a process of this
    host that no longer exists (killed with SIGKILL) is taken over.
    """

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / ".lock"
        self.owner = f"{socket.gethostname()} {os.getpid()}"

    def __enter__(self):
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    holder = self.path.read_text().strip() or "an unknown process"
                    raise FileProblem(
                        f"another run ({holder}) is writing to {self.path.parent}; wait for it to finish, or delete "
                        f"{self.path} if no run is going on"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(self.owner)
            return self
        raise FileProblem(f"cannot take the lock {self.path}; delete it if no run is going on")

    def _stale(self) -> bool:
        try:
            host, pid = self.path.read_text().split()
            pid = int(pid)
        except (OSError, ValueError):
            return False
        if host != socket.gethostname():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def holder(self) -> str | None:
        """Who holds the lock (``host pid``) without taking it; None if nobody does (no lock, or one left
        by a process of this host that no longer exists)."""
        try:
            return None if self._stale() else self.path.read_text().strip() or "an unknown process"
        except OSError:  # no lock
            return None

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        return False
