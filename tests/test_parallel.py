"""Sharing a fitted CharRNNGenerator across threads, and the second process's hygiene (n_jobs=2).

Where a process is killed, the test runs the estimator in a subprocess whose
command line carries a unique token: the forked second process inherits it,
so any process still holding the token afterwards is a leaked child.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from skrnn import CharRNNGenerator
from skrnn.rnn import _fork, split_step
from skrnn.rnn.parallel import Pacer, ThreadChooser

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
CONTEXTS = [TEXT[i : i + 1 + i % 40] for i in range(500)]
two_cpus = pytest.mark.skipif(
    not split_step.available() or joblib.cpu_count() < 2, reason="needs x86-64 Linux and 2 CPUs"
)


@pytest.fixture(scope="module")
def shared_model():
    return CharRNNGenerator(
        hidden_size=48, n_layers=2, seq_length=20, batch_size=8, max_iter=2, random_state=0
    ).fit(TEXT)


# ------------------------------------------------------------------ threads
INFERENCE = {
    "predict_proba": lambda m: m.predict_proba(CONTEXTS),
    "predict": lambda m: m.predict(CONTEXTS),
    "score": lambda m: m.score(TEXT[:1500]),
    "bits_per_character": lambda m: m.bits_per_character(TEXT[:700]),
    "perplexity": lambda m: m.perplexity(TEXT[:900]),
    "sample": lambda m: m.sample(300, prime="the ", random_state=7, n_samples=2),
}


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b))


def test_eight_threads_share_one_fitted_model(shared_model):
    expected = {name: call(shared_model) for name, call in INFERENCE.items()}
    jobs = [name for name in INFERENCE for _ in range(4)]

    def run(name):
        return name, INFERENCE[name](shared_model)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, jobs))
    wrong = [name for name, got in results if not _same(got, expected[name])]
    assert wrong == []


def test_two_threads_train_two_models_as_one_would(shared_model):
    params = dict(hidden_size=32, n_layers=1, seq_length=16, batch_size=8, max_iter=2, dropout=0.2)
    expected = [
        CharRNNGenerator(**params, random_state=s).fit(TEXT)._net.params.copy() for s in (1, 2)
    ]
    models = [CharRNNGenerator(**params, random_state=s) for s in (1, 2)]
    threads = [threading.Thread(target=m.fit, args=(TEXT,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for model, params_alone in zip(models, expected, strict=True):
        np.testing.assert_array_equal(model._net.params, params_alone)


# ------------------------------------------------------------------- pacing
def test_pacer_keeps_parallel_while_it_pays_and_drops_it_when_it_does_not():
    pacer = Pacer(warmup=2, window=3, every=10, references=2)
    assert pacer.wants_reference()
    pacer.reference(3.0)
    assert pacer.wants_reference()  # the second of two references
    pacer.reference(2.0)  # the fastest counts
    assert not pacer.wants_reference()
    assert pacer.parallel(9.0) and pacer.parallel(9.0)  # warm-up: not compared
    assert all(pacer.parallel(1.5) for _ in range(8))
    assert pacer.wants_reference()  # every 10 units
    pacer.reference(2.0)
    pacer.reference(2.0)
    assert pacer.parallel(2.5) and pacer.parallel(1.0)  # a median of 3 is needed
    assert not pacer.parallel(2.5)  # median 2.5 > 2.0
    assert Pacer(references=1).parallel(1.0)  # no reference yet: nothing to compare
    one_slow = Pacer(references=1)
    one_slow.reference(1.0)
    assert not one_slow.parallel(3.5)  # more than three times the reference: at once


def _blas_threads():
    return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


@pytest.mark.parametrize("two_are_faster", [True, False])
def test_thread_chooser_keeps_the_faster_thread_count(two_are_faster):
    def unit():  # stands for a product that runs slower or faster on two BLAS threads
        n = _blas_threads()
        time.sleep(0.004 / n if two_are_faster else 0.004 * n)
        return n

    with threadpool_limits(limits=2, user_api="blas"):
        with ThreadChooser(2) as run:
            used = [run(1, unit) for _ in range(10)]
        assert _blas_threads() == 2  # the limit in force is restored
    assert used[:3] == [1, 1, 2]  # two references on one thread, then the threads in force
    assert used[-3:] == ([2, 2, 2] if two_are_faster else [1, 1, 1])


# --------------------------------------------------------- process hygiene
_PRELUDE = """
import os, sys, signal, threading, time, random
import numpy as np
from skrnn import CharRNNGenerator
TEXT = open(sys.argv[1]).read()
"""


def _run_script(body, tmp_path, text=TEXT * 40):
    """Start ``body`` in a subprocess that reads ``text``; returns ``(process, token)``."""
    token = f"skrnn-test-{uuid.uuid4().hex}"
    data = tmp_path / f"{token}.txt"
    data.write_text(text)
    script = _PRELUDE + textwrap.dedent(body)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(data), token],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, token


def _holders(token):
    """Pids of live processes whose command line holds ``token``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if token.encode() in cmdline and state != "Z":
                pids.append(int(entry))
    return pids


