"""Choose the hidden size of both estimators with scikit-learn's GridSearchCV.

Both skrnn estimators are ordinary scikit-learn estimators, so model selection
is the usual ``GridSearchCV``:

1. :class:`skrnn.LSTMSentimentClassifier` on a subset of the IMDB training
   reviews, scored by accuracy (3-fold cross-validation);
2. :class:`skrnn.CharRNNGenerator` on Tiny Shakespeare cut into documents,
   scored by its ``score`` method: the mean log-likelihood per character in
   nats (higher is better), with ``y=None``.

Prints the results table of each search and plots the cross-validated score
against the hidden size (``grid_search_hidden.png``).

Run time on 2 CPU cores: roughly 20 minutes (10 classifier fits of at most 3
epochs on 2,667-4,000 reviews, 10 generator fits of 40 s each); ``--quick``
(tiny models and subsets) under 20 seconds.
"""

import argparse
import os

import numpy as np
from sklearn.model_selection import GridSearchCV

from skrnn import CharRNNGenerator, LSTMSentimentClassifier, load_imdb, load_tiny_shakespeare


def search_classifier(quick):
    texts, labels = load_imdb("train")
    n = 400 if quick else 4000
    rng = np.random.default_rng(0)
    idx = rng.choice(len(texts), size=n, replace=False)  # a random subset: both classes, many movies
    X, y = [texts[i] for i in idx], labels[idx]
    if quick:
        estimator = LSTMSentimentClassifier(
            max_features=2000, maxlen=100, embedding_dim=16, learning_rate=0.01, max_iter=3, early_stopping=False,
            random_state=0,
        )
        grid = {"hidden_size": [8, 16]}
    else:
        estimator = LSTMSentimentClassifier(max_iter=3, random_state=0)
        grid = {"hidden_size": [32, 64, 128]}
    search = GridSearchCV(estimator, grid, cv=2 if quick else 3, scoring="accuracy")
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
        estimator = CharRNNGenerator(n_layers=1, max_iter=3, seq_length=50, random_state=0)
        grid = {"hidden_size": [16, 32]}
    else:
        estimator = CharRNNGenerator(n_layers=1, max_time=40, random_state=0)
        grid = {"hidden_size": [64, 128, 256]}
    search = GridSearchCV(estimator, grid, cv=2 if quick else 3)  # scored by CharRNNGenerator.score
    search.fit(docs)
    return search


def print_results(title, search, score_name):
    results = search.cv_results_
    print(f"\n{title}")
    print(f"| hidden_size | {score_name} (mean ± std) | mean fit time (s) | rank |")
    print("| ---: | ---: | ---: | ---: |")
    for i, params in enumerate(results["params"]):
        print(
            f"| {params['hidden_size']} | {results['mean_test_score'][i]:.4f} ± {results['std_test_score'][i]:.4f}"
            f" | {results['mean_fit_time'][i]:.1f} | {results['rank_test_score'][i]} |"
        )
    print(f"best: hidden_size={search.best_params_['hidden_size']} ({search.best_score_:.4f})")


def plot(path, searches):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib).")
        return
    fig, axes = plt.subplots(1, len(searches), figsize=(10, 4))
    for ax, (title, search, ylabel) in zip(axes, searches):
        results = search.cv_results_
        sizes = [p["hidden_size"] for p in results["params"]]
        ax.errorbar(sizes, results["mean_test_score"], yerr=results["std_test_score"], fmt="o-", capsize=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("hidden_size")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nSaved the plot to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny models on small subsets: a smoke run")
    parser.add_argument("--output-dir", default="results/grid_search_hidden", help="where the plot goes")
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)

    classifier_search = search_classifier(args.quick)
    print_results("LSTMSentimentClassifier on IMDB (accuracy)", classifier_search, "accuracy")
    generator_search = search_generator(args.quick)
    print_results("CharRNNGenerator on Tiny Shakespeare (log-likelihood, nats/char)", generator_search, "score")

    plot(
        os.path.join(args.output_dir, "grid_search_hidden.png"),
        [
            ("LSTMSentimentClassifier, IMDB", classifier_search, "cross-validated accuracy"),
            ("CharRNNGenerator, Tiny Shakespeare", generator_search, "log-likelihood (nats/char)"),
        ],
    )


if __name__ == "__main__":
    main()
