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
import stat
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "IncompatibleFileError",
    "SavedFolderMixin",
    "add_pickle_header",
    "atomic_directory",
    "check_file_header",
    "check_pickle_header",
    "file_header",
    "read_arrays",
    "read_config",
    "write_config",
]

#: Version of the on-disk layout (``save``) and of the pickled state; bump it
#: when either changes in a way older code cannot read.
FORMAT_VERSION = 1
CONFIG_FILE = "estimator.json"
_PICKLE_KEY = "_skrnn_format_version"
# The files a save folder may hold: a folder with nothing else, and a skrnn
# header in its CONFIG_FILE, is an earlier save and safe to replace.
_SAVE_FILES = {CONFIG_FILE, "model.keras", "ngrams.npz", "weights.npz"}


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
    as it was. A folder already at ``path`` is moved aside first, put back if
    the new one cannot take its place, and deleted after it has. The new
    folder gets the mode of the one it replaces, else the usual mode of a new
    folder under the umask (``mkdtemp`` alone would make it private).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    _check_replaceable(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_dir() else 0o777 & ~_umask()
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    old = None
    try:
        os.chmod(tmp, mode)
        yield tmp
        for file in tmp.rglob("*"):  # data on disk before the rename makes it visible
            if file.is_file():
                with open(file, "rb") as fh:
                    os.fsync(fh.fileno())
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not path.exists():  # the earlier save goes back in place
            os.replace(old / path.name, path)
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_folder(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_umask_lock = threading.Lock()


def _umask():
    """The process's umask (reading it means setting it: briefly, under a lock)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _fsync_folder(folder):
    """Make the renames durable; some platforms cannot open a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_replaceable(path):
    """Refuse to replace anything but an empty folder or an earlier skrnn save.

    A save replaces the whole folder, so ``save(".")`` or ``save(home)`` must
    never delete what is there.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise ValueError(
            f"{path} exists and is not a folder: choose another path or remove the file."
        )
    names = {entry.name for entry in path.iterdir()}
    if not names:
        return
    try:
        header = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        header = None
    if not (names <= _SAVE_FILES and _is_skrnn_header(header)):
        raise ValueError(
            f"{path} is a non-empty folder that does not hold a saved skrnn estimator "
            f"(only a folder whose {CONFIG_FILE} has a skrnn header, next to its weights, "
            "is replaced); saving replaces the whole folder, so it refuses and leaves the files "
            "as they are. Choose a new or empty folder, or remove this one first."
        )


def _is_skrnn_header(config):
    return (
        isinstance(config, dict)
        and isinstance(config.get("format"), str)
        and config["format"].startswith("skrnn.")
        and _is_format_version(config.get("format_version"))
    )


def _is_format_version(version):
    return isinstance(version, int) and not isinstance(version, bool) and version >= 1


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
            f"{source} was not written by {cls.__name__}.save "
            f"(its format is {found!r}, expected {expected!r})."
        )
    version = config.get("format_version")
    if not _is_format_version(version):
        raise IncompatibleFileError(
            f"{source} has format_version {version!r}, not a version number; the save is damaged."
        )
    if version > FORMAT_VERSION:
        raise IncompatibleFileError(
            f"{source} uses file format {version!r}, "
            f"written by skrnn {config.get('skrnn_version', '?')}; "
            f"this is skrnn {_skrnn_version()}, which reads format {FORMAT_VERSION} and older. "
            "Upgrade skrnn to load it."
        )


def write_config(folder, config):
    """Write ``config`` as ``estimator.json`` in ``folder``."""
    (Path(folder) / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")


def read_config(path, cls):
    """Read and check ``estimator.json`` from the save folder ``path``."""
    path = Path(path)
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{config_file} not found: is {path} a folder written by {cls.__name__}.save?"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IncompatibleFileError(
            f"{config_file} is not valid JSON ({exc}); the save is damaged."
        ) from None
    check_file_header(config, cls, config_file)
    return config


def add_pickle_header(state):
    """Record the format version in a ``__getstate__`` dict (returns it)."""
    state[_PICKLE_KEY] = FORMAT_VERSION
    return state


def check_pickle_header(state, cls):
    """Check and remove the format version from a ``__setstate__`` dict."""
    version = state.pop(_PICKLE_KEY, FORMAT_VERSION)
    if not _is_format_version(version) or version > FORMAT_VERSION:
        raise IncompatibleFileError(
            f"This pickled {cls.__name__} uses skrnn state format {version!r}; "
            f"this is skrnn {_skrnn_version()}, which reads format {FORMAT_VERSION} and older. "
            "Upgrade skrnn to load it."
        )
    return state


def read_arrays(file):
    """The arrays of an ``.npz`` file, read without pickle.

    Raises :class:`IncompatibleFileError` if it is damaged.
    """
    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found: the save at {file.parent} is incomplete.")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise IncompatibleFileError(
            f"{file} cannot be read ({exc}); the save is damaged."
        ) from None


class SavedFolderMixin:
    """``save(path)`` and ``load(path)`` for an estimator.

    The save is a folder, written atomically and read without pickle.

    The folder holds ``estimator.json`` (a header naming the format and its
    version, then what :meth:`_saved_config` returns) and the files
    :meth:`_save_files` writes (weights). :meth:`save` writes them to a
    temporary sibling folder that replaces ``path`` only once complete
    (:func:`atomic_directory`); :meth:`load` checks the header, then calls
    ``cls._from_saved(path, config)``, turning what a damaged file raises into
    :class:`IncompatibleFileError`. Pickles carry the format version too.

    Hooks: ``_saved_config(self)``, ``_save_files(self, folder)`` and the
    class method ``_from_saved(cls, path, config)``; ``_fitted_attribute``
    names the attribute that ``check_is_fitted`` looks for.
    """

    _fitted_attribute = None

    def save(self, path):
        """Save the fitted estimator to the folder ``path``, atomically and without pickle.

        ``path`` must be new, empty, or an earlier save (a folder whose
        ``estimator.json`` has a skrnn header, next to its weights): any other
        folder is refused, and its files are left as they are. A folder that
        is replaced keeps its mode; a new one follows the umask. If saving
        fails part-way (a full disk, an exception, a killed process), an
        earlier save at ``path`` is left intact.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : pathlib.Path

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            If ``path`` is a file, or a folder that is not a save.
        """
        check_is_fitted(self, self._fitted_attribute)
        config = {**file_header(self), **self._saved_config()}
        try:
            json.dumps(config)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"The fitted state cannot be written as JSON ({exc}). "
                "Use joblib.dump to save this estimator."
            ) from None
        with atomic_directory(path) as folder:
            self._save_files(folder)
            write_config(folder, config)
        return Path(path)

    @classmethod
    def load(cls, path):
        """Load an estimator written by :meth:`save`; no stored code is run.

        Parameters
        ----------
        path : str or path-like
            The folder given to :meth:`save`.

        Returns
        -------
        estimator
            Fitted, as it was saved.

        Raises
        ------
        FileNotFoundError
            If ``path`` holds no ``estimator.json``, or a weights file is missing.
        IncompatibleFileError
            (a ``ValueError``) If the folder was written by another estimator,
            by a newer skrnn (a newer ``format_version``), or is damaged.
        """
        path = Path(path)
        config = read_config(path, cls)
        try:
            return cls._from_saved(path, config)
        except (IncompatibleFileError, FileNotFoundError):
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise IncompatibleFileError(
                f"{path} is damaged or incomplete ({type(exc).__name__}: {exc}); "
                "save the estimator again."
            ) from None

    def __getstate__(self):
        # The state dict may be the instance's own __dict__: copy before adding the header.
        return add_pickle_header(dict(super().__getstate__()))

    def __setstate__(self, state):
        super().__setstate__(check_pickle_header(dict(state), type(self)))
