"""Speed and memory of skrnn's NumPy ``CharRNNGenerator`` against its peers.

Every measurement runs in its own subprocess (clean thread pools and a clean
RSS), and the repeats are interleaved: repeat 1 of every case, then repeat 2,
and so on, so that a noisy moment on the machine does not hit one peer only.
Reported: the median over the repeats of each case, and ratios of medians.

Cases (``--cases`` picks a subset):

==================  ==========================================================
``minchar``         the original per-sequence loop (min-char-rnn's algorithm,
                    written in ``_peers_char.py``): tanh RNN, hidden 500,
                    windows of 40, one sequence at a time, float64, Adagrad 0.1
``skrnn_rnn500``    ``CharRNNGenerator(cell="rnn", hidden_size=500,
                    seq_length=40, optimizer="adagrad", learning_rate=0.1)``
                    at the estimator's default ``batch_size``
``skrnn_lstm256``   ``CharRNNGenerator(cell="lstm", hidden_size=256,
                    batch_size=64, seq_length=100)``, Adam, default ``n_jobs``
                    (one process); ``_t1``: under an outer
                    ``threadpool_limits(1)`` (one process, one BLAS thread);
                    ``_nj2``: ``n_jobs=2`` (two processes,
                    ``skrnn.rnn.split_batch``)
``core_lstm256``    the same network timed below the estimator, in one
                    process with 2 BLAS threads (``skrnn.rnn.CharRNN`` +
                    ``Adam`` + clipping), diagnostic
``keras_lstm256``   Keras 3 / TensorFlow: one-hot -> LSTM(256) -> Dense(65),
                    stateful streams, Adam (``_xla``: ``jit_compile=True``)
``torch_lstm256``   PyTorch CPU: one-hot -> nn.LSTM(256) -> nn.Linear(65)
``gen_*``           sampling one stream of characters (``_nj2``: ``n_jobs=2``;
                    ``gen_torch_default``: PyTorch's 2 x 256 LSTM)
``*_busy``          the same case while a busy loop occupies the second CPU
                    (pinned to it), as when another job shares the machine
``memory``          bytes per encoded character, and peak RSS while fitting a
                    large synthetic corpus
==================  ==========================================================

Run it under the shared CPU lock::

    flock /tmp/skrnn-cpu.lock .venv/bin/python benchmarks/bench_char_rnn.py
    flock /tmp/skrnn-cpu.lock .venv/bin/python benchmarks/bench_char_rnn.py --quick

Results: a markdown table on stdout and JSON in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _harness import SKRNN_ROOT, git_commit, package_versions, report, source_digest, spawn  # noqa: E402

# -- the work -------------------------------------------------------------------

FULL = {
    "repeats": 3,
    "minchar_seconds": 20.0,
    "skrnn_rnn_windows": 40,  # windows of 40 per timed fit (x batch_size streams)
    "skrnn_lstm_windows": 16,  # windows of 100 per timed fit (x 64 streams)
    "keras_steps": 24,
    "torch_steps": 40,
    "warmup_steps": 4,
    "gen_chars": 20000,
    "memory_mb": 100,
    "memory_max_time": 10.0,
    "sample_fit_time": 2.0,
}
QUICK = {
    "repeats": 1,
    "minchar_seconds": 2.0,
    "skrnn_rnn_windows": 4,
    "skrnn_lstm_windows": 4,
    "keras_steps": 4,
    "torch_steps": 4,
    "warmup_steps": 2,
    "gen_chars": 2000,
    "memory_mb": 5,
    "memory_max_time": 1.0,
    "sample_fit_time": 0.3,
}
QUICK_SHAPE = {"hidden": 32, "rnn_hidden": 50}

ALL_CASES = [
    "minchar",
    "skrnn_rnn500",
    "skrnn_rnn500_b256",
    "skrnn_lstm256",
    "skrnn_lstm256_t1",
    "skrnn_lstm256_nj2",
    "core_lstm256",
    "keras_lstm256",
    "keras_lstm256_xla",
    "torch_lstm256",
    "gen_skrnn256",
    "gen_skrnn_default",
    "gen_skrnn_default_nj2",
    "gen_torch256",
    "gen_torch_default",
    "skrnn_lstm256_busy",
    "skrnn_lstm256_nj2_busy",
    "gen_skrnn_default_busy",
    "gen_skrnn_default_nj2_busy",
    "memory",
]
ONCE = {"memory", "keras_lstm256_xla", "skrnn_rnn500_b256"}  # measured in the first repeat only


# -- data -----------------------------------------------------------------------


def load_text():
    """Tiny Shakespeare via ``skrnn.datasets`` when available, else ``$SKRNN_DATA``."""
    try:
        from skrnn.datasets import load_tiny_shakespeare

        return load_tiny_shakespeare(download_if_missing=False)
    except Exception:  # the loader is missing or cannot find the file
        data = Path(os.environ.get("SKRNN_DATA", HERE.parent.parent / "shared" / "data"))
        return (data / "tinyshakespeare.txt").read_text(encoding="utf-8")


def encoded():
    from skrnn.text import CharVocabulary

    text = load_text()
    vocab = CharVocabulary().fit([text])
    return text, vocab, vocab.encode(text)


def _slice_for(n_targets_per_stream_windows, batch_size, seq_length, text):
    """A prefix of ``text`` giving exactly ``batch_size`` streams of whole windows."""
    n = batch_size * seq_length * n_targets_per_stream_windows + 1
    if n > len(text):
        reps = -(-n // len(text))
        text = text * reps
    return text[:n], n - 1


# -- skrnn workers --------------------------------------------------------------


def _estimator(**params):
    from skrnn import CharRNNGenerator

    base = dict(
        validation_fraction=0.0, early_stopping=False, max_iter=1, random_state=0, verbose=0
    )
    base.update(params)
    est = CharRNNGenerator()
    valid = est.get_params()
    return CharRNNGenerator(**{k: v for k, v in base.items() if k in valid})


def _time_fit(params, n_windows, warmup_windows, text):
    """Chars/s of the estimator's own training, over ``n_windows`` windows per stream.

    * ``chars_per_s``: a fresh estimator's ``fit`` on the corpus, wall clock
      of the whole call: vocabulary, encoding, initialisation, the second
      process's start and every first allocation (page faults) included.
      Characters trained from ``n_chars_seen_``.
    * ``steady_chars_per_s``: the rate after start-up, measured as the peers'
      are (Keras, PyTorch and ``core_lstm256`` are timed from the end of
      their warm-up steps): the same model continued for two more epochs in
      one ``fit`` (``warm_start=True``), timed over the second (from
      ``time_curve_``), when the second process and every work array already
      exist.

    A small ``fit`` first pays the one-off costs of the process (imports,
    BLAS thread buffers).
    """
    est = _estimator(**params)
    B, T = est.get_params()["batch_size"], est.get_params()["seq_length"]
    small, _ = _slice_for(warmup_windows, B, T, text)
    big, _ = _slice_for(n_windows, B, T, text)
    _estimator(**params).fit(small)
    est = _estimator(**params)
    t0 = time.perf_counter()
    est.fit(big)
    fit_s = time.perf_counter() - t0
    fit_chars = est.n_chars_seen_
    est.set_params(warm_start=True, max_iter=2)
    est.fit(big)
    epoch_chars = (est.n_chars_seen_ - fit_chars) / 2
    epoch_s = est.time_curve_[-1] - est.time_curve_[-2]
    return {
        "chars_per_s": fit_chars / fit_s,
        "steady_chars_per_s": epoch_chars / epoch_s,
        "chars": fit_chars,
        "seconds": fit_s,
        "batch_size": B,
        "seq_length": T,
        "fit_time_": fit_s,
        "final_loss": float(est.loss_curve_[-1]) if getattr(est, "loss_curve_", None) else None,
    }


def w_skrnn_rnn500(cfg, text, quick, batch_size=None):
    H = QUICK_SHAPE["rnn_hidden"] if quick else 500
    params = dict(
        cell="rnn",
        hidden_size=H,
        n_layers=1,
        seq_length=40,
        optimizer="adagrad",
        learning_rate=0.1,
        dropout=0.0,
    )
    if batch_size:
        params["batch_size"] = batch_size
    return _time_fit(params, cfg["skrnn_rnn_windows"], max(1, cfg["skrnn_rnn_windows"] // 6), text)


def w_skrnn_lstm256(cfg, text, quick, threads=None, n_jobs=None):
    from threadpoolctl import threadpool_limits

    H = QUICK_SHAPE["hidden"] if quick else 256
    params = dict(
        cell="lstm",
        hidden_size=H,
        n_layers=1,
        batch_size=64,
        seq_length=100,
        optimizer="adam",
        dropout=0.0,
        n_jobs=n_jobs,
    )
    with threadpool_limits(limits=threads):  # None: no limit
        out = _time_fit(
            params, cfg["skrnn_lstm_windows"], max(1, cfg["skrnn_lstm_windows"] // 6), text
        )
    out["blas_threads"] = threads or "estimator default"
    out["n_jobs"] = n_jobs
    return out


def w_core_lstm256(cfg, text, quick):
    """The network + optimizer loop below the estimator (no estimator overhead)."""
    from _peers_char import make_streams

    from skrnn.rnn import Adam, CharRNN, clip_grad_norm_
    from skrnn.text import CharVocabulary

    H = QUICK_SHAPE["hidden"] if quick else 256
    vocab = CharVocabulary().fit([text])
    ids = vocab.encode(text)
    x, y = make_streams(ids, 64, 100)
    net = CharRNN(len(vocab), H, 1, "lstm").init_params(np.random.default_rng(0))
    opt = Adam(net.n_params, 2e-3)
    state = net.zero_state(64)
    warm, steps = cfg["warmup_steps"], cfg["skrnn_lstm_windows"]
    for step in range(warm + steps):
        # the network's time axis comes first: (T, B)
        xi, yi = x[step % len(x)].T, y[step % len(x)].T
        loss = net.loss_and_grads(np.ascontiguousarray(xi), np.ascontiguousarray(yi), state)
        clip_grad_norm_(net.grads, 5.0)
        opt.step(net.params, net.grads)
        if step == warm - 1:
            t0 = time.perf_counter()
    dt = time.perf_counter() - t0
    return {
        "chars_per_s": steps * 6400 / dt,
        "chars": steps * 6400,
        "seconds": dt,
        "final_loss": loss,
    }


def _fitted_for_sampling(params, text, seconds):
    est = _estimator(max_time=seconds, **params)
    est.fit(text[:200_000])
    return est


def w_gen_skrnn(cfg, text, quick, default_size=False, n_jobs=None):
    params = (
        {}
        if default_size
        else dict(cell="lstm", hidden_size=QUICK_SHAPE["hidden"] if quick else 256, n_layers=1)
    )
    est = _fitted_for_sampling(params, text, cfg["sample_fit_time"])
    est.set_params(n_jobs=n_jobs)
    n = cfg["gen_chars"]
    est.sample(200, random_state=1)  # warm-up: buffers for one stream
    t0 = time.perf_counter()
    out = est.sample(n, random_state=0)
    dt = time.perf_counter() - t0
    sample = out[0] if isinstance(out, (list, tuple)) else out
    p = est.get_params()
    return {
        "chars_per_s": n / dt,
        "chars": n,
        "seconds": dt,
        "sample_len": len(sample),
        "cell": p["cell"],
        "hidden_size": p["hidden_size"],
        "n_layers": p["n_layers"],
        "n_jobs": n_jobs,
    }


# -- peer workers ---------------------------------------------------------------


def w_minchar(cfg, text, quick):
    from _peers_char import run_min_char_rnn

    _, vocab, ids = encoded()
    H = QUICK_SHAPE["rnn_hidden"] if quick else 500
    return run_min_char_rnn(
        ids,
        len(vocab),
        hidden_size=H,
        seq_length=40,
        learning_rate=0.1,
        seconds=cfg["minchar_seconds"],
    )


def w_keras(cfg, text, quick, xla=False):
    from _peers_char import run_keras_lstm

    _, vocab, ids = encoded()
    H = QUICK_SHAPE["hidden"] if quick else 256
    return run_keras_lstm(
        ids,
        len(vocab),
        hidden_size=H,
        warmup_steps=cfg["warmup_steps"],
        measure_steps=cfg["keras_steps"],
        jit_compile=xla,
    )


def w_torch(cfg, text, quick):
    from _peers_char import run_torch_lstm

    _, vocab, ids = encoded()
    H = QUICK_SHAPE["hidden"] if quick else 256
    return run_torch_lstm(
        ids,
        len(vocab),
        hidden_size=H,
        warmup_steps=cfg["warmup_steps"],
        measure_steps=cfg["torch_steps"],
    )


def w_gen_torch(cfg, text, quick, n_layers=1):
    from _peers_char import run_torch_sample

    H = QUICK_SHAPE["hidden"] if quick else 256
    return run_torch_sample(65, hidden_size=H, n_layers=n_layers, n_chars=cfg["gen_chars"])


def busy(worker):
    """``worker`` run while a busy loop occupies the last CPU (pinned there), then stopped."""
    import subprocess

    def run(cfg, text, quick):
        cpus = sorted(os.sched_getaffinity(0))
        loop = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import os; os.sched_setaffinity(0, {{{cpus[-1]}}})\nwhile True: pass",
            ]
        )
        try:
            time.sleep(0.2)
            out = worker(cfg, text, quick)
        finally:
            loop.kill()
            loop.wait()
        out["busy_cpu"] = cpus[-1]
        return out

    return run


# -- memory ----------------------------------------------------------------------


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


class _PeakSampler:
    """Peak RSS over a block: the kernel's high-water mark after resetting it, else polling."""

    def __enter__(self):
        self.peak = _rss()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            self.kernel = _hwm() is not None
        except OSError:
            self.kernel = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        if self.kernel:
            self.peak = max(self.peak, _hwm())


