"""Choose the hidden size of both estimators with scikit-learn's GridSearchCV.

Both skrnn estimators are ordinary scikit-learn estimators, so model selection
is the usual ``GridSearchCV``:

1. :class:`skrnn.LSTMSentimentClassifier` on a subset of the IMDB training
   reviews, scored by accuracy (3-fold cross-validation);
2. :class:`skrnn.CharRNNGenerator` on Tiny Shakespeare cut into documents,
   scored by its ``score`` method: the mean log-likelihood per character in
   nats (higher is better), with ``y=None``.

Prints the results table of each search and plots the cross-validated score
against the hidden size (``grid_search_hidden.png``). The searches only
compare scores, so they do not refit the best model (``refit=False``).

Run time on 2 CPU cores: roughly 20 minutes (9 classifier fits of 3 epochs
on 2,667 reviews, 9 generator fits of 40 s each); ``--quick`` (small models
on 2,000 reviews and 60,000 characters, 2-fold, no refit) about a minute
(43-59 s measured with other jobs running on the 2 cores).
"""

import argparse
import os
import warnings

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from skrnn import CharRNNGenerator, LSTMSentimentClassifier, load_imdb, load_tiny_shakespeare


def search_classifier(quick):
    texts, labels = load_imdb("train")
    n = 2000 if quick else 4000
    rng = np.random.default_rng(0)
    idx = rng.choice(
        len(texts), size=n, replace=False
    )  # a random subset: both classes, many movies
    X, y = [texts[i] for i in idx], labels[idx]
    if quick:
        # Small and fast, and explicit: the LSTM alone (no n-gram path, no
        # bigram branch, no dropout) on the first 100 tokens, with a high
        # learning rate, learns well above chance from 1,000 reviews in 3 epochs.
        estimator = LSTMSentimentClassifier(
            paths="lstm",
            max_features=5000,
            maxlen=100,
            embedding_dim=32,
            pooling="max_mean",
            bigram_buckets=0,
            embedding_dropout=0.0,
            output_dropout=0.0,
            ema_momentum=None,
            learning_rate=0.01,
            batch_size=32,
            max_iter=3,
            early_stopping=False,
            random_state=0,
        )
        grid = {"hidden_size": [8, 32]}
    else:
        # hidden_size is the LSTM's: search it on the LSTM alone, without the n-gram path.
        estimator = LSTMSentimentClassifier(paths="lstm", max_iter=3, random_state=0)
        grid = {"hidden_size": [32, 64, 128]}
    search = GridSearchCV(estimator, grid, cv=2 if quick else 3, scoring="accuracy", refit=False)
    search.fit(X, y)
    return search


def search_generator(quick):
    text = load_tiny_shakespeare()
    if quick:
        text = text[:60_000]
    # Cross-validation needs several documents: cut the corpus into 30 pieces
    # (KFold keeps them in order, so each fold holds out a contiguous stretch).
    n_docs = 30
    size = len(text) // n_docs
    docs = [text[i * size : (i + 1) * size] for i in range(n_docs)]
    if quick:
        # 16 streams instead of 64: about 270 updates in 8 passes over 27,000 characters.
        estimator = CharRNNGenerator(
            n_layers=1, batch_size=16, max_iter=8, seq_length=50, random_state=0
        )
        grid = {"hidden_size": [16, 64]}
    else:
        estimator = CharRNNGenerator(n_layers=1, max_time=40, random_state=0)
        grid = {"hidden_size": [64, 128, 256]}
    cv = KFold(n_splits=2 if quick else 3)
    report_unseen_characters(docs, cv)
    search = GridSearchCV(estimator, grid, cv=cv, refit=False)  # scored by CharRNNGenerator.score
    with warnings.catch_warnings():
        # Reported once above, instead of once per fit.
        warnings.filterwarnings("ignore", message=r".*not in the vocabulary learned by fit")
        search.fit(docs)
    search.n_characters_ = len(set("".join(docs)))
    return search


