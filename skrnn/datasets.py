"""Dataset loaders: the IMDB movie reviews and Tiny Shakespeare.

Both loaders follow scikit-learn's ``fetch_*`` functions: they look for the
data in a *data home* folder, download it there when it is missing, and return
plain Python / NumPy objects.

Where the data lives (:func:`get_data_home`): the ``data_home`` argument, else
the ``SKRNN_DATA`` environment variable, else ``~/skrnn_data``.

IMDB is read straight from the ``.tar.gz`` (no extraction of 50,000 small
files) or from an extracted ``aclImdb/`` folder, then cached as one compact
``.npz`` file per subset (a UTF-8 blob, offsets and labels), so that later
loads take well under a second. The cache goes to ``SKRNN_CACHE`` when that is
set, else into the data home when it is writable, else into the user's cache
folder (``$XDG_CACHE_HOME/skrnn`` or ``~/.cache/skrnn``). A read-only data home
is never written to, and a cache that cannot be written only costs speed.

When a download is impossible (offline, ``download_if_missing=False``, a
checksum mismatch), the loaders raise :class:`DatasetUnavailableError`, an
``OSError`` whose message gives the address and the exact place to put the
file by hand.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections import namedtuple
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetUnavailableError",
    "get_data_home",
    "load_imdb",
    "load_tiny_shakespeare",
]

RemoteFile = namedtuple("RemoteFile", ["filename", "url", "sha256", "size"])

IMDB = RemoteFile(
    filename="aclImdb_v1.tar.gz",
    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    size=84_125_825,
)
TINY_SHAKESPEARE = RemoteFile(
    filename="tinyshakespeare.txt",
    url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    size=1_115_394,
)

_SUBSETS = ("train", "test")
# Bump when the cache layout changes: old cache files are then ignored.
_CACHE_VERSION = 1
_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_DOWNLOAD_TIMEOUT = 60  # seconds without data before giving up
_CHUNK = 1 << 16


class DatasetUnavailableError(OSError):
    """A dataset is neither on disk nor downloadable.

    Raised when the file is missing and ``download_if_missing=False``, when the
    download fails (offline, HTTP error) or when the downloaded file does not
    match the expected sha256 checksum. The message gives the address of the
    file and where to put it by hand. Subclass of ``OSError``.
    """


def get_data_home(data_home=None):
    """Return the folder where skrnn looks for (and downloads) datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When ``None``: the ``SKRNN_DATA`` environment
        variable if set, else ``~/skrnn_data``. ``~`` is expanded.

    Returns
    -------
    data_home : str
        The folder's path. It is not created here: the loaders create it only
        when they download into it.
    """
    if data_home is None:
        data_home = os.environ.get("SKRNN_DATA") or os.path.join("~", "skrnn_data")
    return os.path.abspath(os.path.expanduser(os.fspath(data_home)))


def _is_writable_dir(path):
    """True for an existing folder we may write to.

    A folder without any write permission bit counts as read-only even for
    root (who could write to it anyway), as does one on a read-only mount.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return os.path.isdir(path) and bool(mode & 0o222) and os.access(path, os.W_OK | os.X_OK)


def _cache_dirs(data_home):
    """Candidate cache folders, best first."""
    env = os.environ.get("SKRNN_CACHE")
    if env:
        return [os.path.abspath(os.path.expanduser(env))]
    dirs = []
    if _is_writable_dir(data_home):
        dirs.append(data_home)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs.append(os.path.join(xdg, "skrnn"))
    return dirs


# --------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------


# How to point skrnn at another data folder, for both kinds of callers.
_OTHER_DATA_HOME = (
    "or choose a folder that holds it: set SKRNN_DATA, or pass data_home=... in Python, "
    "--data-home DIR to the skrnn command"
)


def _by_hand_hint(remote, target):
    return f"Download {remote.url} by hand and save it as {target} ({_OTHER_DATA_HOME})"


def _make_dirs(path):
    """Create ``path`` and its missing parents; return the folders created, deepest first."""
    created = []
    head = os.path.abspath(path)
    while head and not os.path.isdir(head):
        created.append(head)
        parent = os.path.dirname(head)
        if parent == head:
            break
        head = parent
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        _remove_empty_dirs(created)
        raise
    return created


def _remove_empty_dirs(created):
    """Remove the folders :func:`_make_dirs` created, deepest first, if they are still empty."""
    for path in created:
        try:
            os.rmdir(path)
        except OSError:  # not empty (someone else wrote there), or already gone
            break