def synthetic_corpus(text, n_bytes, seed=0):
    """About ``n_bytes`` of text: Tiny Shakespeare's lines shuffled, block after block."""
    lines = text.splitlines(keepends=True)
    rng = np.random.default_rng(seed)
    blocks, size = [], 0
    while size < n_bytes:
        block = "".join(lines[i] for i in rng.permutation(len(lines)))
        blocks.append(block)
        size += len(block)
    corpus = "".join(blocks)[:n_bytes]
    del blocks
    return corpus


def w_memory(cfg, text, quick):
    from skrnn.text import CharVocabulary

    n = int(cfg["memory_mb"] * 1e6)
    corpus = synthetic_corpus(text, n)
    gc.collect()
    # Bytes per character of the encoded corpus, and the peak while encoding it.
    vocab = CharVocabulary().fit([text])
    base = _rss()
    with _PeakSampler() as s:
        ids = vocab.encode(corpus)
    bytes_per_char = ids.nbytes / len(corpus)
    encode_growth = s.peak - base
    del ids
    gc.collect()
    H = QUICK_SHAPE["hidden"] if quick else 256
    params = dict(
        cell="lstm",
        hidden_size=H,
        n_layers=1,
        batch_size=64,
        seq_length=100,
        dropout=0.0,
        max_iter=1,
    )
    # A small fit first, so that one-off costs (BLAS thread buffers, lazy
    # imports) are not counted as growth with the corpus.
    _estimator(**params).fit(text[:100_000])
    gc.collect()
    est = _estimator(max_time=cfg["memory_max_time"], **params)
    base = _rss()
    t0 = time.perf_counter()
    with _PeakSampler() as s:
        est.fit(corpus)
    fit_s = time.perf_counter() - t0
    growth = s.peak - base
    one_hot = n * 65 * 4
    # Whatever array the fitted estimator keeps that is as long as the corpus.
    kept = {
        k: (v.dtype.str, v.nbytes)
        for k, v in vars(est).items()
        if isinstance(v, np.ndarray) and v.size >= n // 2
    }
    return {
        "corpus_chars": len(corpus),
        "encoded_bytes_per_char": bytes_per_char,
        "rss_before_fit_mb": base / 1e6,
        "peak_rss_fit_mb": s.peak / 1e6,
        "peak_growth_mb": growth / 1e6,
        "growth_bytes_per_char": growth / len(corpus),
        "encode_only_peak_growth_mb": encode_growth / 1e6,
        "one_hot_float32_mb": one_hot / 1e6,
        "growth_vs_one_hot": growth / one_hot,
        "fit_seconds": fit_s,
        "chars_trained": getattr(est, "n_chars_seen_", None),
        "peak_method": "VmHWM reset via clear_refs + polling"
        if s.kernel
        else "polling /proc/self/statm",
        "corpus_sized_attributes": kept,
    }