def report_unseen_characters(docs, cv):
    """Say which characters of a held-out fold its training folds never show.

    ``CharRNNGenerator.score`` skips characters that ``fit`` never saw (with a
    warning): a rare character (Tiny Shakespeare has one '$' and three '&')
    that falls in only one fold is not scored there. This is expected, and
    affects a handful of characters out of tens of thousands.
    """
    for k, (train, test) in enumerate(cv.split(docs), 1):
        seen = set("".join(docs[i] for i in train))
        held_out = "".join(docs[i] for i in test)
        unseen = sorted(set(held_out) - seen)
        if unseen:
            count = sum(held_out.count(c) for c in unseen)
            print(
                f"fold {k}: {count} held-out character(s) of {len(held_out):,} never occur "
                f"in its training folds and are not scored: {''.join(unseen)!r}"
            )


def print_results(title, search, score_name):
    results = search.cv_results_
    print(f"\n{title}")
    print(f"| hidden_size | {score_name} (mean ± std) | mean fit time (s) | rank |")
    print("| ---: | ---: | ---: | ---: |")
    for i, params in enumerate(results["params"]):
        print(
            f"| {params['hidden_size']} "
            f"| {results['mean_test_score'][i]:.4f} ± {results['std_test_score'][i]:.4f} "
            f"| {results['mean_fit_time'][i]:.1f} | {results['rank_test_score'][i]} |"
        )
    print(f"best: hidden_size={search.best_params_['hidden_size']} ({search.best_score_:.4f})")


def plot(path, classifier_search, generator_search):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib).")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    n_folds = classifier_search.n_splits_

    def draw(ax, search, color):
        results = search.cv_results_
        sizes = [p["hidden_size"] for p in results["params"]]
        ax.errorbar(
            sizes,
            results["mean_test_score"],
            yerr=results["std_test_score"],
            fmt="o-",
            capsize=4,
            color=color,
            label=f"mean ± std over {search.n_splits_} folds",
        )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_xlim(min(sizes) / 1.6, max(sizes) * 1.6)
        ax.set_xlabel("hidden_size (units per LSTM layer, log scale)")
        ax.grid(axis="y", alpha=0.3)

    # Accuracy on its whole range, with chance (the classes are balanced) marked.
    draw(left, classifier_search, "#4C72B0")
    left.axhline(0.5, color="gray", ls="--", lw=1, label="chance (balanced classes)")
    left.set_ylim(0, 1)
    left.set_ylabel(f"accuracy ({n_folds}-fold cross-validated)")
    left.set_title("LSTMSentimentClassifier on IMDB")
    left.legend(loc="lower right")

    # Log-likelihood from a uniform guess over the characters (bottom) to a perfect prediction (0).
    draw(right, generator_search, "#DD8452")
    uniform = -np.log(generator_search.n_characters_)
    right.axhline(
        uniform,
        color="gray",
        ls="--",
        lw=1,
        label=f"uniform guess over {generator_search.n_characters_} characters",
    )
    right.set_ylim(uniform * 1.05, 0)
    right.set_ylabel("held-out log-likelihood (nats per character)\nhigher is better")
    right.set_title("CharRNNGenerator on Tiny Shakespeare")
    right.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nSaved the plot to {path}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny models on small subsets: a smoke run"
    )
    parser.add_argument(
        "--output-dir", default="results/grid_search_hidden", help="where the plot goes"
    )
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)

    classifier_search = search_classifier(args.quick)
    print_results("LSTMSentimentClassifier on IMDB (accuracy)", classifier_search, "accuracy")
    generator_search = search_generator(args.quick)
    print_results(
        "CharRNNGenerator on Tiny Shakespeare (log-likelihood, nats/char)",
        generator_search,
        "score",
    )

    plot(
        os.path.join(args.output_dir, "grid_search_hidden.png"), classifier_search, generator_search
    )


if __name__ == "__main__":
    main()
