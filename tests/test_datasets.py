"""Tests for skrnn.datasets, on small generated archives (and the real data when present)."""

import hashlib
import io
import os
import stat
import tarfile
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from skrnn import datasets
from skrnn.datasets import DatasetUnavailableError, get_data_home, load_imdb, load_tiny_shakespeare

# (subset, polarity, id, rating, text)
REVIEWS = [
    ("train", "pos", 0, 9, "A wonderful film.<br /><br />Loved it."),
    ("train", "pos", 1, 8, "Great acting, caf\u00e9 scenes \u2764."),
    ("train", "pos", 10, 7, "Good fun."),
    ("train", "neg", 0, 1, "Awful."),
    ("train", "neg", 1, 2, "Boring and long."),
    ("train", "neg", 2, 3, "Not good."),
    ("test", "pos", 0, 10, "Masterpiece."),
    ("test", "pos", 3, 7, "Nice."),
    ("test", "neg", 0, 4, "Meh."),
    ("test", "neg", 5, 1, "Terrible \u65e5\u672c."),
]


def _members(reviews):
    yield "aclImdb/README", b"fake IMDB for tests\n"
    yield "aclImdb/imdb.vocab", b"film\nfun\n"
    for subset, polarity, review_id, rating, text in reviews:
        yield f"aclImdb/{subset}/{polarity}/{review_id}_{rating}.txt", text.encode("utf-8")
    yield "aclImdb/train/urls_pos.txt", b"http://example.com\n"  # not a review: ignored