WORKERS = {
    "minchar": w_minchar,
    "skrnn_rnn500": w_skrnn_rnn500,
    "skrnn_rnn500_b256": lambda c, t, q: w_skrnn_rnn500(c, t, q, batch_size=256),
    "skrnn_lstm256": w_skrnn_lstm256,
    "skrnn_lstm256_t1": lambda c, t, q: w_skrnn_lstm256(c, t, q, threads=1),
    "skrnn_lstm256_nj2": lambda c, t, q: w_skrnn_lstm256(c, t, q, n_jobs=2),
    "core_lstm256": w_core_lstm256,
    "keras_lstm256": w_keras,
    "keras_lstm256_xla": lambda c, t, q: w_keras(c, t, q, xla=True),
    "torch_lstm256": w_torch,
    "gen_skrnn256": w_gen_skrnn,
    "gen_skrnn_default": lambda c, t, q: w_gen_skrnn(c, t, q, default_size=True),
    "gen_skrnn_default_nj2": lambda c, t, q: w_gen_skrnn(c, t, q, default_size=True, n_jobs=2),
    "gen_torch256": w_gen_torch,
    "gen_torch_default": lambda c, t, q: w_gen_torch(c, t, q, n_layers=2),
    "memory": w_memory,
}
for _case in ("skrnn_lstm256", "skrnn_lstm256_nj2", "gen_skrnn_default", "gen_skrnn_default_nj2"):
    WORKERS[f"{_case}_busy"] = busy(WORKERS[_case])


