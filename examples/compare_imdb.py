"""LSTM against TF-IDF + LogisticRegression on IMDB movie-review sentiment.

Trains :class:`skrnn.LSTMSentimentClassifier` with its default parameters and
the TF-IDF + LogisticRegression baseline (:func:`skrnn.make_tfidf_baseline`)
on the 25,000 IMDB training reviews, and measures test accuracy, fit time and
prediction speed on the 25,000 test reviews. Prints a table and writes
``imdb_comparison.{json,csv,png}`` to ``--output-dir``. This is what
``skrnn compare`` runs.

Run time on 2 CPU cores: see "The main job" in the README (almost all of it
the LSTM's fit; each run records its own ``total_time_s`` in
``imdb_comparison.json``); ``--quick`` (1,000 / 1,000 reviews, a small LSTM)
under a minute.
"""

import argparse

from skrnn.compare import compare_imdb


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small subsets and a small LSTM: a smoke run"
    )
    parser.add_argument("--output-dir", default="results/compare_imdb", help="where the results go")
    parser.add_argument(
        "--data-home", default=None, help="folder holding IMDB (default: $SKRNN_DATA)"
    )
    args = parser.parse_args()

    report = compare_imdb(quick=args.quick, data_home=args.data_home, output_dir=args.output_dir)
    best = max(report["results"], key=lambda row: row["accuracy"])
    print(f"\nMost accurate: {best['model']} ({best['accuracy']:.4f}).")


if __name__ == "__main__":
    main()
