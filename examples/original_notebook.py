"""The two experiments of the lesson skrnn grew from, written with skrnn.

1. **IMDB sentiment with an LSTM**, Keras's classic example: 20,000-word
   vocabulary, reviews cut to 80 tokens, Embedding 128, LSTM 128 with dropout
   0.2 and recurrent dropout 0.2, batch 32, Adam. The lesson trained it for 15
   epochs; test accuracy peaks after the first one (about 0.83) and then drops
   as the model overfits, so we train it epoch by epoch with ``partial_fit``
   and score the test set after each epoch. Next to it:
   ``LSTMSentimentClassifier()`` with skrnn's defaults.
2. **A character-level vanilla RNN**, Karpathy's min-char-rnn: tanh cell,
   hidden 500, windows of 40 characters, Adagrad with learning rate 0.1, one
   sequence at a time (``batch_size=1``). Next to it: ``CharRNNGenerator()``
   with skrnn's defaults (a 2-layer LSTM of 256, batches of 64, Adam), given
   the same training time. Both are scored on the last 10% of Tiny
   Shakespeare, held out (log-likelihood in nats per character: higher is
   better).

Prints both tables and writes ``original_notebook.png``.

Run time on 2 CPU cores: roughly 30 minutes (the original IMDB model's 3
epochs with recurrent dropout, skrnn's default classifier, 2 x 4 minutes of
character models); ``--quick`` (2,000 / 1,000 reviews and 2 epochs, 3 epochs
of each character model on 45,000 characters; see ``QUICK_*`` below) 1 to 2
minutes (56-93 s measured with other jobs running on the 2 cores; most of it
is the IMDB models).
"""

import argparse
import os
import time

import numpy as np

from skrnn import CharRNNGenerator, LSTMSentimentClassifier, load_imdb, load_tiny_shakespeare

ORIGINAL_IMDB = dict(
    max_features=20000,
    maxlen=80,
    truncating="pre",  # keras pad_sequences' default: keep the last 80 tokens
    embedding_dim=128,
    hidden_size=128,
    dropout=0.2,
    recurrent_dropout=0.2,
    batch_size=32,
    learning_rate=0.001,  # Keras's Adam default
    pooling="last",  # the final LSTM state feeds the output
    # none of skrnn's additions:
    embedding_dropout=0.0,
    output_dropout=0.0,
    bigram_buckets=0,
    ema_momentum=None,
    early_stopping=False,
    paths="lstm",  # the LSTM alone: no n-gram path next to it
)
ORIGINAL_CHAR_RNN = dict(
    cell="rnn",
    hidden_size=500,
    n_layers=1,
    seq_length=40,
    optimizer="adagrad",
    learning_rate=0.1,
    batch_size=1,
)


# --quick: IMDB subsets and epochs; the character models train for a fixed
# number of epochs instead of a time budget, so that a busy machine changes
# how long they take but not what they learn. One sequence at a time,
# min-char-rnn's RNN of 500 trains at about 1,000 characters per second, so
# the quick run uses the sizes of Karpathy's file (100 units, windows of 25).
QUICK_TRAIN, QUICK_TEST, QUICK_EPOCHS = 2000, 1000, 2
QUICK_DEFAULTS = dict(max_iter=QUICK_EPOCHS)
QUICK_CHAR_TEXT, QUICK_CHAR_EPOCHS = 50_000, 3
QUICK_CHAR_RNN = dict(hidden_size=100, seq_length=25)


def subset(texts, labels, n, seed=0):
    if n >= len(texts):
        return texts, labels
    idx = np.random.default_rng(seed).choice(len(texts), size=n, replace=False)
    return [texts[i] for i in idx], labels[idx]


def imdb_experiment(quick):
    X_train, y_train = load_imdb("train")
    X_test, y_test = load_imdb("test")
    n_epochs = QUICK_EPOCHS if quick else 3
    if quick:
        X_train, y_train = subset(X_train, y_train, QUICK_TRAIN)
        X_test, y_test = subset(X_test, y_test, QUICK_TEST)
    rows = []

    original = LSTMSentimentClassifier(**ORIGINAL_IMDB, random_state=0)
    training_time = 0.0
    for epoch in range(1, n_epochs + 1):
        start = time.perf_counter()
        original.partial_fit(X_train, y_train, classes=[0, 1])  # one more epoch
        training_time += time.perf_counter() - start
        accuracy = original.score(X_test, y_test)
        print(
            f"original configuration, epoch {epoch}: "
            f"test accuracy {accuracy:.4f} ({training_time:.0f} s)"
        )
        rows.append((f"original, {epoch} epoch(s)", epoch, training_time, accuracy))

    defaults = LSTMSentimentClassifier(random_state=0)
    name = "skrnn defaults"
    if quick:
        defaults.set_params(**QUICK_DEFAULTS)
        name += " (" + ", ".join(f"{k}={v}" for k, v in QUICK_DEFAULTS.items()) + ")"
    start = time.perf_counter()
    defaults.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    accuracy = defaults.score(X_test, y_test)
    rows.append((name, defaults.n_iter_, elapsed, accuracy))

    print(f"\nIMDB sentiment, {len(X_train):,} training / {len(X_test):,} test reviews")
    print("| model | epochs | training time (s) | test accuracy |")
    print("| --- | ---: | ---: | ---: |")
    for name, epochs, seconds, acc in rows:
        print(f"| {name} | {epochs} | {seconds:.0f} | {acc:.4f} |")
    return rows