def run_worker(case, quick):
    cfg = QUICK if quick else FULL
    warnings.filterwarnings("ignore")
    text = load_text()
    t0 = time.perf_counter()
    out = WORKERS[case](cfg, text, quick)
    out["worker_wall_s"] = time.perf_counter() - t0
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = [
            {k: d.get(k) for k in ("internal_api", "num_threads", "architecture")}
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        ]
    except Exception:
        pass
    report(out)


# -- orchestration ------------------------------------------------------------------


def available(case):
    """Skip peers whose library is missing (and say so)."""
    need = {"keras": "keras", "torch": "torch"}
    for prefix, module in need.items():
        if prefix in case:
            import importlib.util

            if importlib.util.find_spec(module) is None:
                return f"{module} not installed"
    return None


def median(results, key="chars_per_s"):
    vals = [r[key] for r in results if "error" not in r and r.get(key) is not None]
    return (
        (statistics.median(vals), min(vals), max(vals), len(vals))
        if vals
        else (None, None, None, 0)
    )


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def summarize(runs, quick):
    med = {case: median(rs) for case, rs in runs.items() if case != "memory"}
    m = lambda c: med.get(c, (None,))[0]  # noqa: E731

    def ratio(a, b):
        return m(a) / m(b) if m(a) and m(b) else None

    steady = {
        case: median(rs, "steady_chars_per_s")[0] for case, rs in runs.items() if case != "memory"
    }

    def steady_ratio(a, b):
        """skrnn case ``a`` after start-up against peer ``b`` (timed after its warm-up steps)."""
        return steady[a] / m(b) if steady.get(a) and m(b) else None

    keras_best = max(
        [c for c in ("keras_lstm256", "keras_lstm256_xla") if m(c)], key=m, default=None
    )
    checks = []

    def check(name, value, target, unit=""):
        ok = None if value is None else value >= target if target > 0 else value <= -target
        checks.append(
            {"check": name, "value": value, "target": abs(target), "unit": unit, "met": ok}
        )

    check("skrnn rnn500 / original min-char-rnn", ratio("skrnn_rnn500", "minchar"), 50, "x")
    if keras_best:
        # Like for like: both after start-up (Keras after its warm-up steps, skrnn in its
        # second epoch).
        check(
            f"skrnn LSTM-256 steady / Keras ({keras_best})",
            steady_ratio("skrnn_lstm256", keras_best),
            1.3,
            "x",
        )
    check(
        "skrnn LSTM-256 steady / PyTorch", steady_ratio("skrnn_lstm256", "torch_lstm256"), 1.0, "x"
    )
    check(
        "skrnn LSTM-256 n_jobs=2 steady / PyTorch",
        steady_ratio("skrnn_lstm256_nj2", "torch_lstm256"),
        1.3,
        "x",
    )
    check(
        "skrnn sampling, default model / PyTorch 2 x 256",
        ratio("gen_skrnn_default", "gen_torch_default"),
        2.0,
        "x",
    )
    check(
        "busy CPU: LSTM-256 n_jobs=2 / n_jobs=1",
        ratio("skrnn_lstm256_nj2_busy", "skrnn_lstm256_busy"),
        0.9,
        "x",
    )
    check(
        "busy CPU: sampling n_jobs=2 / n_jobs=1",
        ratio("gen_skrnn_default_nj2_busy", "gen_skrnn_default_busy"),
        0.9,
        "x",
    )
    mem = [r for r in runs.get("memory", []) if "error" not in r]
    if mem:
        check("encoded corpus bytes/char", mem[0]["encoded_bytes_per_char"], -2, "B/char")
    ratios = {
        "skrnn_rnn500/minchar": ratio("skrnn_rnn500", "minchar"),
        "skrnn_rnn500_b256/minchar": ratio("skrnn_rnn500_b256", "minchar"),
        "skrnn_lstm256/keras_lstm256 (steady)": steady_ratio("skrnn_lstm256", "keras_lstm256"),
        "skrnn_lstm256/keras_lstm256_xla (steady)": steady_ratio(
            "skrnn_lstm256", "keras_lstm256_xla"
        ),
        "skrnn_lstm256/torch_lstm256 (steady)": steady_ratio("skrnn_lstm256", "torch_lstm256"),
        "skrnn_lstm256/core_lstm256 (steady)": steady_ratio("skrnn_lstm256", "core_lstm256"),
        "skrnn_lstm256/keras_lstm256 (fresh fit)": ratio("skrnn_lstm256", "keras_lstm256"),
        "skrnn_lstm256/torch_lstm256 (fresh fit)": ratio("skrnn_lstm256", "torch_lstm256"),
        "skrnn_lstm256_nj2/keras_lstm256 (steady)": steady_ratio(
            "skrnn_lstm256_nj2", "keras_lstm256"
        ),
        "skrnn_lstm256_nj2/torch_lstm256 (steady)": steady_ratio(
            "skrnn_lstm256_nj2", "torch_lstm256"
        ),
        "skrnn_lstm256_nj2/skrnn_lstm256 (fresh fit)": ratio("skrnn_lstm256_nj2", "skrnn_lstm256"),
        "skrnn_lstm256_t1/skrnn_lstm256 (fresh fit)": ratio("skrnn_lstm256_t1", "skrnn_lstm256"),
        "gen_skrnn256/gen_torch256": ratio("gen_skrnn256", "gen_torch256"),
        "gen_skrnn_default/gen_torch_default": ratio("gen_skrnn_default", "gen_torch_default"),
        "gen_skrnn_default_nj2/gen_skrnn_default": ratio(
            "gen_skrnn_default_nj2", "gen_skrnn_default"
        ),
        "busy: skrnn_lstm256_nj2/skrnn_lstm256": ratio(
            "skrnn_lstm256_nj2_busy", "skrnn_lstm256_busy"
        ),
        "busy: gen_skrnn_default_nj2/gen_skrnn_default": ratio(
            "gen_skrnn_default_nj2_busy", "gen_skrnn_default_busy"
        ),
    }
    return med, checks, ratios


