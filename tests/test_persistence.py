"""Saving to a folder (skrnn._persistence and the estimators' save/load).

What is refused, kept and checked.
"""

import json
import os
import stat

import numpy as np
import pytest

from skrnn import CharRNNGenerator
from skrnn._persistence import IncompatibleFileError, atomic_directory

TEXT = "hello world, hello there. " * 40


@pytest.fixture(scope="module")
def small_model():
    return CharRNNGenerator(
        hidden_size=8, n_layers=1, seq_length=10, batch_size=4, max_iter=1, random_state=0
    ).fit(TEXT)


@pytest.mark.parametrize("name", ["weights.npz", "model.keras", "estimator.json"])
def test_a_folder_of_the_users_own_files_is_never_replaced(small_model, tmp_path, name):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / name).write_bytes(b"the user's own data")
    with pytest.raises(ValueError, match="does not hold a saved skrnn estimator"):
        small_model.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == [name]
    assert (folder / name).read_bytes() == b"the user's own data"


def test_a_save_with_extra_files_is_not_replaced(small_model, tmp_path):
    folder = small_model.save(tmp_path / "model")
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="does not hold a saved skrnn estimator"):
        small_model.save(folder)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_an_earlier_save_is_replaced(small_model, tmp_path):
    folder = small_model.save(tmp_path / "model")
    small_model.save(folder)
    assert CharRNNGenerator.load(folder).score(TEXT) == small_model.score(TEXT)


def test_new_folders_follow_the_umask_and_existing_ones_keep_their_mode(small_model, tmp_path):
    old = os.umask(0o022)
    try:
        folder = small_model.save(tmp_path / "new")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        os.chmod(folder, 0o750)
        small_model.save(folder)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750
        os.umask(0o077)
        assert stat.S_IMODE(small_model.save(tmp_path / "private").stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_a_failed_replace_puts_the_earlier_save_back(small_model, tmp_path, monkeypatch):
    folder = small_model.save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real_replace = os.replace

    def fails_on_the_new_folder(src, dst):
        if ".tmp-" in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fails_on_the_new_folder)
    with pytest.raises(OSError, match="No space"):
        small_model.save(folder)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folder left


def test_atomic_directory_refuses_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="not a folder"), atomic_directory(target):
        pass


def _edit_config(folder, **changes):
    path = folder / "estimator.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            config[section][field] = value
        else:
            config[section] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: (f / "weights.npz").write_bytes(b""),  # empty: numpy raises EOFError
        lambda f: (f / "weights.npz").write_bytes(b"PK\x03\x04 not a zip"),
        lambda f: _edit_config(f, network__hidden_size=10**12),  # would allocate petabytes
        lambda f: _edit_config(f, network__hidden_size=16),  # another shape than the weights
        lambda f: _edit_config(f, network__n_layers=True),
        lambda f: _edit_config(f, network__cell="transformer"),
        lambda f: _edit_config(f, format_version=0),
        lambda f: _edit_config(f, format_version=True),
        lambda f: _edit_config(f, format_version="1"),
    ],
    ids=[
        "empty-npz",
        "bad-zip",
        "absurd-hidden-size",
        "other-hidden-size",
        "bool-layers",
        "unknown-cell",
        "format-0",
        "format-true",
        "format-str",
    ],
)
def test_damaged_generator_saves_raise_incompatible_file_error(small_model, tmp_path, damage):
    folder = small_model.save(tmp_path / "model")
    damage(folder)
    with pytest.raises(IncompatibleFileError):
        CharRNNGenerator.load(folder)


def test_a_newer_format_asks_for_an_upgrade(small_model, tmp_path):
    folder = small_model.save(tmp_path / "model")
    _edit_config(folder, format_version=99)
    with pytest.raises(IncompatibleFileError, match="Upgrade skrnn"):
        CharRNNGenerator.load(folder)
    np.testing.assert_array_equal(
        CharRNNGenerator.load(small_model.save(tmp_path / "ok"))._net.params,
        small_model._net.params,
    )
