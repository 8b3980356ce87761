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
character models); ``--quick`` (small subsets, 1 epoch, 8 s per character
model) about 30 seconds.
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


def subset(texts, labels, n, seed=0):
    if n >= len(texts):
        return texts, labels
    idx = np.random.default_rng(seed).choice(len(texts), size=n, replace=False)
    return [texts[i] for i in idx], labels[idx]


def imdb_experiment(quick):
    X_train, y_train = load_imdb("train")
    X_test, y_test = load_imdb("test")
    n_epochs = 1 if quick else 3
    if quick:
        X_train, y_train = subset(X_train, y_train, 500)
        X_test, y_test = subset(X_test, y_test, 500)
    rows = []

    original = LSTMSentimentClassifier(**ORIGINAL_IMDB, random_state=0)
    training_time = 0.0
    for epoch in range(1, n_epochs + 1):
        start = time.perf_counter()
        original.partial_fit(X_train, y_train, classes=[0, 1])  # one more epoch
        training_time += time.perf_counter() - start
        accuracy = original.score(X_test, y_test)
        print(f"original configuration, epoch {epoch}: test accuracy {accuracy:.4f} ({training_time:.0f} s)")
        rows.append((f"original, {epoch} epoch(s)", epoch, training_time, accuracy))

    defaults = LSTMSentimentClassifier(random_state=0)
    if quick:
        defaults.set_params(max_iter=1)
    start = time.perf_counter()
    defaults.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    accuracy = defaults.score(X_test, y_test)
    rows.append(("skrnn defaults" + (" (max_iter=1)" if quick else ""), defaults.n_iter_, elapsed, accuracy))

    print(f"\nIMDB sentiment, {len(X_train):,} training / {len(X_test):,} test reviews")
    print("| model | epochs | training time (s) | test accuracy |")
    print("| --- | ---: | ---: | ---: |")
    for name, epochs, seconds, acc in rows:
        print(f"| {name} | {epochs} | {seconds:.0f} | {acc:.4f} |")
    return rows


def char_experiment(quick):
    text = load_tiny_shakespeare()
    if quick:
        text = text[:50_000]
    split = int(len(text) * 0.9)
    train, held_out = text[:split], text[split:]
    budget = 8 if quick else 240
    models = [
        ("min-char-rnn (original)", CharRNNGenerator(**ORIGINAL_CHAR_RNN, max_time=budget, random_state=0)),
        ("skrnn defaults", CharRNNGenerator(max_time=budget, random_state=0)),
    ]
    rows = []
    for name, model in models:
        start = time.perf_counter()
        model.fit(train)
        elapsed = time.perf_counter() - start
        score = model.score(held_out)
        sample = model.sample(120, prime="ROMEO:", temperature=0.8, random_state=0)
        rows.append((name, model.n_iter_, elapsed, score))
        print(f"\n{name} after {elapsed:.0f} s:\n{sample}")

    print(f"\nTiny Shakespeare, {len(train):,} training characters, scored on the last {len(held_out):,}")
    print("| model | epochs | training time (s) | held-out log-likelihood (nats/char) | bits/char |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, epochs, seconds, score in rows:
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
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [row[0] for row in imdb_rows]
    bars = left.bar(range(len(names)), [row[3] for row in imdb_rows], color="#4C72B0")
    left.bar_label(bars, [f"{row[3]:.3f}" for row in imdb_rows])
    left.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    left.set_ylim(0.5, 1.0)
    left.set_title("IMDB test accuracy")
    names = [row[0] for row in char_rows]
    bits = [-row[3] / np.log(2) for row in char_rows]
    bars = right.bar(range(len(names)), bits, color="#DD8452")
    right.bar_label(bars, [f"{b:.2f}" for b in bits])
    right.set_xticks(range(len(names)), names, fontsize=8)
    right.set_title("Tiny Shakespeare held-out bits/char (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nSaved the plot to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small subsets, 1 epoch, 8 s per character model")
    parser.add_argument("--output-dir", default="results/original_notebook", help="where the plot goes")
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)

    imdb_rows = imdb_experiment(args.quick)
    char_rows = char_experiment(args.quick)
    plot(os.path.join(args.output_dir, "original_notebook.png"), imdb_rows, char_rows)


if __name__ == "__main__":
    main()