def _download(remote, data_home, *, show_progress=True):
    """Download ``remote`` into ``data_home``, verify its sha256, and return its path.

    The bytes go to a temporary file in the same folder, renamed to the final
    name only once complete and verified: an interrupted or corrupt download
    leaves nothing behind that a later call would pick up, not even the data
    folder when this call created it.
    """
    target = os.path.join(data_home, remote.filename)
    try:
        created = _make_dirs(data_home)
    except OSError as exc:
        raise DatasetUnavailableError(
            f"Cannot create the data folder {data_home} ({exc.strerror or exc}). "
            + _by_hand_hint(remote, target)
            + "."
        ) from exc
    try:
        return _download_into(remote, data_home, target, show_progress)
    except BaseException:  # offline, corrupt, interrupted: no empty folder left behind either
        _remove_empty_dirs(created)
        raise


def _download_into(remote, data_home, target, show_progress):
    if not _is_writable_dir(data_home):
        raise DatasetUnavailableError(
            f"{remote.filename} is missing and the data folder {data_home} is read-only. "
            + _by_hand_hint(remote, target)
            + "."
        )

    try:
        fd, tmp_path = tempfile.mkstemp(
            prefix=f".{remote.filename}.", suffix=".part", dir=data_home
        )
    except OSError as exc:
        raise DatasetUnavailableError(
            f"Cannot write to the data folder {data_home} ({exc.strerror or exc}). "
            + _by_hand_hint(remote, target)
            + "."
        ) from exc
    try:
        digest = hashlib.sha256()
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(remote.url, timeout=_DOWNLOAD_TIMEOUT) as response,
            ):
                total = response.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else remote.size
                with _progress(total, f"Downloading {remote.filename}", show_progress) as bar:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DatasetUnavailableError(
                f"Could not download {remote.url} ({reason}). "
                + _by_hand_hint(remote, target)
                + "."
            ) from exc
        if digest.hexdigest() != remote.sha256:
            raise DatasetUnavailableError(
                f"The file downloaded from {remote.url} is corrupt: sha256 {digest.hexdigest()} "
                f"instead of {remote.sha256}; it was deleted. Try again later. "
                + _by_hand_hint(remote, target)
                + "."
            )
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return target