def make_tarball(path, reviews=REVIEWS):
    """Write a .tar.gz with the aclImdb/ layout; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for directory in ["aclImdb"] + [
            f"aclImdb/{s}/{p}" for s in ("train", "test") for p in ("pos", "neg")
        ]:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in _members(reviews):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_folder(root, reviews=REVIEWS):
    for name, data in _members(reviews):
        target = Path(root) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return Path(root) / "aclImdb"


def expected(subset, reviews=REVIEWS):
    rows = sorted((r[2], int(r[1] == "pos"), r[4]) for r in reviews if r[0] == subset)
    return [r[2] for r in rows], np.array([r[1] for r in rows])


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("SKRNN_CACHE", str(path))
    return path


@pytest.fixture
def no_network(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the loader must not download here")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", fail)


def assert_same(result, subset, reviews=REVIEWS):
    texts, labels = result
    want_texts, want_labels = expected(subset, reviews)
    assert texts == want_texts
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, want_labels)


# ------------------------------------------------------------------ data home


def test_get_data_home_order(tmp_path, monkeypatch):
    monkeypatch.setenv("SKRNN_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == str(tmp_path / "arg")
    assert get_data_home() == str(tmp_path / "env")
    monkeypatch.delenv("SKRNN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == str(tmp_path / "home" / "skrnn_data")
    assert not (tmp_path / "home").exists()  # not created by merely asking


# ------------------------------------------------------------------ IMDB sources


@pytest.mark.parametrize("subset", ["train", "test"])
def test_load_imdb_from_stanford_tarball(tmp_path, cache_dir, no_network, subset):
    make_tarball(tmp_path / "data" / "aclImdb_v1.tar.gz")
    assert_same(load_imdb(subset, data_home=tmp_path / "data"), subset)


def test_order_interleaves_classes(tmp_path, cache_dir, no_network):
    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    _, labels = load_imdb("train", data_home=tmp_path)
    np.testing.assert_array_equal(labels, [0, 1, 0, 1, 0, 1])


def test_any_tarball_with_the_layout(tmp_path, cache_dir, no_network):
    # An unrelated archive first in name order is skipped.
    with tarfile.open(tmp_path / "a_other.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("something/else.txt")
        tar.addfile(info, io.BytesIO(b""))
    make_tarball(tmp_path / "b_imdb_copy.tar.gz")
    assert_same(load_imdb("test", data_home=tmp_path), "test")


def test_extracted_folder(tmp_path, cache_dir, no_network):
    make_folder(tmp_path)
    assert_same(load_imdb("train", data_home=tmp_path), "train")
    assert_same(load_imdb("test", data_home=tmp_path), "test")


def test_data_home_from_environment(tmp_path, cache_dir, no_network, monkeypatch):
    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    monkeypatch.setenv("SKRNN_DATA", str(tmp_path))
    assert_same(load_imdb(), "train")


def test_bad_subset(tmp_path):
    with pytest.raises(ValueError, match="subset must be 'train' or 'test'"):
        load_imdb("unsup", data_home=tmp_path)


# ------------------------------------------------------------------ cache


def test_second_load_is_served_from_cache(tmp_path, cache_dir, no_network, monkeypatch):
    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    first = load_imdb("train", data_home=tmp_path)
    assert sorted(p.name.split("-")[2] for p in cache_dir.glob("*.npz")) == ["test", "train"]

    def no_parse(*args):
        raise AssertionError("parsed again instead of reading the cache")

    monkeypatch.setattr(datasets, "_parse_tarball", no_parse)
    second = load_imdb("train", data_home=tmp_path)
    assert second[0] == first[0]
    np.testing.assert_array_equal(second[1], first[1])
    assert_same(load_imdb("test", data_home=tmp_path), "test")  # parsed in the same pass


def test_cache_invalidated_when_source_changes(tmp_path, cache_dir, no_network):
    path = make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    assert_same(load_imdb("train", data_home=tmp_path), "train")
    changed = [(*r[:4], "changed " + r[4]) for r in REVIEWS]
    make_tarball(path, changed)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert_same(load_imdb("train", data_home=tmp_path), "train", changed)


def test_cache_invalidated_for_folder(tmp_path, cache_dir, no_network):
    folder = make_folder(tmp_path)
    assert_same(load_imdb("train", data_home=tmp_path), "train")
    (folder / "train" / "pos" / "10_7.txt").unlink()
    os.utime(folder / "train" / "pos", ns=(time.time_ns(), time.time_ns() + 10**9))
    fewer = [r for r in REVIEWS if r[:3] != ("train", "pos", 10)]
    assert_same(load_imdb("train", data_home=tmp_path), "train", fewer)


def test_corrupt_cache_is_rebuilt(tmp_path, cache_dir, no_network):
    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    load_imdb("train", data_home=tmp_path)
    for path in cache_dir.glob("*.npz"):
        path.write_bytes(b"garbage")
    assert_same(load_imdb("train", data_home=tmp_path), "train")


def test_read_only_data_home(tmp_path, no_network, monkeypatch):
    data = tmp_path / "data"
    make_tarball(data / "aclImdb_v1.tar.gz")
    monkeypatch.delenv("SKRNN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    before = sorted(os.listdir(data))
    data.chmod(
        stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP
    )  # even root leaves it alone
    try:
        assert_same(load_imdb("train", data_home=data), "train")
        assert sorted(os.listdir(data)) == before
        assert len(list((tmp_path / "xdg" / "skrnn").glob("*.npz"))) == 2
    finally:
        data.chmod(0o755)


def test_writable_data_home_holds_the_cache(tmp_path, no_network, monkeypatch):
    monkeypatch.delenv("SKRNN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    load_imdb("test", data_home=tmp_path)
    assert len(list(tmp_path.glob("skrnn-imdb-*.npz"))) == 2
    assert not (tmp_path / "xdg").exists()


def test_unwritable_cache_only_costs_speed(tmp_path, no_network, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("SKRNN_CACHE", str(blocker / "cache"))
    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    assert_same(load_imdb("train", data_home=tmp_path), "train")


# ------------------------------------------------------------------ downloading


@pytest.fixture
def remote_imdb(tmp_path, monkeypatch):
    """Point the IMDB download at a local file:// URL; returns the source path."""
    source = make_tarball(tmp_path / "server" / "aclImdb_v1.tar.gz")
    remote = datasets.IMDB._replace(
        url=source.as_uri(), sha256=sha256(source), size=source.stat().st_size
    )
    monkeypatch.setattr(datasets, "IMDB", remote)
    return source


