"""Drawing text from a :class:`~skrnn.rnn.CharRNN`, one symbol at a time.

Each step turns the logits into a distribution (divided by the temperature,
cut to the ``top_k`` most likely symbols) and draws from it by inverting the
cumulative distribution with one uniform per stream. Temperature 0 is greedy.

On two processes (:class:`~skrnn.rnn.split_step.SplitStepper`) the network
steps are split by units; the text is the same as on one. The first
``_BLOCK`` steps run on one process and are timed; the two-process blocks
that follow are compared with them, and when two processes no longer pay
(another job took a core) the state is handed back and sampling goes on in
this process.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from numbers import Real

import numpy as np

from ..validation import is_int
from . import _fork, split_step
from .parallel import Pacer, n_processes
from .split_step import SplitStepper

__all__ = ["check_sampling_args", "sample_ids", "two_processes_pay"]

# With n_jobs=2, sampling steps the network on two processes when the recurrent
# weights exceed this and the sample is at least SPLIT_MIN_CHARS long (starting
# the second process takes ~10 ms). On 2 cores, one stream: 0.4 MB of weights
# (LSTM 128) ran 0.8x as fast as one process, 0.8 MB (LSTM 192) 1.05x, 0.9 MB
# (2 x LSTM 128) 1.1x, 1 MB (LSTM 256) 1.4x, 3 MB (the default 2 x LSTM 256) 2.3x.
SPLIT_MIN_BYTES = 3 << 18
SPLIT_MIN_CHARS = 2000

_UNIFORMS_BLOCK = 1024  # uniforms are drawn this many steps at a time
_BLOCK = 64  # steps per timed block (two-process sampling)


def check_sampling_args(n_chars, prime, temperature, top_k, n_samples, n_symbols):
    """Refuse arguments of ``sample`` that are out of range, naming the one at fault."""
    if not is_int(n_chars) or n_chars < 0:
        raise ValueError(f"n_chars must be an integer >= 0 (0 gives ''), got {n_chars!r}.")
    if not is_int(n_samples) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}.")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, Real)
        or not 0 <= temperature < math.inf
    ):
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 is greedy, 1 samples the model's "
            f"distribution), got {temperature!r}."
        )
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ValueError(
            f"top_k must be None or an integer >= 1 (values >= n_classes_={n_symbols} keep every "
            f"character), got {top_k!r}."
        )
    if not isinstance(prime, str):
        raise TypeError(f"prime must be a str, got {type(prime).__name__}; decode bytes first.")


def two_processes_pay(net, n_chars, n_jobs):
    """Whether to sample ``n_chars`` on two processes (:mod:`skrnn.rnn.split_step`).

    When ``n_jobs`` allows two, the weights read per character are large
    enough (the default 2-layer LSTM-256 reads 3 MB, more than one core's L2
    cache) and the sample is long enough to repay starting the second process.
    """
    weight_bytes = sum(layer.Wx.nbytes + layer.Whb.nbytes for layer in net.layers)
    return (
        n_chars >= SPLIT_MIN_CHARS
        and weight_bytes > SPLIT_MIN_BYTES
        and split_step.available()
        and n_processes(n_jobs) >= 2
    )


def sample_ids(
    net,
    n_chars,
    prime_ids,
    start_logprobs,
    *,
    temperature=1.0,
    top_k=None,
    n_samples=1,
    rng,
    window=50,
    two_processes=False,
    out_dtype=np.intp,
):
    """Ids ``(n_samples, n_chars)`` drawn from ``net`` after reading ``prime_ids``.

    Parameters
    ----------
    net : CharRNN
        Only read: its work arrays should be the caller's own
        (:meth:`CharRNN.inference_copy`).
    n_chars : int
    prime_ids : ndarray of int
        Read first, in windows of ``window`` steps; may be empty.
    start_logprobs : ndarray of shape (n_symbols,)
        The first draw's log-probabilities when there is no prime.
    temperature : float
        0 is greedy.
    top_k : int or None
    n_samples : int
    rng : numpy.random.Generator
    two_processes : bool
        Step the network on two processes (see the module docstring).
    """
    V = net.n_symbols
    out = np.empty((n_samples, n_chars), dtype=out_dtype)
    if n_chars == 0:
        return out
    state = net.zero_state(n_samples)
    if len(prime_ids):
        x = np.repeat(prime_ids.astype(np.intp)[:, None], n_samples, axis=1)
        for a in range(0, len(x), window):
            top = net.forward(x[a : a + window], state)
        logits = net.logits(top[-1])
    else:
        logits = np.repeat(start_logprobs[None, :], n_samples, axis=0)
    step_state = net.step_state(state)
    inv_t = math.inf if temperature == 0 else 1.0 / temperature
    greedy = inv_t == math.inf  # 0, or so small that 1 / temperature overflows
    filter_k = top_k is not None and top_k < V and not greedy
    one = n_samples == 1  # one stream: 1-D arrays and scalars, fewer NumPy calls per character
    ids = np.zeros(n_samples, dtype=np.intp)
    # After the fork both processes pay for first touches (copy-on-write) for a few blocks.
    pacer = Pacer(warmup=4, window=3, references=1) if two_processes else None
    stepper = None
    with contextlib.ExitStack() as stack:
        if (
            inv_t > 1.0
        ):  # low temperatures: logits far below the maximum overflow to -inf, probability 0
            stack.enter_context(np.errstate(over="ignore"))
        tic = time.perf_counter()
        for t in range(n_chars):
            if greedy:
                ids = np.argmax(logits, axis=1)
            else:
                z = logits[0].astype(np.float64) if one else logits.astype(np.float64)
                z -= z.max() if one else z.max(axis=1, keepdims=True)
                if inv_t != 1.0:
                    z *= inv_t
                if filter_k:
                    kth = np.partition(z, V - top_k, axis=-1)[..., V - top_k]
                    z[z < (kth if one else kth[:, None])] = -np.inf
                cdf = np.cumsum(np.exp(z, out=z), axis=-1, out=z)
                # Inverse-CDF draw: the number of cumulative weights <= u * total.
                # Uniforms come in blocks of rows, one row per step: the same
                # stream as drawing them all at once, in bounded memory.
                if t % _UNIFORMS_BLOCK == 0:
                    uniforms = rng.random((min(_UNIFORMS_BLOCK, n_chars - t), n_samples))
                if one:
                    ids[0] = min(
                        cdf.searchsorted(uniforms[t % _UNIFORMS_BLOCK, 0] * cdf[-1], side="right"),
                        V - 1,
                    )
                else:
                    u = uniforms[t % _UNIFORMS_BLOCK] * cdf[:, -1]
                    ids = np.minimum((cdf <= u[:, None]).sum(axis=1), V - 1)
            if one:
                out[0, t] = ids[0]
            else:
                out[:, t] = ids
            if t + 1 == n_chars:
                break
            if pacer is not None and t % _BLOCK == 0 and t > 0:
                seconds, tic = time.perf_counter() - tic, time.perf_counter()
                if stepper is None:  # the first block, on one process: the reference
                    pacer.reference(seconds)
                    stepper = _start_stepper(net, step_state, stack)
                    if stepper is None:
                        pacer = None
                elif stepper is not None and not pacer.parallel(seconds):
                    step_state = stepper.step_state()  # hand the state back to this process
                    stepper.close()
                    stepper = pacer = None
            logits = stepper.step(ids) if stepper is not None else net.step(ids, step_state)
    return out


def _start_stepper(net, step_state, stack):
    """A :class:`SplitStepper` closed with ``stack``, or None (with a warning) if the fork fails."""
    try:
        with (
            _fork.deferred_interrupts()
        ):  # a Ctrl-C between start and enter_context would leave the child
            return stack.enter_context(SplitStepper(net, step_state))
    except OSError as exc:
        warnings.warn(
            f"The second sampling process could not be started ({exc}); sampling in one process.",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
