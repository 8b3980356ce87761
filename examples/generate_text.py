"""Train a character-level LSTM on a corpus and let it write.

Trains :class:`skrnn.CharRNNGenerator` (default parameters: a 2-layer LSTM of
256 units, Adam, early stopping on the last 10% of the text) on Tiny
Shakespeare or on any UTF-8 text file, prints samples at several
temperatures, and plots the learning curve (training and validation loss per
epoch, in nats per character) to ``learning_curve.png``. The model is saved to
the folder ``char_rnn_model`` (``CharRNNGenerator.save``: JSON and ``.npz``, no
pickle), so that ``skrnn generate`` can sample from it later.

Run time on 2 CPU cores: about 10 minutes with the default ``--max-time 600``
on Tiny Shakespeare; ``--quick`` (200,000 characters, a 1-layer model, 10
seconds of training) 13-18 seconds, measured with other jobs running on the
2 cores.
"""

import argparse
import os

import numpy as np

from skrnn import CharRNNGenerator, load_tiny_shakespeare

TEMPERATURES = [0.2, 0.5, 0.8, 1.0, 1.3]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small model on 200,000 characters for 10 s: a smoke run",
    )
    parser.add_argument(
        "--output-dir", default="results/generate_text", help="where the plot and the model go"
    )
    parser.add_argument(
        "--corpus", default=None, help="a UTF-8 text file (default: Tiny Shakespeare)"
    )
    parser.add_argument(
        "--max-time", type=float, default=600, help="training budget in seconds (default: 600)"
    )
    parser.add_argument(
        "--prime", default="ROMEO:", help="text the samples continue (default: 'ROMEO:')"
    )
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)

    if args.corpus:
        with open(args.corpus, encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = load_tiny_shakespeare()
    if args.quick:
        text = text[:200_000]
        model = CharRNNGenerator(
            hidden_size=128, n_layers=1, max_iter=10, max_time=10, random_state=0, verbose=1
        )
        n_chars = 200
    else:
        model = CharRNNGenerator(max_time=args.max_time, random_state=0, verbose=1)
        n_chars = 600

    print(f"Training on {len(text):,} characters: {model}")
    model.fit(text)
    best = max(model.validation_scores_)
    print(
        f"{model.n_iter_} epochs; best validation loss {-best:.3f} nats/char "
        f"({-best / np.log(2):.3f} bits/char)\n"
    )

    for temperature in TEMPERATURES:
        sample = model.sample(n_chars, prime=args.prime, temperature=temperature, random_state=0)
        print(f"--- temperature {temperature} ---")
        print(args.prime + sample)  # sample() returns what follows the prime
        print()

    print("| epoch | training loss (nats/char) | validation loss (nats/char) |")
    print("| ---: | ---: | ---: |")
    # An interrupted last epoch has no validation score: its row is left out.
    curves = zip(model.loss_curve_, model.validation_scores_, strict=False)
    for epoch, (train, valid) in enumerate(curves, 1):
        print(f"| {epoch} | {train:.3f} | {-valid:.3f} |")

    model_path = os.path.join(args.output_dir, "char_rnn_model")
    model.save(model_path)
    print(f"\nSaved the model to {model_path} (try: skrnn generate {model_path} --temperature 0.7)")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib).")
        return
    from matplotlib.ticker import MaxNLocator

    epochs = range(1, len(model.loss_curve_) + 1)
    uniform = np.log(model.n_classes_)  # the loss of a uniform guess over the vocabulary
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(epochs, model.loss_curve_, "o-", label="training")
    ax.plot(
        epochs,
        [-s for s in model.validation_scores_],
        "o-",
        label="validation (last 10% of the text)",
    )
    ax.axhline(
        uniform,
        color="gray",
        ls="--",
        lw=1,
        label=f"uniform guess over {model.n_classes_} characters",
    )
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are counted: no 1.5
    ax.set_xlim(0.5, len(model.loss_curve_) + 0.5)
    ax.set_ylabel("loss (nats per character)")
    ax.set_ylim(0, max(uniform, *model.loss_curve_) * 1.08)  # from 0, the lowest possible loss
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("CharRNNGenerator learning curve")
    ax.legend(loc="lower left")
    fig.tight_layout()
    plot_path = os.path.join(args.output_dir, "learning_curve.png")
    fig.savefig(plot_path, dpi=110)
    print(f"Saved the learning curve to {plot_path}")


if __name__ == "__main__":
    main()
