"""Memory under load (the reliability page's "Under load"): grid search, repeated predict,
a 100 MB corpus.

Cases, each run in its own fresh subprocess (``--cases`` picks a subset):

==============  ===============================================================
``gridsearch``  ``GridSearchCV(LSTMSentimentClassifier(<small>), 2 x 2 grid,
                cv=5, n_jobs=2)``: 20 fits (+ the refit) on a few thousand IMDB
                reviews (synthetic reviews when ``$SKRNN_DATA`` has no IMDB).
                The RSS of the process and of every child (joblib/loky
                workers) is sampled every 0.2 s with psutil; each fit also
                records its worker's pid and RSS through an extra scorer. The
                same search then runs a second time in the same process (the
                loky workers are reused), to show whether the parent or the
                workers keep growing from search to search. Each fit also
                reports how many ``BucketedBatches`` (the classifier's
                ``tf.data`` input pipelines) are still alive in its worker.
``gridsearch_clear_session``
                diagnostic, run only when named: the same grid search with
                ``keras.backend.clear_session()`` in the worker after every
                fit (through one more scorer).
``fit_loop``    a diagnostic for the grid search: 20 fresh clones of the small
                classifier fitted one after the other in one process (as a
                loky worker does), RSS after each; then again with
                ``keras.backend.clear_session()`` after every fit.
``predict``     1,000 consecutive ``predict`` calls of 32 inputs each on each
                fitted estimator (a small ``LSTMSentimentClassifier`` on
                reviews, a small ``CharRNNGenerator`` on contexts of varying
                length), each estimator in its own process: RSS after a
                warm-up of 50 calls vs after 1,000 (``gc.collect()`` before
                every reading), a reading every 50 calls, and the number of
                live ``BucketedBatches`` after the warm-up and at the end.
``corpus``      ``CharRNNGenerator`` (LSTM 32, ``max_iter=1``, 60 s budget)
                trained on a 100 MB corpus (Tiny Shakespeare's lines shuffled
                and repeated): ``bench_char_rnn.w_memory`` (the ``memory``
                case of ``bench_char_rnn.py``) with a 100 MB corpus, a tiny
                model and a 60 s budget; peak RSS and its growth during
                ``fit`` per corpus character.
==============  ===============================================================

Run it (nice: other jobs share the 2 cores; these are memory figures, CPU
contention only makes them slower)::

    SKRNN_DATA=/work/shared/data SKRNN_CACHE=/tmp/skrnn_rel_cache \\
        nice -n 5 .venv/bin/python benchmarks/bench_reliability.py
    ... benchmarks/bench_reliability.py --quick        # smoke run, ~3 min
    ... benchmarks/bench_reliability.py --cases corpus --merge  # one case, keep the others' results

Results: a summary on stdout and JSON in ``benchmarks/results/reliability.json``
(``reliability_quick.json`` with ``--quick``). Needs ``psutil``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _harness import package_versions, report, source_digest, spawn  # noqa: E402

MiB = 2**20

FULL = {
    # gridsearch
    "gs_reviews": 2000,
    "gs_grid": {"hidden_size": [8, 16], "embedding_dim": [8, 16]},
    "gs_cv": 5,
    "gs_searches": 2,
    # predict
    "pred_calls": 1000,
    "pred_warmup": 50,
    "pred_batch": 32,
    "pred_every": 50,
    # corpus
    "corpus_mb": 100,
    "corpus_max_time": 60.0,
    # fit_loop
    "loop_reviews": 500,
    "loop_fits": 20,
}
QUICK = {
    "gs_reviews": 400,
    "gs_grid": {"hidden_size": [8, 16]},
    "gs_cv": 2,
    "gs_searches": 2,
    "pred_calls": 100,
    "pred_warmup": 20,
    "pred_batch": 32,
    "pred_every": 20,
    "corpus_mb": 5,
    "corpus_max_time": 3.0,
    "loop_reviews": 200,
    "loop_fits": 4,
}
# The small classifier used by the grid search and the predict loop.
SMALL_CLF = dict(
    max_features=5000,
    maxlen=200,
    embedding_dim=16,
    hidden_size=16,
    bigram_buckets=1000,
    bigram_dim=8,
    max_iter=1,
    batch_size=64,
    early_stopping=False,
    random_state=0,
    verbose=0,
)
ALL_CASES = ["gridsearch", "fit_loop", "predict_classifier", "predict_generator", "corpus"]
# Diagnostics, run only when named: the grid search with keras.backend.clear_session()
# called in the worker after every fit (through an extra scorer).
EXTRA_CASES = ["gridsearch_clear_session"]
ALIASES = {"predict": ["predict_classifier", "predict_generator"]}


# -- measuring -------------------------------------------------------------------


def rss(pid=None):
    """Resident set size in bytes (this process by default)."""
    import psutil

    return psutil.Process(pid).memory_info().rss


class TreeSampler:
    """RSS of this process and all its descendants, sampled every ``interval`` s in a thread.

    Keeps, per pid: a label, the first, peak and last RSS and a (t, rss)
    series; and the series of the total (the sum over the processes alive at
    each sample). The sum counts pages shared between processes (the Python
    and TensorFlow shared libraries, copy-on-write pages) once per process, so
    it is an upper bound of the physical memory in use.
    """

    def __init__(self, interval=0.2):
        import psutil

        self.interval = interval
        self.me = psutil.Process()
        self.t0 = time.perf_counter()
        self.procs = {}  # pid -> dict
        self.total = []  # (t, total_rss, n_processes)
        self.marks = []  # (t, label)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _label(self, p):
        if p.pid == self.me.pid:
            return "parent"
        try:
            cmd = " ".join(p.cmdline())
        except Exception:
            return "child"
        if "resource_tracker" in cmd:
            return "resource_tracker"
        if "loky" in cmd or "joblib" in cmd:
            return "loky_worker"
        return "child"

    def sample(self):
        import psutil

        t = time.perf_counter() - self.t0
        try:
            procs = [self.me, *self.me.children(recursive=True)]
        except psutil.Error:
            procs = [self.me]
        total, n = 0, 0
        with self._lock:
            for p in procs:
                try:
                    r = p.memory_info().rss
                except psutil.Error:
                    continue
                d = self.procs.get(p.pid)
                if d is None:
                    d = self.procs[p.pid] = {
                        "label": self._label(p),
                        "first_t": t,
                        "first": r,
                        "peak": r,
                        "peak_t": t,
                        "series": [],
                    }
                if r > d["peak"]:
                    d["peak"], d["peak_t"] = r, t
                d["last"], d["last_t"] = r, t
                d["series"].append((round(t, 2), r))
                total += r
                n += 1
            self.total.append((round(t, 2), total, n))

    def mark(self, label):
        self.marks.append((round(time.perf_counter() - self.t0, 2), label))

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    def peak_total(self, t_from=0.0, t_to=float("inf")):
        vals = [(r, t, n) for t, r, n in self.total if t_from <= t <= t_to]
        return max(vals) if vals else (None, None, None)


def _slope(xs, ys):
    """Least-squares slope of ys over xs (None with fewer than 3 points)."""
    if len(xs) < 3:
        return None
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])


# -- data ------------------------------------------------------------------------

_WORDS_POS = [
    "good",
    "great",
    "excellent",
    "wonderful",
    "loved",
    "superb",
    "moving",
    "fun",
    "brilliant",
    "enjoyable",
]
_WORDS_NEG = [
    "bad",
    "awful",
    "boring",
    "terrible",
    "hated",
    "dull",
    "poor",
    "waste",
    "worst",
    "annoying",
]
_WORDS = [
    "the",
    "a",
    "film",
    "movie",
    "plot",
    "actor",
    "acting",
    "scene",
    "story",
    "was",
    "is",
    "and",
    "but",
    "it",
    "this",
    "that",
    "of",
    "to",
    "in",
    "with",
    "very",
    "really",
    "quite",
    "not",
    "too",
    "so",
    "director",
    "music",
    "ending",
    "character",
]


def synthetic_reviews(n, seed=0):
    """``n`` review-like strings with a learnable sentiment (classes alternate)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        y = i % 2
        cue = _WORDS_POS if y else _WORDS_NEG
        n_words = int(rng.integers(20, 250))
        words = rng.choice(_WORDS, n_words)
        k = max(1, n_words // 12)
        words[rng.integers(0, n_words, k)] = rng.choice(cue, k)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, np.asarray(labels)


def reviews(n):
    """The first ``n`` IMDB training reviews (balanced), else synthetic ones; and where from."""
    try:
        from skrnn.datasets import load_imdb

        texts, y = load_imdb("train", download_if_missing=False)
        return list(texts[:n]), np.asarray(y[:n]), f"IMDB train (first {n} reviews)"
    except Exception as exc:  # no data: synthetic reviews
        texts, y = synthetic_reviews(n)
        return texts, y, f"synthetic reviews ({type(exc).__name__}: no IMDB)"


# -- gridsearch --------------------------------------------------------------------


def _score_accuracy(est, X, y):
    return float(np.mean(est.predict(X) == np.asarray(y)))


def _score_pid(est, X, y):
    return float(os.getpid())


def _score_rss_mib(est, X, y):
    gc.collect()
    return rss() / MiB


def live_bucketed_batches():
    """How many ``skrnn.keras_model.BucketedBatches`` objects are alive (-1: no such class).

    Every fit epoch and every predict call builds one (a ``tf.data`` pipeline
    over the tokenized documents); they should die with the call.
    """
    import sys

    km = sys.modules.get("skrnn.keras_model")
    cls = getattr(km, "BucketedBatches", None)
    if cls is None:
        return -1
    gc.collect()
    return sum(type(o) is cls for o in gc.get_objects())


def _score_live_batches(est, X, y):
    return float(live_bucketed_batches())


def _score_time(est, X, y):
    return time.time()


def _score_clear_session(est, X, y):
    """Diagnostic scorer: reset Keras's global state after the fit's other scorers ran."""
    import keras

    keras.backend.clear_session()
    return 0.0


def w_gridsearch(cfg, clear_session=False):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skrnn import LSTMSentimentClassifier

    X, y, source = reviews(cfg["gs_reviews"])
    grid = cfg["gs_grid"]
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    n_fits = n_candidates * cfg["gs_cv"]
    scoring = {"accuracy": _score_accuracy, "pid": _score_pid, "time": _score_time}
    if clear_session:  # dicts keep their order: cleared before the RSS is read
        scoring["clear_session"] = _score_clear_session
    scoring["rss_mib"] = _score_rss_mib
    scoring["live_batches"] = _score_live_batches
    out = {
        "data": source,
        "n_reviews": len(X),
        "estimator": SMALL_CLF,
        "param_grid": grid,
        "cv": cfg["gs_cv"],
        "n_jobs": 2,
        "fits_per_search": n_fits,
        "searches": [],
        "clear_session_after_each_fit": clear_session,
    }
    gc.collect()
    out["parent_rss_start_mib"] = rss() / MiB
    fits = []  # every fit of every search: pid, time, rss after the fit and its scoring
    with TreeSampler(0.2) as s:
        for k in range(cfg["gs_searches"]):
            t_start = time.perf_counter() - s.t0
            s.mark(f"search {k + 1} start")
            search = GridSearchCV(
                LSTMSentimentClassifier(**SMALL_CLF),
                grid,
                cv=StratifiedKFold(cfg["gs_cv"]),
                n_jobs=2,
                scoring=scoring,
                refit="accuracy",
                error_score="raise",
            )
            t0 = time.perf_counter()
            search.fit(X, y)
            wall = time.perf_counter() - t0
            t_end = time.perf_counter() - s.t0
            s.mark(f"search {k + 1} end")
            res = search.cv_results_
            for split in range(cfg["gs_cv"]):
                for c in range(n_candidates):
                    fits.append(
                        {
                            "search": k + 1,
                            "pid": int(res[f"split{split}_test_pid"][c]),
                            "time": float(res[f"split{split}_test_time"][c]),
                            "rss_mib": float(res[f"split{split}_test_rss_mib"][c]),
                            "live_bucketed_batches": int(res[f"split{split}_test_live_batches"][c]),
                        }
                    )
            del search, res
            gc.collect()
            s.sample()
            peak, peak_t, n_proc = s.peak_total(t_start, t_end + 1)
            out["searches"].append(
                {
                    "search": k + 1,
                    "wall_s": wall,
                    "peak_total_rss_mib": peak / MiB,
                    "processes_at_peak": n_proc,
                    "parent_rss_after_mib": rss() / MiB,
                }
            )
    # Per-process peaks (the sampler) and per-worker RSS fit after fit (the scorer).
    t_first = min(f["time"] for f in fits)
    fits.sort(key=lambda f: f["time"])
    workers = {}
    for f in fits:
        workers.setdefault(f["pid"], []).append(f)
    per_worker = []
    for pid, fs in workers.items():
        r = [f["rss_mib"] for f in fs]
        later = r[1:]  # the first fit in a worker pays TensorFlow's import and start-up
        proc = s.procs.get(pid, {})
        per_worker.append(
            {
                "pid": pid,
                "fits": len(fs),
                "fits_per_search": {
                    k + 1: sum(f["search"] == k + 1 for f in fs) for k in range(cfg["gs_searches"])
                },
                "rss_after_fit_mib": [round(x, 1) for x in r],
                "live_bucketed_batches_after_fit": [f["live_bucketed_batches"] for f in fs],
                "rss_after_first_fit_mib": r[0],
                "rss_after_second_fit_mib": r[1] if len(r) > 1 else None,
                "rss_after_last_fit_mib": r[-1],
                "growth_second_to_last_mib": (r[-1] - r[1]) if len(r) > 1 else None,
                "slope_mib_per_fit_after_first": _slope(range(len(later)), later),
                "sampled_peak_rss_mib": proc.get("peak", 0) / MiB or None,
            }
        )
    procs = {
        str(pid): {
            "label": d["label"],
            "first_mib": d["first"] / MiB,
            "peak_mib": d["peak"] / MiB,
            "last_mib": d["last"] / MiB,
            "first_t": d["first_t"],
            "last_t": d["last_t"],
            "peak_t": d["peak_t"],
            # every 5th sample (1 s), to keep the JSON small
            "series": [(t, round(r / MiB, 1)) for t, r in d["series"][::5]],
        }
        for pid, d in s.procs.items()
    }
    peak, peak_t, n_proc = s.peak_total()
    out.update(
        {
            "peak_total_rss_mib": peak / MiB,
            "peak_total_t": peak_t,
            "processes_at_peak": n_proc,
            "parent_peak_rss_mib": s.procs[os.getpid()]["peak"] / MiB,
            "workers": per_worker,
            "processes": procs,
            "marks": s.marks,
            "total_series": [(t, round(r / MiB, 1), n) for t, r, n in s.total[::5]],
            "fits": [{**f, "time": round(f["time"] - t_first, 2)} for f in fits],
            "workers_reused_across_searches": all(
                len(w["fits_per_search"]) > 1 and min(w["fits_per_search"].values()) > 0
                for w in per_worker
            ),
        }
    )
    return out


# -- fit_loop (diagnostic for the grid search workers) -------------------------------------


def w_fit_loop(cfg):
    """Fresh clones fitted one after the other in one process, as a grid search worker does.

    RSS (after ``gc.collect()``) after every fit, then the same with
    ``keras.backend.clear_session()`` after every fit, to tell growth of the
    estimator from growth of Keras's global state.
    """
    from sklearn.base import clone

    from skrnn import LSTMSentimentClassifier

    X, y, source = reviews(cfg["loop_reviews"])
    proto = LSTMSentimentClassifier(**SMALL_CLF)
    out = {"data": source, "n_reviews": len(X), "fits": cfg["loop_fits"], "estimator": SMALL_CLF}
    for variant in ("plain", "clear_session"):
        curve = []
        for _ in range(cfg["loop_fits"]):
            est = clone(proto).fit(X, y)
            est.predict(X[:64])
            del est
            if variant == "clear_session":
                import keras

                keras.backend.clear_session()
            gc.collect()
            curve.append(rss() / MiB)
        later = curve[2:]  # the first fits pay TensorFlow's start-up
        out[variant] = {
            "rss_after_fit_mib": [round(r, 1) for r in curve],
            "growth_fit3_to_last_mib": curve[-1] - curve[2],
            "slope_mib_per_fit_after_fit2": _slope(range(len(later)), later),
        }
    return out


# -- predict -----------------------------------------------------------------------


def _predict_loop(predict, batches, cfg):
    """RSS (MiB, after gc) every ``pred_every`` calls; call ``i`` gets ``batches[i % len]``."""
    curve, times = [], []
    warm = None
    live = {}
    t0 = time.perf_counter()
    for i in range(1, cfg["pred_calls"] + 1):
        predict(batches[(i - 1) % len(batches)])
        if i == cfg["pred_warmup"]:
            live["after_warmup"] = live_bucketed_batches()
            gc.collect()
            warm = rss() / MiB
        if i % cfg["pred_every"] == 0:
            gc.collect()
            curve.append((i, rss() / MiB))
            times.append(time.perf_counter() - t0)
    live["after_all"] = live_bucketed_batches()
    gc.collect()
    end = rss() / MiB
    n_after = cfg["pred_calls"] - cfg["pred_warmup"]
    late = [(i, r) for i, r in curve if i >= cfg["pred_warmup"]]
    slope = _slope([i for i, _ in late], [r for _, r in late])
    return {
        "calls": cfg["pred_calls"],
        "batch": cfg["pred_batch"],
        "warmup_calls": cfg["pred_warmup"],
        "rss_after_warmup_mib": warm,
        "rss_after_all_mib": end,
        "growth_mib": end - warm,
        "growth_kib_per_call": (end - warm) * 1024 / n_after,
        "slope_kib_per_call": None if slope is None else slope * 1024,
        "curve_mib": [(i, round(r, 2)) for i, r in curve],
        "seconds": time.perf_counter() - t0,
        "ms_per_call": 1000 * (time.perf_counter() - t0) / cfg["pred_calls"],
        "live_bucketed_batches": live,
    }


def w_predict_classifier(cfg):
    from skrnn import LSTMSentimentClassifier

    n_fit = 1000
    X, y, source = reviews(n_fit + 64 * cfg["pred_batch"])
    gc.collect()
    base = rss() / MiB
    clf = LSTMSentimentClassifier(**SMALL_CLF).fit(X[:n_fit], y[:n_fit])
    pool = X[n_fit:]
    # 64 different batches of held-out reviews, cycled: varied lengths, so varied padded shapes.
    batches = [pool[j * cfg["pred_batch"] : (j + 1) * cfg["pred_batch"]] for j in range(64)]
    out = _predict_loop(clf.predict, batches, cfg)
    out.update(
        estimator="LSTMSentimentClassifier",
        params=SMALL_CLF,
        data=source,
        fit_reviews=n_fit,
        rss_before_fit_mib=base,
    )
    return out


def w_predict_generator(cfg):
    from skrnn import CharRNNGenerator
    from skrnn.datasets import load_tiny_shakespeare

    try:
        text = load_tiny_shakespeare(download_if_missing=False)
        source = "Tiny Shakespeare"
    except Exception:
        text = " ".join(synthetic_reviews(2000)[0])
        source = "synthetic reviews"
    params = dict(
        cell="lstm",
        hidden_size=64,
        n_layers=1,
        seq_length=50,
        batch_size=32,
        max_iter=1,
        max_time=5.0,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=0,
    )
    gc.collect()
    base = rss() / MiB
    gen = CharRNNGenerator(**params).fit(text[:200_000])
    # 64 batches of 32 contexts of 10-300 characters from the rest of the text, cycled.
    rng = np.random.default_rng(0)
    rest = text[200_000:]
    batches = []
    for _ in range(64):
        starts = rng.integers(0, len(rest) - 400, cfg["pred_batch"])
        lens = rng.integers(10, 300, cfg["pred_batch"])
        batches.append([rest[a : a + n] for a, n in zip(starts, lens, strict=True)])
    out = _predict_loop(gen.predict, batches, cfg)
    out.update(
        estimator="CharRNNGenerator",
        params=params,
        data=source,
        fit_chars=200_000,
        rss_before_fit_mib=base,
    )
    return out


# -- corpus ------------------------------------------------------------------------


def w_corpus(cfg):
    import bench_char_rnn

    text = bench_char_rnn.load_text()
    # bench_char_rnn's memory case with a tiny model (quick=True: LSTM 32) and our budget.
    out = bench_char_rnn.w_memory(
        {"memory_mb": cfg["corpus_mb"], "memory_max_time": cfg["corpus_max_time"]}, text, quick=True
    )
    corpus_bytes = out["corpus_chars"]  # ASCII: one byte per character in the str and on disk
    out.update(
        hidden_size=bench_char_rnn.QUICK_SHAPE["hidden"],
        max_time=cfg["corpus_max_time"],
        corpus_bytes=corpus_bytes,
        peak_rss_over_corpus=out["peak_rss_fit_mb"] * 1e6 / corpus_bytes,
        peak_growth_over_corpus=out["peak_growth_mb"] * 1e6 / corpus_bytes,
    )
    return out


WORKERS = {
    "gridsearch": w_gridsearch,
    "gridsearch_clear_session": lambda cfg: w_gridsearch(cfg, clear_session=True),
    "fit_loop": w_fit_loop,
    "predict_classifier": w_predict_classifier,
    "predict_generator": w_predict_generator,
    "corpus": w_corpus,
}


def run_worker(case, quick):
    warnings.filterwarnings("ignore")
    cfg = QUICK if quick else FULL
    t0 = time.perf_counter()
    out = WORKERS[case](cfg)
    out["worker_wall_s"] = time.perf_counter() - t0
    report(out)


# -- orchestration -------------------------------------------------------------------


def _summary_gridsearch(name, g):
    if not g:
        return []
    if "error" in g:
        return [f"{name}: ERROR {g['error']}"]
    lines = [
        f"## {name}: {g['fits_per_search']} fits per search x {len(g['searches'])} searches, "
        f"n_jobs=2, {g['n_reviews']} reviews ({g['data']})",
        f"peak total RSS (parent + children, summed): {g['peak_total_rss_mib']:,.0f} MiB "
        f"({g['processes_at_peak']} processes)",
        f"parent: start {g['parent_rss_start_mib']:,.0f} MiB, "
        f"peak {g['parent_peak_rss_mib']:,.0f} MiB",
    ]
    for s in g["searches"]:
        lines.append(
            f"  search {s['search']}: {s['wall_s']:.0f} s, "
            f"peak total {s['peak_total_rss_mib']:,.0f} MiB, "
            f"parent after (gc) {s['parent_rss_after_mib']:,.0f} MiB"
        )
    for w in g["workers"]:
        slope = w["slope_mib_per_fit_after_first"]
        lines.append(
            f"  worker {w['pid']}: {w['fits']} fits {w['fits_per_search']}, "
            f"peak {w['sampled_peak_rss_mib'] or 0:,.0f} MiB; "
            f"after fit 1 {w['rss_after_first_fit_mib']:,.0f}, "
            f"fit 2 {w['rss_after_second_fit_mib'] or 0:,.0f}, "
            f"last {w['rss_after_last_fit_mib']:,.0f} MiB; slope after fit 1 "
            f"{'n/a' if slope is None else f'{slope:+.2f}'} MiB/fit; "
            f"live BucketedBatches after each fit "
            f"{w.get('live_bucketed_batches_after_fit', [])}"
        )
    lines.append(f"  workers reused across searches: {g['workers_reused_across_searches']}")
    return lines


def summary(results):
    lines = []
    for gname in ("gridsearch", "gridsearch_clear_session"):
        lines += _summary_gridsearch(gname, results.get(gname))
    f = results.get("fit_loop")
    if f and "error" not in f:
        for v in ("plain", "clear_session"):
            d = f[v]
            lines.append(
                f"## fit_loop ({v}): {f['fits']} fresh clones fitted "
                f"on {f['n_reviews']} reviews in one process: "
                f"RSS after fit 3 {d['rss_after_fit_mib'][2]:,.0f} "
                f"-> last {d['rss_after_fit_mib'][-1]:,.0f} MiB "
                f"({d['growth_fit3_to_last_mib']:+.1f} MiB, "
                f"slope {d['slope_mib_per_fit_after_fit2'] or 0:+.2f} MiB/fit)"
            )
    elif f:
        lines.append(f"fit_loop: ERROR {f['error']}")
    for case in ("predict_classifier", "predict_generator"):
        p = results.get(case)
        if p and "error" not in p:
            lines.append(
                f"## {case}: {p['calls']} calls x {p['batch']} inputs "
                f"({p['ms_per_call']:.1f} ms/call): "
                f"RSS after {p['warmup_calls']} calls {p['rss_after_warmup_mib']:,.1f} MiB "
                f"-> after all {p['rss_after_all_mib']:,.1f} MiB: "
                f"growth {p['growth_mib']:+.2f} MiB "
                f"({p['growth_kib_per_call']:+.2f} KiB/call; "
                f"slope {p['slope_kib_per_call'] or 0:+.2f} KiB/call)"
                + (
                    f"; live BucketedBatches {p['live_bucketed_batches']['after_warmup']} -> "
                    f"{p['live_bucketed_batches']['after_all']}"
                    if p.get("live_bucketed_batches", {}).get("after_all", -1) >= 0
                    else ""
                )
            )
        elif p:
            lines.append(f"{case}: ERROR {p['error']}")
    c = results.get("corpus")
    if c and "error" not in c:
        lines.append(
            f"## corpus: {c['corpus_chars'] / 1e6:,.0f} M chars, LSTM {c['hidden_size']}, "
            f"{c['fit_seconds']:.0f} s fit ({c['chars_trained'] or 0:,} chars trained): "
            f"RSS before fit {c['rss_before_fit_mb']:,.0f} MB (corpus str included), "
            f"peak {c['peak_rss_fit_mb']:,.0f} MB = {c['peak_rss_over_corpus']:.2f}x the corpus; "
            f"peak growth {c['peak_growth_mb']:,.0f} MB = "
            f"{c['growth_bytes_per_char']:.2f} bytes/char; "
            f"encoding alone {c['encode_only_peak_growth_mb']:,.0f} MB"
        )
    elif c:
        lines.append(f"corpus: ERROR {c['error']}")
    return "\n".join(lines)


def plot(result, path):
    """Grid search RSS over time (per process and total) and RSS over predict calls, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = result["results"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    g = res.get("gridsearch")
    if g and "error" not in g:
        t, total = [x[0] for x in g["total_series"]], [x[1] for x in g["total_series"]]
        ax.plot(t, total, color="black", lw=1.5, label="total (sum over processes)")
        for pid, p in g["processes"].items():
            if p["label"] in ("parent", "loky_worker"):
                ax.plot(
                    [x[0] for x in p["series"]],
                    [x[1] for x in p["series"]],
                    lw=1,
                    label=f"{p['label']} {pid}",
                )
        for tm, label in g["marks"]:
            if label.endswith("start") and not label.startswith("search 1"):
                ax.axvline(tm, color="grey", ls=":", lw=1)
        ax.set_title(
            f"GridSearchCV, n_jobs=2, {g['fits_per_search']} fits x {len(g['searches'])} searches"
        )
        ax.set_xlabel("seconds")
        ax.set_ylabel("RSS (MiB)")
        ax.legend(fontsize=7)
    ax = axes[1]
    for case in ("predict_classifier", "predict_generator"):
        p = res.get(case)
        if p and "error" not in p:
            curve = p["curve_mib"]
            base = p["rss_after_warmup_mib"]
            ax.plot(
                [c[0] for c in curve],
                [c[1] - base for c in curve],
                marker=".",
                label=f"{p['estimator']} (after {p['warmup_calls']} calls: {base:,.0f} MiB)",
            )
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title("RSS over consecutive predict calls (32 inputs each)")
    ax.set_xlabel("predict calls")
    ax.set_ylabel("RSS - RSS after warm-up (MiB)")
    ax.legend(fontsize=7)
    fig.suptitle(
        f"skrnn memory under load, {result['date_utc']} UTC, "
        f"{result['machine']['cpu_count']} cores",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run (~1-3 min)")
    ap.add_argument(
        "--cases",
        default=None,
        help="comma-separated subset of: gridsearch, fit_loop, predict (both estimators), "
        "predict_classifier, predict_generator, corpus; and the diagnostic "
        "gridsearch_clear_session (not in the default)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="JSON path (default benchmarks/results/reliability[_quick].json)",
    )
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the other cases' results already in the JSON file (run the cases one at a time)",
    )
    ap.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="also draw the grid search and predict curves to this PNG (needs matplotlib)",
    )
    ap.add_argument(
        "--plot-only", action="store_true", help="only redraw --plot from the --out JSON"
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.plot_only:
        out = Path(args.out) if args.out else HERE / "results" / "reliability.json"
        plot(json.loads(out.read_text()), args.plot or out.with_suffix(".png"))
        return 0
    if args.worker:
        run_worker(args.worker, args.quick)
        return 0
    import psutil

    cases = []
    for c in args.cases.split(",") if args.cases else ALL_CASES:
        cases += ALIASES.get(c, [c])
    unknown = set(cases) - set(ALL_CASES + EXTRA_CASES)
    if unknown:
        choices = [*ALL_CASES, *EXTRA_CASES, *ALIASES]
        ap.error(f"unknown case(s) {sorted(unknown)}; choose from {choices}")
    t_start = time.perf_counter()
    results = {}
    for case in cases:
        digest = source_digest()
        out = spawn(__file__, case, args.quick, timeout=300 if args.quick else 900)
        out["skrnn_source_digest"] = {"start": digest, "end": source_digest()}
        out["date_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        out["command"] = " ".join([os.path.basename(sys.executable), *sys.argv])
        results[case] = out
        status = out.get("error") or f"done in {out['process_wall_s']:.0f} s"
        print(f"[{time.perf_counter() - t_start:6.1f}s] {case}: {status}", flush=True)
    out = (
        Path(args.out)
        if args.out
        else HERE / "results" / ("reliability_quick.json" if args.quick else "reliability.json")
    )
    if args.merge and out.exists():
        previous = json.loads(out.read_text())
        results = {
            **{c: r for c, r in previous.get("results", {}).items() if c not in results},
            **results,
        }
        results = {c: results[c] for c in ALL_CASES + EXTRA_CASES if c in results}
    text = summary(results)
    print()
    print(text)
    versions = package_versions(
        ("skrnn", "scikit-learn", "joblib", "keras", "tensorflow", "psutil")
    )
    try:
        commit = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE.parent), "status", "--porcelain", "skrnn"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = None, ""
    result = {
        "benchmark": "reliability",
        "quick": args.quick,
        "config": QUICK if args.quick else FULL,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "memory_gib": psutil.virtual_memory().total / 2**30,
        },
        "git": {"head": commit, "skrnn_modified": bool(dirty)},
        "versions": versions,
        "results": results,
        "summary": text,
        "total_wall_s": time.perf_counter() - t_start,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    if args.plot:
        plot(result, args.plot)
        print(f"plot: {args.plot}")
    print(f"\nJSON: {out}  (total {result['total_wall_s']:.0f} s)")
    return 0 if not any("error" in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
