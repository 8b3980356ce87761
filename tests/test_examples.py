"""Run every example with --quick on the real data, in a subprocess, and check its outputs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> (files it must write, text its output must contain)
EXPECTED = {
    "compare_imdb.py": (
        ["imdb_comparison.png", "imdb_comparison.json", "imdb_comparison.csv"],
        ["| model | test accuracy |", "| LSTM", "| TF-IDF + LogisticRegression |"],
    ),
    "grid_search_hidden.py": (
        ["grid_search_hidden.png"],
        [
            "| hidden_size |",
            "LSTMSentimentClassifier on IMDB",
            "CharRNNGenerator on Tiny Shakespeare",
        ],
    ),
    "generate_text.py": (
        ["learning_curve.png", "char_rnn_model/estimator.json"],
        ["--- temperature 0.2 ---", "| epoch |"],
    ),
    "original_notebook.py": (
        ["original_notebook.png"],
        ["| original, 1 epoch(s) |", "| min-char-rnn (original", "| skrnn defaults"],
    ),
}


def _numbers(pattern, text):
    return [float(x) for x in re.findall(pattern, text, flags=re.MULTILINE)]


def check_learning(name, out):
    """The quick runs learn something: well above chance, well below a uniform guess.

    IMDB subsets are balanced (chance is 0.5); a uniform guess over Tiny
    Shakespeare's characters costs ln(65) = 4.17 nats (6.02 bits) per character.
    """
    if name == "grid_search_hidden.py":
        accuracies = _numbers(
            r"^\| \d+ \| (0\.\d+) ± ", out.split("CharRNNGenerator on Tiny Shakespeare")[0]
        )
        scores = _numbers(r"^\| \d+ \| (-\d+\.\d+) ± ", out)
        assert len(accuracies) == 2 and max(accuracies) > 0.6, out[-3000:]
        assert len(scores) == 2 and max(scores) < 0 and max(scores) > -3.5, out[-3000:]
    elif name == "original_notebook.py":
        accuracies = _numbers(
            r"^\| (?:original, \d+ epoch\(s\)|skrnn defaults[^|]*) \| \d+ \| \d+ \| (0\.\d+) \|$",
            out,
        )
        bits = _numbers(r"^\|[^|]+\| \d+ \| \d+ \| -\d+\.\d+ \| (\d+\.\d+) \|$", out)
        assert len(accuracies) == 3 and min(accuracies[1:]) > 0.6, out[-3000:]
        assert len(bits) == 2 and max(bits) < 5.0, out[-3000:]
    elif name == "generate_text.py":
        validation = _numbers(r"^\| \d+ \| \d+\.\d+ \| (\d+\.\d+) \|$", out)
        assert validation and min(validation) < 3.5, out[-3000:]


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_quick(name, real_data_dir, tmp_path):
    files, fragments = EXPECTED[name]
    env = dict(
        os.environ, SKRNN_DATA=str(real_data_dir), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2"
    )
    env.setdefault("SKRNN_CACHE", str(tmp_path / "cache"))
    out_dir = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", "--output-dir", str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in result.stdout, result.stdout[-3000:]
    check_learning(name, result.stdout)
    for filename in files:
        path = out_dir / filename
        assert path.is_file() and path.stat().st_size > 0, filename
        if filename.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
