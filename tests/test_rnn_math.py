"""The NumPy recurrent math: exact gradients, batching, optimizers."""

import itertools
import pickle

import numpy as np
import pytest

from skrnn.rnn import Adagrad, Adam, CharRNN, clip_grad_norm_
from skrnn.rnn.cells import sigmoid_

V, H, T, B = 5, 4, 6, 3


def make_net(cell, n_layers, dropout=0.0, dtype=np.float64, seed=0):
    net = CharRNN(V, H, n_layers, cell, dropout=dropout, dtype=dtype)
    rng = np.random.default_rng(seed)
    net.init_params(rng)
    # Move away from the symmetric start so every path carries gradient.
    net.params += rng.normal(0.0, 0.3, net.n_params).astype(net.dtype)
    return net


def random_window(seed=1, T=T, B=B):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))


def random_state(net, seed=2):
    rng = np.random.default_rng(seed)
    return [
        [rng.normal(0.0, 0.5, a.shape).astype(net.dtype) for a in layer]
        for layer in net.zero_state(B)
    ]


def copy_state(state):
    return [[a.copy() for a in layer] for layer in state]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("n_layers, dropout", [(1, 0.0), (2, 0.0), (2, 0.3)])
def test_gradients_match_finite_differences(cell, n_layers, dropout):
    net = make_net(cell, n_layers, dropout)
    x, y = random_window()
    state0 = random_state(net)  # a non-zero carried-in state must not break the gradient

    def loss():
        # The same dropout masks for every evaluation.
        return net.loss_and_grads(x, y, copy_state(state0), rng=np.random.default_rng(3))

    loss()
    analytic = net.grads.copy()
    numeric = np.empty_like(analytic)
    eps = 1e-5
    for k in range(net.n_params):
        old = net.params[k]
        net.params[k] = old + eps
        plus = loss()
        net.params[k] = old - eps
        minus = loss()
        net.params[k] = old
        numeric[k] = (plus - minus) / (2 * eps)
    assert np.abs(analytic).max() > 1e-3  # the check is not vacuous
    rel = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    assert rel < 1e-6, f"{cell} x{n_layers}: relative gradient error {rel:.2e}"
    # Every parameter block gets gradient.
    offset = 0
    for name, view in net.named_params():
        block = analytic[offset : offset + view.size]
        offset += view.size
        assert np.abs(block).max() > 0, name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_window_forward_equals_step_by_step_and_per_stream(cell):
    net = make_net(cell, 2)
    x, y = random_window(T=12)
    state0 = random_state(net)

    whole = net.log_likelihood(x, y, s_whole := copy_state(state0))

    s_steps = copy_state(state0)
    steps = np.concatenate(
        [net.log_likelihood(x[t : t + 1], y[t : t + 1], s_steps) for t in range(12)]
    )
    np.testing.assert_allclose(steps, whole, rtol=1e-12, atol=1e-12)

    s_halves = copy_state(state0)
    halves = np.concatenate(
        [net.log_likelihood(x[:5], y[:5], s_halves), net.log_likelihood(x[5:], y[5:], s_halves)]
    )
    np.testing.assert_allclose(halves, whole, rtol=1e-12, atol=1e-12)
    for a, b in zip(itertools.chain(*s_whole), itertools.chain(*s_halves), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

    # Each stream of the batch is computed as if it were alone.
    for b in range(B):
        alone = [[a[b : b + 1].copy() for a in layer] for layer in state0]
        single = net.log_likelihood(x[:, b : b + 1], y[:, b : b + 1], alone)
        np.testing.assert_allclose(single[:, 0], whole[:, b], rtol=1e-12, atol=1e-12)


def test_training_loss_equals_evaluation_loss_without_dropout():
    net = make_net("lstm", 2)
    x, y = random_window()
    loss = net.loss_and_grads(x, y, net.zero_state(B))
    np.testing.assert_allclose(
        loss, -net.log_likelihood(x, y, net.zero_state(B)).mean(), rtol=1e-12
    )


def test_dropout_only_in_training_and_keeps_expectation():
    net = make_net("gru", 2, dropout=0.5)
    x, y = random_window()
    a = net.log_likelihood(x, y, net.zero_state(B))
    b = net.log_likelihood(x, y, net.zero_state(B))
    np.testing.assert_array_equal(a, b)  # evaluation is deterministic
    l1 = net.loss_and_grads(x, y, net.zero_state(B), rng=np.random.default_rng(0))
    l2 = net.loss_and_grads(x, y, net.zero_state(B), rng=np.random.default_rng(1))
    assert l1 != l2  # different masks
    mask = net._buffers(T, B)["U"][0]
    assert set(np.unique(mask)) <= {0.0, 2.0}  # inverted dropout: kept units scaled by 1/(1-p)


def test_float32_throughout():
    net = CharRNN(V, 8, 2, "lstm", dtype=np.float32).init_params(np.random.default_rng(0))
    x, y = random_window()
    net.loss_and_grads(x, y, net.zero_state(B))
    assert net.params.dtype == net.grads.dtype == np.float32
    assert net.forward(x, net.zero_state(B)).dtype == np.float32
    assert all(w.dtype == np.float32 for _, w in net.named_params())


def test_parameters_are_views_of_one_vector_and_survive_pickle():
    net = make_net("lstm", 2)
    x, y = random_window()
    net.log_likelihood(x, y, net.zero_state(B))  # allocates work arrays
    blob = pickle.dumps(net)
    assert len(blob) < net.params.nbytes + 5000  # no work arrays in the pickle
    clone = pickle.loads(blob)
    assert clone._workspaces == {} and all(layer._workspaces == {} for layer in clone.layers)
    np.testing.assert_array_equal(clone.params, net.params)
    np.testing.assert_array_equal(
        clone.log_likelihood(x, y, clone.zero_state(B)), net.log_likelihood(x, y, net.zero_state(B))
    )
    clone.params[:] = 0.0  # the layers' weights are views of the flat vector
    assert not clone.layers[1].Wh.any() and not clone.Wy.any()


def test_sigmoid_via_tanh():
    x = np.linspace(-30, 30, 101)
    np.testing.assert_allclose(sigmoid_(x.copy()), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-15)


def test_adam_matches_the_textbook_update():
    rng = np.random.default_rng(0)
    p = rng.normal(size=7)
    ref = p.copy()
    opt = Adam(7, learning_rate=0.01, dtype=np.float64)
    m = v = np.zeros(7)
    for t in range(1, 4):
        g = rng.normal(size=7)
        opt.step(p, g)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(p, ref, rtol=1e-10)


def test_adagrad_matches_min_char_rnn():
    rng = np.random.default_rng(0)
    p = rng.normal(size=7)
    ref = p.copy()
    opt = Adagrad(7, learning_rate=0.1, dtype=np.float64)
    mem = np.zeros(7)
    for _ in range(3):
        g = rng.normal(size=7)
        opt.step(p, g)
        mem += g * g
        ref -= 0.1 * g / np.sqrt(mem + 1e-8)
    np.testing.assert_allclose(p, ref, rtol=1e-6)


def test_clip_grad_norm():
    g = np.array([3.0, 4.0])
    assert clip_grad_norm_(g, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])
    assert clip_grad_norm_(g, 1.0) == pytest.approx(5.0)
    assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(g / np.linalg.norm(g), [0.6, 0.8])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generation_step_equals_window_forward(cell):
    net = make_net(cell, 2)
    x, _ = random_window()
    state0 = random_state(net)
    top = net.forward(x, copy_state(state0)).copy()
    stepping = net.step_state(copy_state(state0))
    for t in range(T):
        logits = net.step(x[t], stepping)
        np.testing.assert_allclose(logits, net.logits(top[t]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_shorter_window_after_a_longer_one(cell):
    # The end of an epoch: work arrays sized for a longer window are reused through views.
    net = make_net(cell, 2)
    x, y = random_window(T=9)
    net.loss_and_grads(x, y, random_state(net))
    short = net.loss_and_grads(x[:4], y[:4], random_state(net))
    grads = net.grads.copy()
    fresh = make_net(cell, 2)
    np.testing.assert_allclose(
        fresh.loss_and_grads(x[:4], y[:4], random_state(fresh)), short, rtol=1e-12
    )
    np.testing.assert_allclose(fresh.grads, grads, rtol=1e-10, atol=1e-12)
