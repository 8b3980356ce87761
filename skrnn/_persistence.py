"""Saving estimators safely: atomic folder writes and versioned headers.

Both estimators save to a folder holding ``estimator.json`` (parameters and
fitted state that JSON can hold) next to their weights (``model.keras`` or
``weights.npz``). Nothing here unpickles or executes stored code.

Atomicity: a save writes every file into a temporary sibling folder and only
then moves it into place, so a failure part-way (a full disk, an exception, a
killed process) leaves any earlier save at ``path`` intact.
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = [
    "FORMAT_VERSION",
    "CONFIG_FILE",
    "IncompatibleFileError",
    "atomic_directory",
    "file_header",
    "check_file_header",
    "read_config",
    "write_config",
    "add_pickle_header",
    "check_pickle_header",
]

#: Version of the on-disk layout (``save``) and of the pickled state; bump it
#: when either changes in a way older code cannot read.
FORMAT_VERSION = 1
CONFIG_FILE = "estimator.json"
_PICKLE_KEY = "_skrnn_format_version"


class IncompatibleFileError(ValueError):
    """A saved estimator that this version of skrnn cannot read."""


def _skrnn_version():
    from . import __version__

    return __version__


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    The temporary folder is a sibling of ``path`` (same file system, so the
    final move is a rename). On an exception it is deleted and ``path`` is left
    as it was. A folder already at ``path`` is moved aside first and deleted
    after the new one is in place.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a folder: choose another path or remove the file.")
    if path.is_dir() and any(path.iterdir()) and not (path / CONFIG_FILE).is_file():
        # Saving replaces the whole folder: never delete a folder that is not a save.
        raise ValueError(
            f"{path} is a folder that does not hold a saved estimator; saving replaces the whole folder. "
            "Choose a new or empty folder."
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    try:
        yield tmp
        for file in tmp.iterdir():  # data on disk before the rename makes it visible
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def file_header(estimator):
    """The identifying fields written at the top of ``estimator.json``."""
    return {
        "format": f"skrnn.{type(estimator).__name__}",
        "format_version": FORMAT_VERSION,
        "skrnn_version": _skrnn_version(),
    }


def check_file_header(config, cls, source):
    """Raise :class:`IncompatibleFileError` unless ``config`` is a ``cls`` file we can read."""
    expected = f"skrnn.{cls.__name__}"
    found = config.get("format") if isinstance(config, dict) else None
    if found != expected:
        raise IncompatibleFileError(
            f"{source} was not written by {cls.__name__}.save (its format is {found!r}, expected {expected!r})."
        )
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleFileError(
            f"{source} uses file format {version!r}, written by skrnn {config.get('skrnn_version', '?')}; this is "
            f"skrnn {_skrnn_version()}, which reads format {FORMAT_VERSION} and older. Upgrade skrnn to load it."
        )


def write_config(folder, config):
    """Write ``config`` as ``estimator.json`` in ``folder``."""
    (Path(folder) / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")


def read_config(path, cls):
    """Read and check ``estimator.json`` from the save folder ``path``."""
    path = Path(path)
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: is {path} a folder written by {cls.__name__}.save?")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IncompatibleFileError(f"{config_file} is not valid JSON ({exc}); the save is damaged.") from None
    check_file_header(config, cls, config_file)
    return config


def add_pickle_header(state):
    """Record the format version in a ``__getstate__`` dict (returns it)."""
    state[_PICKLE_KEY] = FORMAT_VERSION
    return state


def check_pickle_header(state, cls):
    """Check and remove the format version from a ``__setstate__`` dict."""
    version = state.pop(_PICKLE_KEY, FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleFileError(
            f"This pickled {cls.__name__} uses skrnn state format {version!r}; this is skrnn "
            f"{_skrnn_version()}, which reads format {FORMAT_VERSION} and older. Upgrade skrnn to load it."
        )
    return state
