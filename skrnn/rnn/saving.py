"""A network and its optimizer as JSON-ready numbers plus named arrays, and back.

What :meth:`skrnn.CharRNNGenerator.save` writes: the network's shape and the
optimizer's scalars go to JSON, the weights and the optimizer's moment vectors
to ``.npz`` arrays. Reading checks every shape against the declared network
before anything large is allocated, and sets only fields the optimizer has,
of the kind it has: the file chooses values, never code.
"""

from numbers import Real

import numpy as np

from ..validation import is_int
from .cells import CELLS
from .network import CharRNN
from .optim import OPTIMIZERS

__all__ = ["network_arrays", "network_config", "read_network"]


def _optimizer_fields(optimizer, kind):
    """The optimizer's public fields that are arrays (``kind=np.ndarray``) or numbers."""
    types = (np.ndarray,) if kind is np.ndarray else (Real, np.number)
    return [
        (key, value)
        for key, value in vars(optimizer).items()
        if isinstance(value, types) and not key.startswith("_")
    ]


def network_config(net, optimizer):
    """The network's shape and the optimizer's name and scalars, for JSON."""
    config = {
        "network": {
            "cell": net.cell,
            "hidden_size": net.hidden_size,
            "n_layers": net.n_layers,
            "dtype": net.params.dtype.str,
        },
        "optimizer": None,
    }
    if optimizer is not None:
        name = next(k for k, cls in OPTIMIZERS.items() if type(optimizer) is cls)
        scalars = {
            key: value.item() if isinstance(value, np.generic) else value
            for key, value in _optimizer_fields(optimizer, Real)
        }
        config["optimizer"] = {"name": name, "scalars": scalars}
    return config


def network_arrays(net, optimizer):
    """The weights and the optimizer's vectors, by name."""
    arrays = {"params": net.params}
    if optimizer is not None:
        arrays.update(
            (f"optimizer.{key}", value) for key, value in _optimizer_fields(optimizer, np.ndarray)
        )
    return arrays


def copy_checked(target, saved, name):
    """Copy a saved array into ``target``, checking that its shape matches."""
    if saved.shape != target.shape:
        raise ValueError(f"the saved {name} has shape {saved.shape}, expected {target.shape}")
    target[...] = saved


def read_network(config, arrays, n_symbols, dropout):
    """The :class:`CharRNN` and optimizer (or None) that :func:`network_config` and
    :func:`network_arrays` describe; ``ValueError`` or ``KeyError`` when they do not fit."""
    shape = config["network"]
    dtype = np.dtype(shape["dtype"])
    if dtype.kind != "f":
        raise ValueError(f"the weights' dtype is {dtype}, expected a float dtype")
    cell, hidden_size, n_layers = shape["cell"], shape["hidden_size"], shape["n_layers"]
    if cell not in CELLS or not all(is_int(v) and v >= 1 for v in (hidden_size, n_layers)):
        raise ValueError(f"the network is {shape}, not a cell with positive integer sizes")
    # Checked before anything is allocated: the size must be the one of the saved weights.
    expected = CharRNN.count_params(n_symbols, hidden_size, n_layers, cell)
    if arrays["params"].size != expected:
        raise ValueError(
            f"a {n_layers} x {cell} {hidden_size} network has {expected} parameters, the saved "
            f"weights {arrays['params'].size}"
        )
    net = CharRNN(n_symbols, hidden_size, n_layers, cell, dropout, dtype=dtype)
    copy_checked(net.params, arrays["params"], "params")
    if config["optimizer"] is None:
        return net, None
    optimizer = OPTIMIZERS[config["optimizer"]["name"]](net.n_params)
    numbers = dict(_optimizer_fields(optimizer, Real))
    vectors = dict(_optimizer_fields(optimizer, np.ndarray))
    for key, value in config["optimizer"]["scalars"].items():
        if key not in numbers or not isinstance(value, Real):
            raise ValueError(f"the optimizer has no number {key!r}")
        setattr(optimizer, key, value)
    for key in arrays:
        if key.startswith("optimizer."):
            name = key[len("optimizer.") :]
            if name not in vectors:
                raise ValueError(f"the optimizer has no array {name!r}")
            copy_checked(vectors[name], arrays[key], key)
    return net, optimizer
