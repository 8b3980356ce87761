"""Tests for the ``skrnn`` command (skrnn.cli)."""

import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import joblib
import pytest

from skrnn import datasets
from skrnn.cli import build_parser, main


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skrnn: error: ")
    assert "Traceback" not in err


# ------------------------------------------------------------------ help


@pytest.mark.parametrize(
    "argv, options",
    [
        ([], ["compare", "generate", "--version"]),
        (
            ["compare"],
            ["--quick", "--output-dir", "--data-home", "--ablation", "--seed", "--quiet"],
        ),
        (
            ["generate"],
            [
                "CORPUS_OR_MODEL",
                "--chars",
                "--temperature",
                "--prime",
                "--top-k",
                "--save",
                "--max-time",
                "--max-iter",
                "--cell",
                "--hidden-size",
                "--n-layers",
                "--seq-length",
                "--quick",
                "--data-home",
                "--seed",
                "--quiet",
                "tinyshakespeare",
            ],
        ),
    ],
)
def test_help_explains_every_option(capsys, argv, options):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in options:
        assert option in out
    # Every option of the parser has a help text.
    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    target = subparsers[argv[0]] if argv else parser
    for action in target._actions:
        assert action.help, action.option_strings or action.dest


def test_no_command_prints_help(capsys):
    code, out, _ = run_main(capsys)
    assert code == 2
    assert "compare" in out and "generate" in out