def markdown(med, checks, ratios, runs, quick):
    lines = [
        "| case | median chars/s | min - max | runs | steady (after start-up) median |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for case, (md, lo, hi, n) in med.items():
        steady = median(runs[case], "steady_chars_per_s")[0]
        lines.append(
            f"| `{case}` | {fmt(md)} | {fmt(lo)} - {fmt(hi)} | {n} | "
            f"{fmt(steady) if steady else ''} |"
        )
    lines += ["", "| ratio of medians | value |", "| --- | ---: |"]
    lines += [f"| {k} | {fmt(v, 2)} |" for k, v in ratios.items() if v is not None]
    lines += ["", "| check | measured | target | met |", "| --- | ---: | ---: | --- |"]
    for c in checks:
        res = "n/a" if c["met"] is None else ("yes" if c["met"] else "**no**")
        op = "<=" if "bytes" in c["check"] else ">="
        lines.append(
            f"| {c['check']} | {fmt(c['value'], 2)} {c['unit']} | {op} {c['target']:,} | {res} |"
        )
    mem = [r for r in runs.get("memory", []) if "error" not in r]
    if mem:
        r = mem[0]
        lines += [
            "",
            "| memory (fit on a synthetic corpus) | value |",
            "| --- | ---: |",
            f"| corpus | {r['corpus_chars'] / 1e6:,.1f} M chars |",
            f"| encoded corpus | {r['encoded_bytes_per_char']:.2f} bytes/char |",
            f"| RSS before fit (corpus str loaded) | {r['rss_before_fit_mb']:,.0f} MB |",
            f"| peak RSS during fit | {r['peak_rss_fit_mb']:,.0f} MB |",
            f"| peak growth during fit | {r['peak_growth_mb']:,.0f} MB "
            f"({r['growth_bytes_per_char']:.2f} bytes/char) |",
            f"| a float32 one-hot copy would be | {r['one_hot_float32_mb']:,.0f} MB |",
        ]
    errors = {c: r["error"] for c, rs in runs.items() for r in rs if "error" in r}
    if errors:
        lines += ["", "Errors: " + "; ".join(f"`{c}`: {e}" for c, e in errors.items())]
    return "\n".join(lines)


def _char_rnn_digest():
    """The digest of the sources this benchmark measures.

    The NumPy model's, not the Keras classifier's.
    """
    return source_digest(
        [SKRNN_ROOT / "char_rnn.py", SKRNN_ROOT / "text.py", *(SKRNN_ROOT / "rnn").glob("*.py")]
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test (< 60 s)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument(
        "--cases", default=None, help="comma-separated subset of: " + ",".join(ALL_CASES)
    )
    ap.add_argument(
        "--out",
        default=None,
        help="JSON path (default benchmarks/results/char_rnn.json; none for --quick)",
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.quick)
        return 0

    cfg = dict(QUICK if args.quick else FULL)
    repeats = args.repeats or cfg["repeats"]
    cases = args.cases.split(",") if args.cases else list(ALL_CASES)
    unknown = set(cases) - set(ALL_CASES)
    if unknown:
        ap.error(f"unknown case(s) {sorted(unknown)}; choose from {ALL_CASES}")
    runs = {c: [] for c in cases}
    skipped = {}
    digest_start = _char_rnn_digest()
    t_start = time.perf_counter()
    for rep in range(repeats):
        for case in cases:
            if case in ONCE and rep > 0:
                continue
            why = available(case)
            if why:
                skipped[case] = why
                continue
            out = spawn(__file__, case, args.quick, timeout=120 if args.quick else 300)
            runs[case].append(out)
            show = out.get("error") or f"{fmt(out.get('chars_per_s'))} chars/s"
            if case == "memory" and "error" not in out:
                show = (
                    f"peak growth {out['peak_growth_mb']:.0f} MB "
                    f"for {out['corpus_chars'] / 1e6:.0f} M chars"
                )
            print(
                f"[{time.perf_counter() - t_start:6.1f}s] "
                f"repeat {rep + 1}/{repeats} {case}: {show}",
                flush=True,
            )
    for case, why in skipped.items():
        runs[case].append({"error": f"skipped: {why}"})

    med, checks, ratios = summarize(runs, args.quick)
    table = markdown(med, checks, ratios, runs, args.quick)
    print()
    print(table)
    versions = package_versions(
        ("skrnn", "keras", "tensorflow", "torch", "threadpoolctl", "scikit-learn")
    )
    result = {
        "benchmark": "char_rnn",
        "quick": args.quick,
        "repeats": repeats,
        "config": cfg,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "git_commit": git_commit(),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": _cpu_name(),
        },
        "versions": versions,
        "runs": runs,
        "medians": {
            c: {"median": v[0], "min": v[1], "max": v[2], "n": v[3]} for c, v in med.items()
        },
        "ratios": ratios,
        "checks": checks,
        "total_wall_s": time.perf_counter() - t_start,
        "skrnn_source_digest": {"start": digest_start, "end": _char_rnn_digest()},
        "markdown": table,
    }
    # One result file per script: a quick (smoke) run does not replace the full run's.
    if args.out:
        out = Path(args.out)
    elif args.quick:
        print("\n(--quick: no result file written; --out PATH writes one)")
        return 0
    else:
        out = HERE / "results" / "char_rnn.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    if digest_start != result["skrnn_source_digest"]["end"]:
        print(
            "WARNING: skrnn's sources changed during the run; "
            "the repeats measured different versions."
        )
    print(f"\nJSON: {out}  (total {result['total_wall_s']:.0f} s, skrnn sources {digest_start})")
    return 0


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