def _wait_for_line(proc, prefix, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {prefix!r} line; stderr: {proc.stderr.read()[-2000:]}")


def _gone_within(token, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _holders(token):
            return True
        time.sleep(0.1)
    return False


LONG_FIT = """
est = CharRNNGenerator(
    hidden_size=256, n_layers=1, seq_length=32, batch_size=32, max_iter=50, max_time=120,
    n_jobs=2, validation_fraction=0, early_stopping=False,
)
print("started", flush=True)
est.fit(TEXT)
"""
LONG_SAMPLE = """
est = CharRNNGenerator(
    hidden_size=256, n_layers=2, seq_length=16, batch_size=8, max_iter=1, n_jobs=2
).fit(TEXT[:3000])
print("started", flush=True)
est.sample(10**7)
"""


@two_cpus
@pytest.mark.slow
@pytest.mark.parametrize("body", [LONG_FIT, LONG_SAMPLE], ids=["fit", "sample"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_the_parent_leaves_no_process(body, sig, tmp_path):
    proc, token = _run_script(body, tmp_path)
    try:
        _wait_for_line(proc, "started")
        deadline = time.monotonic() + 30
        while len(_holders(token)) < 2 and time.monotonic() < deadline:  # the second process is up
            time.sleep(0.05)
        assert len(_holders(token)) == 2, "the second process never started"
        time.sleep(0.3)
        proc.send_signal(sig)
        proc.wait(timeout=10)
        assert _gone_within(token, 5), f"left behind: {_holders(token)}"
    finally:
        for pid in _holders(token):
            os.kill(pid, signal.SIGKILL)
        proc.kill()


@two_cpus
@pytest.mark.slow
def test_ctrl_c_in_the_first_100_ms_of_fit_never_leaks(tmp_path):
    body = """
    import multiprocessing, warnings
    warnings.simplefilter("ignore")
    rng = random.Random(0)
    for attempt in range(30):
        est = CharRNNGenerator(
            hidden_size=256, n_layers=1, seq_length=16, batch_size=16, max_iter=3,
            n_jobs=2, validation_fraction=0, early_stopping=False, random_state=0,
        )
        timer = threading.Timer(rng.uniform(0, 0.1), os.kill, (os.getpid(), signal.SIGINT))
        try:
            timer.start()
            est.fit(TEXT)
            timer.join()  # a Ctrl-C that lands before or after fit
        except KeyboardInterrupt:
            timer.join()
        children = [p for p in multiprocessing.active_children() if p.name.startswith("skrnn")]
        net = getattr(est, "_net", None)
        private = net is None or net.params.flags.owndata
        print("attempt", attempt, len(children), private, flush=True)
    print("done", flush=True)
    """
    proc, token = _run_script(body, tmp_path, text=TEXT * 4)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    lines = [line.split() for line in out.splitlines() if line.startswith("attempt")]
    assert len(lines) == 30 and out.rstrip().endswith("done"), err[-3000:]
    assert all(children == "0" and private == "True" for _, _, children, private in lines), out
    assert _gone_within(token, 5)


@two_cpus
@pytest.mark.slow
@pytest.mark.parametrize("call", ["fit", "sample"])
def test_with_sigchld_ignored_calls_return(call, tmp_path):
    body = f"""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    est = CharRNNGenerator(
        hidden_size=256, n_layers=1, seq_length=16, batch_size=16, max_iter=1, n_jobs=2
    )
    est.fit(TEXT[:6000])
    if {call!r} == "sample":
        print(len(est.sample(3000, random_state=0)))
    print("returned", flush=True)
    """
    proc, token = _run_script(body, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert "returned" in out, err[-3000:]
    assert _gone_within(token, 5)


@two_cpus
@pytest.mark.slow
@pytest.mark.parametrize("call", ["fit", "sample"])
def test_a_stopped_child_raises_within_its_timeout(call, tmp_path):
    body = f"""
    from skrnn.rnn import SecondProcessError
    from skrnn.rnn.split_batch import SplitBatch
    from skrnn.rnn.split_step import SplitStepper

    def stopped_at_start(cls):  # the second process is stopped (SIGSTOP) as soon as it exists
        start = cls.__init__
        def init(self, *args, **kwargs):
            start(self, *args, **kwargs)
            os.kill(self._proc.pid, signal.SIGSTOP)
        cls.__init__ = init

    stopped_at_start(SplitBatch)
    stopped_at_start(SplitStepper)
    est = CharRNNGenerator(
        hidden_size=256, n_layers=2, seq_length=16, batch_size=16, max_iter=1, n_jobs=2,
        validation_fraction=0, early_stopping=False,
    )
    started = time.monotonic()
    try:
        if {call!r} == "fit":
            est.fit(TEXT)
        else:
            est.set_params(n_jobs=1).fit(TEXT).set_params(n_jobs=2).sample(10**6)
        print("returned", flush=True)
    except SecondProcessError as exc:
        print("raised after", round(time.monotonic() - started), "s:", exc, flush=True)
    """
    proc, token = _run_script(body, tmp_path, text=TEXT * 4)
    try:
        out, err = proc.communicate(timeout=90)
        assert "raised after" in out, out + err[-3000:]
        assert "did not answer within 10 s" in out
        assert _gone_within(token, 5), f"left behind: {_holders(token)}"
    finally:
        for pid in _holders(token):
            os.kill(pid, signal.SIGKILL)
        proc.kill()


def test_deferred_interrupts_raise_once_the_block_is_complete():
    steps = []
    with pytest.raises(KeyboardInterrupt), _fork.deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, and only records the signal
        steps.append("completed")
    assert steps == ["completed"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