def test_console_script_and_module_entry_points(tmp_path):
    script = Path(sys.executable).with_name("skrnn")
    commands = [[sys.executable, "-m", "skrnn", "--help"]]
    if script.exists():
        commands.append([str(script), "--help"])
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "compare" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "skrnn", "generate", str(tmp_path / "missing.txt")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"skrnn: error: {tmp_path / 'missing.txt'}: no such file, folder or dataset"
    )
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ argument errors


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["bogus"], "invalid choice"),
        (["compare", "--frobnicate"], "unrecognized arguments"),
        (["generate"], "required: CORPUS_OR_MODEL"),
        (["generate", "README.md", "--chars", "0"], "--chars: expected a positive integer"),
        (["generate", "README.md", "--chars", "many"], "--chars: expected a positive integer"),
        (["generate", "README.md", "--temperature", "-1"], "--temperature"),
        (["generate", "README.md", "--temperature", "nan"], "--temperature"),
        (["generate", "README.md", "--max-time", "0"], "--max-time"),
        (["generate", "README.md", "--cell", "transformer"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, fragment):
    code, _, err = run_main(capsys, *argv)
    assert_one_line_error(code, err)
    assert fragment in err


def test_missing_files(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SKRNN_DATA", str(tmp_path / "data"))
    code, _, err = run_main(capsys, "generate", str(tmp_path / "nope.txt"))
    assert_one_line_error(code, err)
    assert "no such file, folder or dataset" in err
    # It says which datasets exist and where they are read from.
    for fragment in (
        "tinyshakespeare",
        "--data-home",
        "$SKRNN_DATA",
        "~/skrnn_data",
        str(tmp_path / "data"),
    ):
        assert fragment in err
    code, _, err = run_main(
        capsys, "generate", "tinyshakespeare", "--data-home", str(tmp_path / "nowhere")
    )
    assert_one_line_error(code, err)
    assert "--data-home" in err and "no such folder" in err
    code, _, err = run_main(capsys, "compare", "--data-home", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err)
    assert "no such folder" in err


def test_unreadable_inputs(capsys, tmp_path):
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    code, _, err = run_main(capsys, "generate", str(binary))
    assert_one_line_error(code, err)
    assert "UTF-8" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    code, _, err = run_main(capsys, "generate", str(empty))
    assert_one_line_error(code, err)
    not_a_model = tmp_path / "thing.joblib"
    joblib.dump({"a": 1}, not_a_model)
    code, _, err = run_main(capsys, "generate", str(not_a_model))
    assert_one_line_error(code, err)
    assert "not a CharRNNGenerator" in err
    garbage = tmp_path / "broken.joblib"
    garbage.write_bytes(b"not a pickle")
    code, _, err = run_main(capsys, "generate", str(garbage))
    assert_one_line_error(code, err)


def test_compare_without_data_says_where_to_put_it(capsys, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    monkeypatch.setenv("SKRNN_CACHE", str(tmp_path / "cache"))
    code, _, err = run_main(
        capsys,
        "compare",
        "--quick",
        "--data-home",
        str(tmp_path),
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert_one_line_error(code, err)
    assert datasets.IMDB.url in err
    assert str(tmp_path / "aclImdb_v1.tar.gz") in err


# ------------------------------------------------------------------ generate, end to end


@pytest.fixture
def shakespeare_home(tmp_path):
    """A data folder holding a small tinyshakespeare.txt."""
    home = tmp_path / "data"
    home.mkdir()
    (home / "tinyshakespeare.txt").write_text(
        "ROMEO:\nBut soft, what light.\n" * 60, encoding="utf-8"
    )
    return home


TINY = [
    "--hidden-size",
    "8",
    "--n-layers",
    "1",
    "--max-iter",
    "1",
    "--seq-length",
    "20",
    "--seed",
    "0",
]


@pytest.mark.parametrize("name", ["tinyshakespeare", "tinyshakespeare.txt", "TinyShakespeare"])
def test_generate_trains_on_a_dataset_by_name(
    capsys, shakespeare_home, monkeypatch, tmp_path, name
):
    pytest.importorskip("skrnn.char_rnn")
    monkeypatch.chdir(tmp_path)  # no file of that name here: the name means the dataset
    monkeypatch.setattr(datasets.urllib.request, "urlopen", _no_download)
    code, out, err = run_main(
        capsys, "generate", name, "--data-home", str(shakespeare_home), *TINY, "--chars", "20"
    )
    assert code == 0, err
    assert f"characters of the dataset {name} ({shakespeare_home})" in err
    assert out.strip()
    # The data folder also comes from $SKRNN_DATA.
    monkeypatch.setenv("SKRNN_DATA", str(shakespeare_home))
    code, out, err = run_main(capsys, "generate", name, *TINY, "--chars", "20", "-q")
    assert code == 0, err
    assert err == ""


def test_generate_a_file_wins_over_a_dataset_name(capsys, tmp_path, monkeypatch):
    pytest.importorskip("skrnn.char_rnn")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKRNN_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(datasets.urllib.request, "urlopen", _no_download)
    (tmp_path / "tinyshakespeare.txt").write_text(
        "my own text, not the dataset. " * 40, encoding="utf-8"
    )
    code, _, err = run_main(capsys, "generate", "tinyshakespeare.txt", *TINY, "--chars", "5")
    assert code == 0, err
    assert "characters of tinyshakespeare.txt ..." in err


def test_generate_downloads_a_missing_dataset_quietly_with_quiet(capsys, tmp_path, monkeypatch):
    pytest.importorskip("skrnn.char_rnn")
    server = tmp_path / "server" / "input.txt"
    server.parent.mkdir()
    server.write_text("ROMEO:\nBut soft, what light.\n" * 60, encoding="utf-8")
    digest = __import__("hashlib").sha256(server.read_bytes()).hexdigest()
    monkeypatch.setattr(
        datasets,
        "TINY_SHAKESPEARE",
        datasets.TINY_SHAKESPEARE._replace(url=server.as_uri(), sha256=digest),
    )
    home = tmp_path / "data"
    home.mkdir()
    code, out, err = run_main(
        capsys, "generate", "tinyshakespeare", "--data-home", str(home), *TINY, "--chars", "5", "-q"
    )
    assert code == 0, err
    assert err == "" and out.strip()
    assert (home / "tinyshakespeare.txt").read_bytes() == server.read_bytes()
    (home / "tinyshakespeare.txt").unlink()
    code, _, err = run_main(
        capsys, "generate", "tinyshakespeare", "--data-home", str(home), *TINY, "--chars", "5"
    )
    assert code == 0, err
    assert f"tinyshakespeare.txt is not in {home}: downloading it from {server.as_uri()}" in err


def test_generate_dataset_missing_offline_says_where_it_goes(capsys, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    home = tmp_path / "data"
    home.mkdir()
    code, _, err = run_main(capsys, "generate", "tinyshakespeare", "--data-home", str(home), "-q")
    assert_one_line_error(code, err)
    assert datasets.TINY_SHAKESPEARE.url in err
    assert str(home / "tinyshakespeare.txt") in err
    assert "--data-home" in err
    assert os.listdir(home) == []
    # Without -q, the line that says a download starts comes first; the error is still one line.
    code, _, err = run_main(capsys, "generate", "tinyshakespeare", "--data-home", str(home))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith("tinyshakespeare.txt is not in")
    assert lines[-1].startswith("skrnn: error: Could not download") and "Traceback" not in err


def test_generate_shows_progress_unless_quiet(capsys, tmp_path):
    pytest.importorskip("skrnn.char_rnn")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 80, encoding="utf-8")
    code, _, err = run_main(capsys, "generate", str(corpus), *TINY, "--chars", "5")
    assert code == 0, err
    assert (
        "Epoch 1/" in err and "Trained 1 epoch(s)" in err
    )  # the estimator's progress bar, then a summary
    code, out, err = run_main(capsys, "generate", str(corpus), *TINY, "--chars", "5", "--quiet")
    assert code == 0
    assert err == "" and out.strip()


def _no_download(*args, **kwargs):
    raise AssertionError("skrnn generate must not download here")


def test_generate_train_save_and_load(capsys, tmp_path):
    pytest.importorskip("skrnn.char_rnn")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 80, encoding="utf-8")
    model_path = tmp_path / "model"
    tiny = [
        "--hidden-size",
        "16",
        "--n-layers",
        "1",
        "--max-iter",
        "2",
        "--seq-length",
        "20",
        "--seed",
        "0",
    ]
    code, out, err = run_main(
        capsys,
        "generate",
        str(corpus),
        *tiny,
        "--chars",
        "40",
        "--prime",
        "the ",
        "--save",
        str(model_path),
    )
    assert code == 0, err
    assert out.startswith("the ")
    assert len(out.rstrip("\n")) >= 40
    assert (model_path / "estimator.json").is_file()
    assert "Saved the model" in err

    code, out, err = run_main(
        capsys, "generate", str(model_path), "--chars", "30", "--temperature", "0", "-q"
    )
    assert code == 0, err
    assert err == ""
    assert len(out.rstrip("\n")) >= 30
    # Greedy sampling from the same model twice gives the same text.
    code, again, _ = run_main(
        capsys, "generate", str(model_path), "--chars", "30", "--temperature", "0", "-q"
    )
    assert again == out


def test_generate_refuses_a_folder_that_is_not_a_save(capsys, tmp_path):
    pytest.importorskip("skrnn.char_rnn")
    (tmp_path / "notes.txt").write_text("not a model")
    code, _, err = run_main(capsys, "generate", str(tmp_path))
    assert_one_line_error(code, err)
    assert "cannot load a model" in err
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 80, encoding="utf-8")
    tiny = ["--hidden-size", "8", "--n-layers", "1", "--max-iter", "1", "--seq-length", "20"]
    code, _, err = run_main(capsys, "generate", str(corpus), *tiny, "-q", "--save", str(tmp_path))
    assert_one_line_error(code, err)
    assert "does not hold a saved skrnn estimator" in err
    assert (tmp_path / "notes.txt").read_text() == "not a model"


def test_generate_quick(capsys, tmp_path):
    pytest.importorskip("skrnn.char_rnn")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("abcdefgh " * 1000, encoding="utf-8")
    code, out, err = run_main(
        capsys,
        "generate",
        str(corpus),
        "--quick",
        "--max-iter",
        "1",
        "--chars",
        "20",
        "--seed",
        "1",
    )
    assert code == 0, err
    assert "hidden_size=64" in err
    assert out.strip()


# ------------------------------------------------------------------ compare, on fake data


class _MajorityClassifier:
    """A stand-in for LSTMSentimentClassifier: the comparison's plumbing without Keras."""

    def __init__(self, **params):
        self.params = {
            "random_state": None,
            "verbose": 0,
            "max_iter": 10,
            "paths": "both",
            **params,
        }

    def get_params(self, deep=True):
        return dict(self.params)

    def set_params(self, **params):
        self.params.update(params)
        return self

    def fit(self, X, y):
        self.label_ = round(sum(y) / len(y))
        self.n_iter_ = 1
        return self

    def predict(self, X):
        return [self.label_] * len(X)


def test_compare_writes_table_json_csv_png(capsys, tmp_path, monkeypatch):
    import json
    import types

    from test_datasets import make_tarball

    make_tarball(tmp_path / "data" / "aclImdb_v1.tar.gz")
    monkeypatch.setenv("SKRNN_CACHE", str(tmp_path / "cache"))
    fake = types.ModuleType("skrnn.sentiment")
    fake.LSTMSentimentClassifier = _MajorityClassifier
    monkeypatch.setitem(sys.modules, "skrnn.sentiment", fake)
    out_dir = tmp_path / "out"
    code, out, err = run_main(
        capsys,
        "compare",
        "--quick",
        "--data-home",
        str(tmp_path / "data"),
        "--output-dir",
        str(out_dir),
    )
    assert code == 0, err
    assert out.startswith("Estimated duration: about ")
    assert "| model | test accuracy | fit time (s) |" in out
    assert "| LSTM + n-grams (skrnn, default) | 0.5000 |" in out
    assert (
        "| TF-IDF + LogisticRegression |" in out and "| NB-LR 1-3-grams (make_nb_baseline) |" in out
    )
    report = json.loads((out_dir / "imdb_comparison.json").read_text())
    assert [row["model"] for row in report["results"]] == [
        "LSTM + n-grams (skrnn, default)",
        "TF-IDF + LogisticRegression",
        "NB-LR 1-3-grams (make_nb_baseline)",
    ]
    assert report["results"][1]["fit_vs_tfidf"] == 1.0
    assert report["settings"]["n_train"] == 6 and report["settings"]["n_test"] == 4
    assert (
        report["results"][0]["params"]["max_iter"] == 6
    )  # the quick settings reached the estimator
    assert report["machine"]["cores"] >= 1
    assert (out_dir / "imdb_comparison.csv").read_text().startswith("model,accuracy,")
    assert (out_dir / "imdb_comparison.png").read_bytes()[:4] == b"\x89PNG"

    code, out, err = run_main(
        capsys,
        "compare",
        "--quick",
        "-q",
        "--data-home",
        str(tmp_path / "data"),
        "--output-dir",
        str(out_dir),
    )
    assert code == 0
    assert out.startswith("| model |") and err == ""

    code, out, err = run_main(
        capsys,
        "compare",
        "--quick",
        "--ablation",
        "--data-home",
        str(tmp_path / "data"),
        "--output-dir",
        str(out_dir),
    )
    assert code == 0, err
    report = json.loads((out_dir / "imdb_comparison.json").read_text())
    assert [row["model"] for row in report["results"]][3:] == [
        "LSTM only (paths='lstm')",
        "n-grams only (paths='ngrams')",
    ]
    assert report["results"][3]["params"]["paths"] == "lstm"


def test_compare_without_matplotlib(capsys, tmp_path, monkeypatch):
    import types

    from test_datasets import make_tarball

    make_tarball(tmp_path / "aclImdb_v1.tar.gz")
    monkeypatch.setenv("SKRNN_CACHE", str(tmp_path / "cache"))
    fake = types.ModuleType("skrnn.sentiment")
    fake.LSTMSentimentClassifier = _MajorityClassifier
    monkeypatch.setitem(sys.modules, "skrnn.sentiment", fake)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, out, err = run_main(
        capsys,
        "compare",
        "--quick",
        "--data-home",
        str(tmp_path),
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert code == 0, err
    assert "matplotlib is not installed: no chart" in out
    assert not (tmp_path / "o" / "imdb_comparison.png").exists()
    assert (tmp_path / "o" / "imdb_comparison.json").exists()
