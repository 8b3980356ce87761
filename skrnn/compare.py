"""The IMDB comparison: the LSTM classifier against linear baselines.

:func:`compare_imdb` is the main job of the project, run by ``skrnn compare``
and by ``examples/compare_imdb.py``. It trains
:class:`skrnn.LSTMSentimentClassifier` (default parameters: an L2-normalised
NB-weighted n-gram path with an LSTM's log-odds added at a fixed weight),
:func:`skrnn.make_tfidf_baseline` and :func:`skrnn.make_nb_baseline` on the
25,000 IMDB training reviews, then
measures on the 25,000 test reviews: accuracy, fit time and prediction speed.
With ``ablation=True`` it adds the classifier with one path only
(``paths="lstm"`` and ``paths="ngrams"``). Before training it prints an
estimate of the run's duration. It prints a table and writes, under
``output_dir``:

* ``imdb_comparison.json``: the figures, the settings and the machine;
* ``imdb_comparison.csv``: the figures, one row per model;
* ``imdb_comparison.png``: a bar chart (skipped, with a note, when matplotlib
  is not installed).

The full run takes about 3 minutes on 2 CPU cores (about 5 with the
ablation), most of it the LSTM's fit; ``quick=True`` uses 1,000 training and
1,000 test reviews and a small LSTM, and runs in well under a minute.
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

__all__ = ["QUICK_LSTM_PARAMS", "compare_imdb", "estimate_seconds", "format_table"]

# quick=True: subsets and a small LSTM, so the whole run stays under a minute.
QUICK_N_TRAIN = 1000
QUICK_N_TEST = 1000
QUICK_LSTM_PARAMS = {
    "max_features": 5000,
    "maxlen": 200,
    "embedding_dim": 32,
    "hidden_size": 32,
    "learning_rate": 0.01,
    "max_iter": 6,
    "early_stopping": False,
}

DEFAULT_NAME = "LSTM + n-grams (skrnn, default)"
# Seconds per 1,000 training reviews (fit) and per 1,000 test reviews (predict) of each model,
# measured on IMDB on 2 CPU cores; the estimate printed before a run scales them.
_COST = {
    DEFAULT_NAME: (3.6, 0.5),
    "TF-IDF + LogisticRegression": (0.45, 0.28),
    "NB-LR 1-3-grams (make_nb_baseline)": (1.6, 0.72),
    "LSTM only (paths='lstm')": (3.5, 0.45),
    "n-grams only (paths='ngrams')": (0.9, 0.2),
}
_FIXED_COST_S = 15.0  # loading IMDB, starting TensorFlow

OUTPUT_STEM = "imdb_comparison"
_COLUMNS = [
    ("model", "model"),
    ("accuracy", "test accuracy"),
    ("fit_time_s", "fit time (s)"),
    ("predict_time_s", "predict time (s)"),
    ("predict_reviews_per_s", "predict (reviews/s)"),
    ("fit_vs_tfidf", "fit time / TF-IDF's"),
]


def _subsample(texts, labels, n, rng):
    """A stratified random subset of ``n`` documents.

    All of them when ``n`` is None or too large.
    """
    if n is None or n >= len(texts):
        return texts, labels
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(
        np.arange(len(texts)), train_size=n, stratify=labels, random_state=rng
    )
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
            "-" if row.get("fit_vs_tfidf") is None else f"{row['fit_vs_tfidf']:.1f}x",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_csv(path, results):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[key for key, _ in _COLUMNS] + ["n_train", "n_test"])
        for row in [None, *results]:
            if row is None:
                writer.writeheader()
            else:
                writer.writerow({k: row.get(k) for k in writer.fieldnames})


def _plot(path, results, title):
    """Bar chart of accuracy, fit time and prediction speed; False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator, StrMethodFormatter
    except ImportError:
        return False
    names = [row["model"] for row in results]
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"][: len(results)]
    panels = [
        ("accuracy", "Test accuracy", "accuracy (fraction of test reviews correct)", "{:.3f}"),
        ("fit_time_s", "Fit time", "fit time (seconds)", "{:.1f}"),
        (
            "predict_reviews_per_s",
            "Prediction speed",
            "prediction speed (reviews per second)",
            "{:,.0f}",
        ),
    ]
    fig = Figure(figsize=(4 * len(panels), 4.6), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for ax, (key, title_text, ylabel, fmt) in zip(axes, panels, strict=True):
        values = [row[key] for row in results]
        bars = ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(
            range(len(values)),
            [n.replace(" (", "\n(") for n in names],
            fontsize=7,
            rotation=30,
            ha="right",
        )
        ax.set_title(title_text)
        ax.set_ylabel(ylabel)
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=7)
        if key == "accuracy":
            # From 0: bar lengths stay proportional to accuracy; the labels give the differences.
            ax.set_ylim(0.0, 1.05)
        else:
            ax.set_ylim(0.0, max(values) * 1.15 if max(values) > 0 else 1.0)
            if key == "predict_reviews_per_s":
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return True


def estimate_seconds(n_train, n_test, model_names):
    """A rough duration of :func:`compare_imdb` for these sizes and models, in seconds."""
    total = _FIXED_COST_S
    for name in model_names:
        fit, predict = _COST.get(name, (5.0, 0.6))
        total += fit * n_train / 1000 + predict * n_test / 1000
    return total