def test_download_when_missing(tmp_path, cache_dir, remote_imdb):
    data = tmp_path / "new" / "data"
    assert_same(load_imdb("train", data_home=data), "train")
    assert sorted(os.listdir(data)) == ["aclImdb_v1.tar.gz"]  # no temporary file left
    assert sha256(data / "aclImdb_v1.tar.gz") == sha256(remote_imdb)


def test_checksum_mismatch_leaves_nothing(tmp_path, cache_dir, remote_imdb, monkeypatch):
    monkeypatch.setattr(datasets, "IMDB", datasets.IMDB._replace(sha256="0" * 64))
    data = tmp_path / "data"
    with pytest.raises(DatasetUnavailableError, match="sha256") as info:
        load_imdb("train", data_home=data)
    assert remote_imdb.as_uri() in str(info.value)
    assert not data.exists()  # the folder this call created is gone too
    # A later call does not trust anything: it downloads (and fails) again.
    with pytest.raises(DatasetUnavailableError, match="sha256"):
        load_imdb("train", data_home=data)


class _BrokenResponse:
    """A response that delivers some bytes and then fails, like a dropped connection."""

    def __init__(self, error):
        self.headers = {"Content-Length": "1000000"}
        self.error = error
        self.calls = 0

    def read(self, n):
        self.calls += 1
        if self.calls > 2:
            raise self.error
        return b"\x1f\x8b" + b"x" * 100

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("error", [ConnectionResetError("connection reset"), KeyboardInterrupt()])
def test_interrupted_download_leaves_nothing(tmp_path, cache_dir, monkeypatch, error):
    monkeypatch.setattr(datasets.urllib.request, "urlopen", lambda *a, **k: _BrokenResponse(error))
    data = tmp_path / "data"
    expected_error = (
        KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else DatasetUnavailableError
    )
    with pytest.raises(expected_error):
        load_imdb("train", data_home=data)
    assert not data.exists()