class _NoProgress:
    def update(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress(total, desc, show):
    if not show:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


# --------------------------------------------------------------------------
# IMDB
# --------------------------------------------------------------------------


def _looks_like_imdb_tarball(path):
    """Whether a ``.tar.gz`` holds the ``aclImdb/`` layout (checks its first members only)."""
    try:
        with tarfile.open(path, "r|gz") as tar:
            for i, member in enumerate(tar):
                name = member.name[2:] if member.name.startswith("./") else member.name
                if name.startswith("aclImdb/") or name == "aclImdb":
                    return True
                if i >= 10:
                    break
    except (OSError, tarfile.TarError, EOFError):
        return False
    return False


def _find_imdb_source(data_home):
    """The IMDB source in ``data_home``: ``(kind, path)`` or ``None``.

    Looked for in this order: the extracted ``aclImdb/`` folder, Stanford's
    ``aclImdb_v1.tar.gz``, then any other ``*.tar.gz`` with the ``aclImdb/``
    layout (in name order).
    """
    folder = os.path.join(data_home, "aclImdb")
    if all(os.path.isdir(os.path.join(folder, s, p)) for s in _SUBSETS for p in ("pos", "neg")):
        return "folder", folder
    if not os.path.isdir(data_home):
        return None
    stanford = os.path.join(data_home, IMDB.filename)
    candidates = [stanford] if os.path.isfile(stanford) else []
    candidates += sorted(
        os.path.join(data_home, name)
        for name in os.listdir(data_home)
        if name.endswith(".tar.gz") and name != IMDB.filename and not name.startswith(".")
    )
    for path in candidates:
        if os.path.isfile(path) and _looks_like_imdb_tarball(path):
            return "tarball", path
    return None


def _source_fingerprint(kind, path):
    """A string that changes when the source data changes (sizes and mtimes)."""
    if kind == "tarball":
        st = os.stat(path)
        return f"tarball:{st.st_size}:{st.st_mtime_ns}"
    parts = []
    for subset in _SUBSETS:
        for polarity in ("pos", "neg"):
            st = os.stat(os.path.join(path, subset, polarity))
            parts.append(f"{st.st_mtime_ns}")
    return "folder:" + ":".join(parts)


def _cache_name(source_path, subset):
    key = hashlib.sha256(os.path.abspath(source_path).encode("utf-8")).hexdigest()[:10]
    return f"skrnn-imdb-{subset}-{key}.npz"


def _order(records):
    """Deterministic order: by review id, negative before positive.

    Ids run 0..12,499 within each of pos/ and neg/, so this interleaves the
    two classes: any prefix of the result is balanced to within one review.
    """
    records.sort(key=lambda r: (r[0], r[1]))
    return records


def _parse_tarball(path):
    """Stream the tarball once and return ``{subset: [(id, label, text), ...]}``."""
    out = {s: [] for s in _SUBSETS}
    with tarfile.open(path, "r|gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            match = _MEMBER.match(member.name)
            if match is None:
                continue
            subset, polarity, review_id, _ = match.groups()
            data = tar.extractfile(member).read()
            out[subset].append(
                (int(review_id), int(polarity == "pos"), data.decode("utf-8", errors="replace"))
            )
    return {s: _order(r) for s, r in out.items()}


def _parse_folder(path, subsets):
    out = {}
    for subset in subsets:
        records = []
        for polarity in ("pos", "neg"):
            folder = os.path.join(path, subset, polarity)
            for entry in os.scandir(folder):
                match = _MEMBER.match(f"aclImdb/{subset}/{polarity}/{entry.name}")
                if match is None or not entry.is_file():
                    continue
                with open(entry.path, "rb") as fh:
                    text = fh.read().decode("utf-8", errors="replace")
                records.append((int(match.group(3)), int(polarity == "pos"), text))
        out[subset] = _order(records)
    return out


def _read_cache(cache_dir, source_path, subset, fingerprint):
    path = os.path.join(cache_dir, _cache_name(source_path, subset))
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"]) != _CACHE_VERSION or str(data["fingerprint"]) != fingerprint:
                return None
            blob = data["blob"].tobytes().decode("utf-8")
            offsets = data["offsets"].tolist()
            labels = data["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError, UnicodeDecodeError, EOFError):
        return None
    texts = [blob[a:b] for a, b in itertools.pairwise(offsets)]
    if len(texts) != len(labels):
        return None
    return texts, labels


def _write_cache(cache_dirs, source_path, subset, fingerprint, texts, labels):
    """Write the parsed subset to the first usable cache folder; True on success."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    blob = np.frombuffer("".join(texts).encode("utf-8"), dtype=np.uint8)
    for cache_dir in cache_dirs:
        try:
            os.makedirs(cache_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".skrnn-imdb-", suffix=".npz.part", dir=cache_dir)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    version=np.int64(_CACHE_VERSION),
                    fingerprint=np.str_(fingerprint),
                    blob=blob,
                    offsets=offsets,
                    labels=np.asarray(labels, dtype=np.int8),
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, os.path.join(cache_dir, _cache_name(source_path, subset)))
            return True
        except OSError:
            continue
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return False


def _imdb_missing_message(data_home):
    target = os.path.join(data_home, IMDB.filename)
    return (
        f"The IMDB dataset was not found in {data_home}. "
        f"Download {IMDB.url} by hand and save it as {target} "
        "(any .tar.gz with the aclImdb/ layout, or the extracted aclImdb/ folder, also works), "
        f"{_OTHER_DATA_HOME}."
    )


def load_imdb(subset="train", *, data_home=None, download_if_missing=True):
    """Load the IMDB Large Movie Review Dataset (binary sentiment).

    50,000 movie reviews from IMDB (Maas et al., 2011), split into 25,000
    for training and 25,000 for testing, each half balanced between positive
    (rating >= 7 out of 10) and negative (rating <= 4) reviews.

    ==================   ==============
    Classes                           2
    Samples per subset           25,000
    Samples total                50,000
    Features             raw text (str)
    ==================   ==============

    Read in the data home from, in this order: an extracted ``aclImdb/``
    folder, Stanford's ``aclImdb_v1.tar.gz``, or any ``*.tar.gz`` with the
    ``aclImdb/`` layout; downloaded from Stanford (84 MB, checked against its
    sha256) when none is there. The first load parses the archive (a few
    seconds) and caches a compact copy; later loads read the cache. The cache
    is keyed by the source's size and modification time, so replacing the
    source rebuilds it.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        Which half of the official split to load.
    data_home : str or path-like, default=None
        Where to look for the data, and download it to. By default the
        ``SKRNN_DATA`` environment variable, else ``~/skrnn_data``; see
        :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the data when it is not in ``data_home``. When False and the
        data is missing, raise :class:`DatasetUnavailableError`.

    Returns
    -------
    texts : list of str of length 25,000
        The raw reviews, HTML line breaks (``<br />``) included.
    labels : ndarray of shape (25000,), dtype int64
        1 for a positive review, 0 for a negative one.

    Raises
    ------
    ValueError
        If ``subset`` is not ``"train"`` or ``"test"``.
    DatasetUnavailableError
        If the data is missing and cannot be downloaded (offline,
        ``download_if_missing=False``, checksum mismatch); the message says
        where to put the file by hand.

    Notes
    -----
    The order is deterministic: by review id, the negative review before the
    positive one with the same id. Classes therefore alternate, and any prefix
    ``texts[:n]`` is balanced to within one review. Reviews of the same
    movie (up to 30 per movie) may have nearby ids: draw random subsets
    rather than prefixes when a subset should cover many movies.

    Examples
    --------
    >>> from skrnn.datasets import load_imdb
    >>> texts, labels = load_imdb("train")  # doctest: +SKIP
    >>> len(texts), labels.mean()  # doctest: +SKIP
    (25000, 0.5)
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    data_home = get_data_home(data_home)
    source = _find_imdb_source(data_home)
    if source is None:
        if not download_if_missing:
            raise DatasetUnavailableError(
                _imdb_missing_message(data_home) + " (download_if_missing=False)"
            )
        source = ("tarball", _download(IMDB, data_home))
    kind, path = source
    fingerprint = _source_fingerprint(kind, path)
    cache_dirs = _cache_dirs(data_home)

    for cache_dir in cache_dirs:
        cached = _read_cache(cache_dir, path, subset, fingerprint)
        if cached is not None:
            return cached

    # Parse once; a tarball is streamed in a single pass for both subsets,
    # since loading "train" is nearly always followed by loading "test".
    parsed = _parse_tarball(path) if kind == "tarball" else _parse_folder(path, _SUBSETS)
    result = None
    for name, records in parsed.items():
        texts = [r[2] for r in records]
        labels = np.array([r[1] for r in records], dtype=np.int64)
        if texts:
            _write_cache(cache_dirs, path, name, fingerprint, texts, labels)
        if name == subset:
            result = (texts, labels)
    if not result[0]:
        raise DatasetUnavailableError(
            f"{path} holds no reviews for subset {subset!r}: expected files such as "
            f"aclImdb/{subset}/pos/<id>_<rating>.txt. " + _imdb_missing_message(data_home)
        )
    return result


# --------------------------------------------------------------------------
# Tiny Shakespeare
# --------------------------------------------------------------------------


def load_tiny_shakespeare(*, data_home=None, download_if_missing=True):
    """Load Tiny Shakespeare, the character-level language modelling corpus.

    About 40,000 lines from Shakespeare's plays, as collected by Andrej
    Karpathy for char-rnn: 1,115,394 characters, 65 distinct.

    Read from ``tinyshakespeare.txt`` in the data home (``input.txt``, the
    name it has in char-rnn's repository, is accepted too); downloaded there
    from char-rnn's repository (1.1 MB, checked against its sha256) when
    missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where to look for the data, and download it to. By default the
        ``SKRNN_DATA`` environment variable, else ``~/skrnn_data``; see
        :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the data when it is not in ``data_home``. When False and the
        file is missing, raise :class:`DatasetUnavailableError`.

    Returns
    -------
    text : str
        The whole corpus.

    Raises
    ------
    DatasetUnavailableError
        If the file is missing and cannot be downloaded (offline,
        ``download_if_missing=False``, checksum mismatch); the message says
        where to put the file by hand.

    Examples
    --------
    >>> from skrnn.datasets import load_tiny_shakespeare
    >>> text = load_tiny_shakespeare()  # doctest: +SKIP
    >>> len(text)  # doctest: +SKIP
    1115394
    """
    data_home = get_data_home(data_home)
    path = None
    for name in (TINY_SHAKESPEARE.filename, "input.txt"):
        candidate = os.path.join(data_home, name)
        if os.path.isfile(candidate):
            path = candidate
            break
    if path is None:
        if not download_if_missing:
            target = os.path.join(data_home, TINY_SHAKESPEARE.filename)
            raise DatasetUnavailableError(
                f"Tiny Shakespeare was not found in {data_home} (download_if_missing=False). "
                + _by_hand_hint(TINY_SHAKESPEARE, target)
                + "."
            )
        path = _download(TINY_SHAKESPEARE, data_home)
    return Path(path).read_text(encoding="utf-8")
