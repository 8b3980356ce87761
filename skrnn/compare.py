"""The IMDB comparison: the LSTM classifier against the TF-IDF baseline.

:func:`compare_imdb` is the main job of the project, run by ``skrnn compare``
and by ``examples/compare_imdb.py``. It trains
:class:`skrnn.LSTMSentimentClassifier` (default parameters) and
:func:`skrnn.make_tfidf_baseline` on the 25,000 IMDB training reviews, then
measures on the 25,000 test reviews: accuracy, fit time and prediction speed.
It prints a table and writes, under ``output_dir``:

* ``imdb_comparison.json``: the figures, the settings and the machine;
* ``imdb_comparison.csv``: the figures, one row per model;
* ``imdb_comparison.png``: a bar chart (skipped, with a note, when matplotlib
  is not installed).

The full run takes about 10-12 minutes on 2 CPU cores, almost all of it the
LSTM's fit; ``quick=True`` uses 1,000 training and 1,000 test reviews and a
small LSTM trained for 6 short epochs, and runs in well under a minute.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import time
from importlib import metadata

import numpy as np

__all__ = ["compare_imdb", "format_table", "QUICK_LSTM_PARAMS"]

# quick=True: subsets and a small LSTM, so the whole run stays under a minute.
QUICK_N_TRAIN = 1000
QUICK_N_TEST = 1000
QUICK_LSTM_PARAMS = {
    "max_features": 5000,
    "maxlen": 200,
    "embedding_dim": 32,
    "hidden_size": 32,
    "bigram_buckets": 20000,
    "bigram_dim": 16,
    "learning_rate": 0.01,
    "max_iter": 6,
    "early_stopping": False,
}

OUTPUT_STEM = "imdb_comparison"
_COLUMNS = [
    ("model", "model"),
    ("accuracy", "test accuracy"),
    ("fit_time_s", "fit time (s)"),
    ("predict_time_s", "predict time (s)"),
    ("predict_reviews_per_s", "predict (reviews/s)"),
]


def _subsample(texts, labels, n, rng):
    """A stratified random subset of ``n`` documents (all of them when ``n`` is None or too large)."""
    if n is None or n >= len(texts):
        return texts, labels
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(texts)), train_size=n, stratify=labels, random_state=rng)
    idx = np.sort(idx)
    return [texts[i] for i in idx], labels[idx]


def _supported(estimator, params):
    """Keep only the parameters ``estimator`` has (the estimator's API may grow or shrink)."""
    known = estimator.get_params()
    return {k: v for k, v in params.items() if k in known}


def machine_info():
    """A short description of this machine and the library versions, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        n_cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cores = os.cpu_count()
    memory_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    memory_gib = round(int(line.split()[1]) / 2**20, 1)
                    break
    except OSError:
        pass
    versions = {}
    for package in ("skrnn", "numpy", "scikit-learn", "tensorflow", "keras"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": n_cores,
        "memory_gib": memory_gib,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "versions": versions,
    }


def format_table(results):
    """The results as a Markdown table (one row per model)."""
    header = "| " + " | ".join(title for _, title in _COLUMNS) + " |"
    rule = "| " + " | ".join("---" if key == "model" else "---:" for key, _ in _COLUMNS) + " |"
    lines = [header, rule]
    for row in results:
        cells = [
            row["model"],
            f"{row['accuracy']:.4f}",
            f"{row['fit_time_s']:.1f}",
            f"{row['predict_time_s']:.1f}",
            f"{row['predict_reviews_per_s']:,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_csv(path, results):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[key for key, _ in _COLUMNS] + ["n_train", "n_test"])
        for row in [None] + results:
            if row is None:
                writer.writeheader()
            else:
                writer.writerow({k: row[k] for k in writer.fieldnames})


def _plot(path, results, title):
    """Bar chart of accuracy, fit time and prediction speed; False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    names = [row["model"] for row in results]
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"][: len(results)]
    panels = [
        ("accuracy", "test accuracy", "{:.3f}"),
        ("fit_time_s", "fit time (s)", "{:.1f}"),
        ("predict_reviews_per_s", "prediction (reviews/s)", "{:,.0f}"),
    ]
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for ax, (key, label, fmt) in zip(axes, panels):
        values = [row[key] for row in results]
        bars = ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(range(len(values)), [n.replace(" + ", "\n+ ") for n in names], fontsize=8)
        ax.set_title(label)
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=8)
        ax.margins(y=0.15)
        if key == "accuracy":
            low = min(values)
            ax.set_ylim(max(0.0, low - 0.1), 1.0)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return True