def test_offline_error_says_where_to_put_the_file(tmp_path, cache_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    data = tmp_path / "data"
    with pytest.raises(DatasetUnavailableError) as info:
        load_imdb("test", data_home=data)
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz" in message
    assert str(data / "aclImdb_v1.tar.gz") in message
    assert "Network is unreachable" in message
    assert "SKRNN_DATA" in message and "data_home=" in message and "--data-home" in message
    assert not data.exists()


def test_failed_download_leaves_no_folder_it_created(tmp_path, cache_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    # Nested folders that did not exist are all removed, the one that existed is kept.
    with pytest.raises(DatasetUnavailableError):
        load_tiny_shakespeare(data_home=tmp_path / "a" / "b" / "c")
    assert not (tmp_path / "a").exists()
    # A data folder that existed before stays, with what it held.
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    with pytest.raises(DatasetUnavailableError):
        load_imdb("train", data_home=existing)
    assert sorted(os.listdir(existing)) == ["notes.txt"]
    # The default data home (~/skrnn_data) is not left behind either.
    monkeypatch.delenv("SKRNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    with pytest.raises(DatasetUnavailableError):
        load_tiny_shakespeare()
    assert os.listdir(tmp_path / "home") == []


def test_missing_data_message_names_every_way_to_point_at_it(tmp_path, cache_dir, no_network):
    for load in (
        lambda: load_imdb("train", data_home=tmp_path, download_if_missing=False),
        lambda: load_tiny_shakespeare(data_home=tmp_path, download_if_missing=False),
    ):
        with pytest.raises(DatasetUnavailableError) as info:
            load()
        message = str(info.value)
        for fragment in ("SKRNN_DATA", "data_home=", "--data-home", str(tmp_path)):
            assert fragment in message


def test_download_if_missing_false(tmp_path, cache_dir, no_network):
    with pytest.raises(DatasetUnavailableError, match="download_if_missing=False") as info:
        load_imdb("train", data_home=tmp_path, download_if_missing=False)
    assert str(tmp_path / "aclImdb_v1.tar.gz") in str(info.value)
    assert datasets.IMDB.url in str(info.value)


def test_read_only_data_home_cannot_download(tmp_path, cache_dir, no_network):
    data = tmp_path / "ro"
    data.mkdir()
    data.chmod(0o555)
    try:
        with pytest.raises(DatasetUnavailableError, match="read-only"):
            load_imdb("train", data_home=data)
    finally:
        data.chmod(0o755)


# ------------------------------------------------------------------ Tiny Shakespeare


def test_tiny_shakespeare_local(tmp_path, no_network):
    (tmp_path / "tinyshakespeare.txt").write_text(
        "First Citizen:\nBefore we proceed\u2019\n", encoding="utf-8"
    )
    assert load_tiny_shakespeare(data_home=tmp_path) == "First Citizen:\nBefore we proceed\u2019\n"


def test_tiny_shakespeare_download(tmp_path, monkeypatch):
    server = tmp_path / "server" / "input.txt"
    server.parent.mkdir()
    server.write_text("ROMEO:\nBut soft!\n", encoding="utf-8")
    remote = datasets.TINY_SHAKESPEARE._replace(url=server.as_uri(), sha256=sha256(server))
    monkeypatch.setattr(datasets, "TINY_SHAKESPEARE", remote)
    data = tmp_path / "data"
    assert load_tiny_shakespeare(data_home=data) == "ROMEO:\nBut soft!\n"
    assert os.listdir(data) == ["tinyshakespeare.txt"]


def test_tiny_shakespeare_missing(tmp_path, no_network):
    with pytest.raises(DatasetUnavailableError) as info:
        load_tiny_shakespeare(data_home=tmp_path, download_if_missing=False)
    assert datasets.TINY_SHAKESPEARE.url in str(info.value)
    assert str(tmp_path / "tinyshakespeare.txt") in str(info.value)


# ------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_real_imdb(real_data_dir, tmp_path, monkeypatch):
    if not os.environ.get("SKRNN_CACHE"):
        monkeypatch.setenv("SKRNN_CACHE", str(tmp_path / "cache"))
    train = load_imdb("train", data_home=real_data_dir, download_if_missing=False)
    test = load_imdb("test", data_home=real_data_dir, download_if_missing=False)
    for texts, labels in (train, test):
        assert len(texts) == len(labels) == 25_000
        assert np.bincount(labels).tolist() == [12_500, 12_500]
        assert all(isinstance(t, str) and t for t in texts[:100])

    def no_parse(*args):
        raise AssertionError("parsed again instead of reading the cache")

    monkeypatch.setattr(datasets, "_parse_tarball", no_parse)
    monkeypatch.setattr(datasets, "_parse_folder", no_parse)
    again = load_imdb("train", data_home=real_data_dir, download_if_missing=False)
    assert again[0] == train[0]
    np.testing.assert_array_equal(again[1], train[1])


@pytest.mark.realdata
def test_real_tiny_shakespeare(real_data_dir):
    text = load_tiny_shakespeare(data_home=real_data_dir, download_if_missing=False)
    assert len(text) == 1_115_394
    assert len(set(text)) == 65


def test_archive_without_the_subset(tmp_path, cache_dir, no_network):
    make_tarball(tmp_path / "aclImdb_v1.tar.gz", [r for r in REVIEWS if r[0] == "train"])
    assert_same(load_imdb("train", data_home=tmp_path), "train")
    for _ in range(2):  # also once the train subset is cached
        with pytest.raises(DatasetUnavailableError, match="no reviews for subset 'test'"):
            load_imdb("test", data_home=tmp_path)