def _models(ablation, lstm_params, baseline_params, nb_params):
    """``(name, estimator)`` pairs, the default classifier first."""
    from .baseline import make_nb_baseline, make_tfidf_baseline
    from .sentiment import LSTMSentimentClassifier

    def classifier(**extra):
        model = LSTMSentimentClassifier()
        return model.set_params(**_supported(model, {**lstm_params, **extra}))

    models = [
        (DEFAULT_NAME, classifier()),
        ("TF-IDF + LogisticRegression", make_tfidf_baseline(**(baseline_params or {}))),
        ("NB-LR 1-3-grams (make_nb_baseline)", make_nb_baseline(**(nb_params or {}))),
    ]
    if ablation:
        models += [
            ("LSTM only (paths='lstm')", classifier(paths="lstm")),
            ("n-grams only (paths='ngrams')", classifier(paths="ngrams")),
        ]
    return models


def compare_imdb(
    *,
    quick=False,
    data_home=None,
    output_dir="results",
    n_train=None,
    n_test=None,
    lstm_params=None,
    baseline_params=None,
    nb_params=None,
    ablation=False,
    random_state=0,
    verbose=1,
    file=None,
):
    """Train the LSTM classifier and the linear baselines on IMDB and compare them.

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
    lstm_params, baseline_params, nb_params : dict, default=None
        Parameters for :class:`skrnn.LSTMSentimentClassifier`,
        :func:`skrnn.make_tfidf_baseline` and :func:`skrnn.make_nb_baseline`,
        on top of the defaults.
    ablation : bool, default=False
        Also train the classifier with the LSTM path alone
        (``paths="lstm"``) and the n-gram path alone (``paths="ngrams"``).
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
        ``fit_vs_tfidf``, ``n_train``, ``n_test``, ``params``), ``"table"`` (Markdown),
        ``"settings"``, ``"machine"`` and ``"files"`` (the paths written).
    """
    from .datasets import load_imdb

    file = sys.stdout if file is None else file

    def say(message):
        if verbose:
            print(message, file=file, flush=True)

    if quick:
        n_train = QUICK_N_TRAIN if n_train is None else n_train
        n_test = QUICK_N_TEST if n_test is None else n_test

    expected_names = [
        DEFAULT_NAME,
        "TF-IDF + LogisticRegression",
        "NB-LR 1-3-grams (make_nb_baseline)",
    ]
    if ablation:
        expected_names += ["LSTM only (paths='lstm')", "n-grams only (paths='ngrams')"]
    estimate = estimate_seconds(
        25000 if n_train is None else n_train, 25000 if n_test is None else n_test, expected_names
    )
    say(
        f"Estimated duration: about {max(1, round(estimate / 60))} minute(s) on 2 CPU cores "
        f"({len(expected_names)} models)."
    )
    start = time.perf_counter()
    say("Loading IMDB ...")
    X_train, y_train = load_imdb("train", data_home=data_home)
    X_test, y_test = load_imdb("test", data_home=data_home)
    X_train, y_train = _subsample(X_train, y_train, n_train, random_state)
    X_test, y_test = _subsample(X_test, y_test, n_test, random_state)
    say(
        f"  {len(X_train):,} training and {len(X_test):,} test reviews "
        f"({time.perf_counter() - start:.1f} s)"
    )

    params = dict(QUICK_LSTM_PARAMS) if quick else {}
    params.update(lstm_params or {})
    # A progress bar per epoch in a terminal, one line per epoch in logs.
    interactive = bool(getattr(file, "isatty", lambda: False)())
    lstm_verbose = (2 if interactive else 1) if verbose else 0
    params = {"random_state": random_state, "verbose": lstm_verbose, **params}
    models = _models(ablation, params, baseline_params, nb_params)
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
            "predict_reviews_per_s": len(X_test) / predict_time
            if predict_time > 0
            else float("inf"),
            "n_train": len(X_train),
            "n_test": len(X_test),
            "params": {k: v for k, v in model.get_params(deep=False).items() if _jsonable(v)},
        }
        if hasattr(model, "n_iter_"):
            row["n_epochs"] = int(model.n_iter_)
        results.append(row)
    tfidf_fit = next(
        r["fit_time_s"] for r in results if r["model"] == "TF-IDF + LogisticRegression"
    )
    for row in results:
        row["fit_vs_tfidf"] = row["fit_time_s"] / tfidf_fit if tfidf_fit > 0 else None

    table = format_table(results)
    settings = {
        "quick": bool(quick),
        "ablation": bool(ablation),
        "estimated_time_s": estimate,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "random_state": random_state,
        "total_time_s": time.perf_counter() - start,
    }
    report = {
        "results": results,
        "table": table,
        "settings": settings,
        "machine": machine_info(),
        "files": {},
    }
    say("")
    say(f"IMDB sentiment, {len(X_train):,} training / {len(X_test):,} test reviews:")
    say(table)

    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        stem = os.path.join(output_dir, OUTPUT_STEM)
        report["files"]["json"] = stem + ".json"
        report["files"]["csv"] = stem + ".csv"
        title = f"IMDB sentiment: {len(X_train):,} training / {len(X_test):,} test reviews"
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
