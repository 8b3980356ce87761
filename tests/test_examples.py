"""Run every example with --quick on the real data, in a subprocess, and check its outputs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# example -> (files it must write, text its output must contain)
EXPECTED = {
    "compare_imdb.py": (
        ["imdb_comparison.png", "imdb_comparison.json", "imdb_comparison.csv"],
        ["| model | test accuracy |", "| LSTM (skrnn) |", "| TF-IDF + LogisticRegression |"],
    ),
    "grid_search_hidden.py": (
        ["grid_search_hidden.png"],
        ["| hidden_size |", "LSTMSentimentClassifier on IMDB", "CharRNNGenerator on Tiny Shakespeare"],
    ),
    "generate_text.py": (
        ["learning_curve.png", "char_rnn_model/estimator.json"],
        ["--- temperature 0.2 ---", "| epoch |"],
    ),
    "original_notebook.py": (
        ["original_notebook.png"],
        ["| original, 1 epoch(s) |", "| min-char-rnn (original) |", "| skrnn defaults"],
    ),
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_quick(name, real_data_dir, tmp_path):
    files, fragments = EXPECTED[name]
    env = dict(os.environ, SKRNN_DATA=str(real_data_dir), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
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
    for filename in files:
        path = out_dir / filename
        assert path.is_file() and path.stat().st_size > 0, filename
        if filename.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