def char_experiment(quick):
    text = load_tiny_shakespeare()
    if quick:
        text = text[:QUICK_CHAR_TEXT]
    split = int(len(text) * 0.9)
    train, held_out = text[:split], text[split:]
    # The same training time for both (a fixed number of epochs with --quick).
    budget = dict(max_iter=QUICK_CHAR_EPOCHS) if quick else dict(max_time=240)
    original = {**ORIGINAL_CHAR_RNN, **(QUICK_CHAR_RNN if quick else {})}
    original_name = "min-char-rnn (original)"
    if quick:
        original_name = (
            f"min-char-rnn (original, RNN {original['hidden_size']}, "
            f"windows of {original['seq_length']})"
        )
    models = [
        (original_name, CharRNNGenerator(**original, **budget, random_state=0)),
        ("skrnn defaults", CharRNNGenerator(**budget, random_state=0)),
    ]
    rows = []
    for name, model in models:
        start = time.perf_counter()
        model.fit(train)
        elapsed = time.perf_counter() - start
        score = model.score(held_out)
        sample = model.sample(120, prime="ROMEO:", temperature=0.8, random_state=0)
        rows.append((name, model.n_iter_, elapsed, score, model.n_classes_))
        print(f"\n{name} after {elapsed:.0f} s:\n{sample}")

    print(
        f"\nTiny Shakespeare, {len(train):,} training characters, "
        f"scored on the last {len(held_out):,}"
    )
    print(
        "| model | epochs | training time (s) | held-out log-likelihood (nats/char) | bits/char |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, epochs, seconds, score, _ in rows:
        print(f"| {name} | {epochs} | {seconds:.0f} | {score:.3f} | {-score / np.log(2):.3f} |")
    return rows


def plot(path, imdb_rows, char_rows):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib).")
        return
    import textwrap

    def labels(rows):
        return [textwrap.fill(row[0], 22) for row in rows]

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    # Accuracy on its whole range, with chance (the test subset is balanced) marked.
    accuracies = [row[3] for row in imdb_rows]
    bars = left.bar(range(len(imdb_rows)), accuracies, color="#4C72B0")
    left.bar_label(bars, [f"{a:.3f}" for a in accuracies])
    left.axhline(0.5, color="gray", ls="--", lw=1, label="chance (balanced classes)")
    left.set_xticks(range(len(imdb_rows)), labels(imdb_rows))
    left.set_ylim(0, 1)
    left.set_ylabel("test accuracy (fraction of reviews)")
    left.set_title("IMDB sentiment: higher is better")
    left.legend(loc="upper left")

    # Bits per character from 0 (perfect) up past a uniform guess over the vocabulary.
    bits = [-row[3] / np.log(2) for row in char_rows]
    uniform = np.log2(char_rows[0][4])
    bars = right.bar(range(len(char_rows)), bits, color="#DD8452")
    right.bar_label(bars, [f"{b:.2f}" for b in bits])
    right.axhline(
        uniform,
        color="gray",
        ls="--",
        lw=1,
        label=f"uniform guess over {char_rows[0][4]} characters",
    )
    right.set_xticks(range(len(char_rows)), labels(char_rows))
    right.set_ylim(0, max(uniform, *bits) * 1.15)
    right.set_ylabel("held-out bits per character")
    right.set_title("Tiny Shakespeare: lower is better")
    right.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nSaved the plot to {path}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small subsets and a few epochs: a smoke run"
    )
    parser.add_argument(
        "--output-dir", default="results/original_notebook", help="where the plot goes"
    )
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)

    imdb_rows = imdb_experiment(args.quick)
    char_rows = char_experiment(args.quick)
    plot(os.path.join(args.output_dir, "original_notebook.png"), imdb_rows, char_rows)


if __name__ == "__main__":
    main()