def compare_imdb(
    *,
    quick=False,
    data_home=None,
    output_dir="results",
    n_train=None,
    n_test=None,
    lstm_params=None,
    baseline_params=None,
    random_state=0,
    verbose=1,
    file=None,
):
    """Train the LSTM and the TF-IDF baseline on IMDB and compare them.

    Parameters
    ----------
    quick : bool, default=False
        Use 1,000 training and 1,000 test reviews and a small LSTM
        (:data:`QUICK_LSTM_PARAMS`), so that the run takes well under a minute.
    data_home : str or path-like, default=None
        Where the IMDB data is (see :func:`skrnn.datasets.get_data_home`).
    output_dir : str or path-like or None, default="results"
        Folder for the JSON, CSV and PNG outputs (created if needed); ``None``
        writes nothing.
    n_train, n_test : int, default=None
        Use stratified random subsets of this size (overrides ``quick``'s).
    lstm_params, baseline_params : dict, default=None
        Parameters for :class:`skrnn.LSTMSentimentClassifier` and
        :func:`skrnn.make_tfidf_baseline`, on top of the defaults.
    random_state : int, default=0
        Seed for the subsets and the LSTM.
    verbose : int, default=1
        0: silent. 1: progress messages, the LSTM's training progress (Keras's
        progress bar in a terminal, one line per epoch otherwise) and the
        table.
    file : file-like, default=sys.stdout
        Where to print.

    Returns
    -------
    report : dict
        ``"results"`` (one dict per model: ``model``, ``accuracy``,
        ``fit_time_s``, ``predict_time_s``, ``predict_reviews_per_s``,
        ``n_train``, ``n_test``, ``params``), ``"table"`` (Markdown),
        ``"settings"``, ``"machine"`` and ``"files"`` (the paths written).
    """
    from .baseline import make_tfidf_baseline
    from .datasets import load_imdb

    file = sys.stdout if file is None else file

    def say(message):
        if verbose:
            print(message, file=file, flush=True)

    if quick:
        n_train = QUICK_N_TRAIN if n_train is None else n_train
        n_test = QUICK_N_TEST if n_test is None else n_test

    start = time.perf_counter()
    say("Loading IMDB ...")
    X_train, y_train = load_imdb("train", data_home=data_home)
    X_test, y_test = load_imdb("test", data_home=data_home)
    X_train, y_train = _subsample(X_train, y_train, n_train, random_state)
    X_test, y_test = _subsample(X_test, y_test, n_test, random_state)
    say(f"  {len(X_train):,} training and {len(X_test):,} test reviews ({time.perf_counter() - start:.1f} s)")

    from .sentiment import LSTMSentimentClassifier

    lstm = LSTMSentimentClassifier()
    params = dict(QUICK_LSTM_PARAMS) if quick else {}
    params.update(lstm_params or {})
    # Keras's progress bar in a terminal, one line per epoch in logs.
    interactive = bool(getattr(file, "isatty", lambda: False)())
    lstm_verbose = (2 if interactive else 1) if verbose else 0
    params = {"random_state": random_state, "verbose": lstm_verbose, **params}
    lstm.set_params(**_supported(lstm, params))
    baseline = make_tfidf_baseline(**(baseline_params or {}))

    models = [("LSTM (skrnn)", lstm), ("TF-IDF + LogisticRegression", baseline)]
    results = []
    for i, (name, model) in enumerate(models, 1):
        say(f"[{i}/{len(models)}] Fitting {name} on {len(X_train):,} reviews ...")
        t0 = time.perf_counter()
        model.fit(X_train, y_train)
        fit_time = time.perf_counter() - t0
        say(f"  fitted in {fit_time:.1f} s; predicting {len(X_test):,} reviews ...")
        t0 = time.perf_counter()
        y_pred = model.predict(X_test)
        predict_time = time.perf_counter() - t0
        accuracy = float(np.mean(np.asarray(y_pred) == y_test))
        say(f"  accuracy {accuracy:.4f}, predicted in {predict_time:.1f} s")
        row = {
            "model": name,
            "accuracy": accuracy,
            "fit_time_s": fit_time,
            "predict_time_s": predict_time,
            "predict_reviews_per_s": len(X_test) / predict_time if predict_time > 0 else float("inf"),
            "n_train": len(X_train),
            "n_test": len(X_test),
            "params": {k: v for k, v in model.get_params(deep=False).items() if _jsonable(v)},
        }
        if hasattr(model, "n_iter_"):
            row["n_epochs"] = int(model.n_iter_)
        results.append(row)

    table = format_table(results)
    settings = {
        "quick": bool(quick),
        "n_train": len(X_train),
        "n_test": len(X_test),
        "random_state": random_state,
        "total_time_s": time.perf_counter() - start,
    }
    report = {"results": results, "table": table, "settings": settings, "machine": machine_info(), "files": {}}
    say("")
    say(f"IMDB sentiment, {len(X_train):,} training / {len(X_test):,} test reviews:")
    say(table)

    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        stem = os.path.join(output_dir, OUTPUT_STEM)
        report["files"]["json"] = stem + ".json"
        report["files"]["csv"] = stem + ".csv"
        title = f"LSTM vs TF-IDF on IMDB ({len(X_train):,} train / {len(X_test):,} test reviews)"
        if _plot(stem + ".png", results, title):
            report["files"]["png"] = stem + ".png"
        else:
            say("matplotlib is not installed: no chart (pip install 'skrnn[plot]').")
        _write_csv(stem + ".csv", results)
        with open(stem + ".json", "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
        say("Wrote " + ", ".join(report["files"].values()))
    return report


def _jsonable(value):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
