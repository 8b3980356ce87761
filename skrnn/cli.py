"""The ``skrnn`` command.

``skrnn compare``
    The main job: the LSTM classifier against the TF-IDF + LogisticRegression
    baseline on IMDB (see :func:`skrnn.compare.compare_imdb`).
``skrnn generate CORPUS_OR_MODEL``
    Train a character-level model on a dataset (``tinyshakespeare``) or a
    text file, or load a saved one, and print text it writes.

Bad arguments and missing files end with exit status 2 and a one-line
message on stderr, without a traceback. ``python -m skrnn`` is the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["build_parser", "main"]

_MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")
# Corpora ``skrnn generate`` accepts by name: name -> (the skrnn.datasets loader, its RemoteFile).
# The dataset's file name in the data folder is accepted as well.
_GENERATE_DATASETS = {
    "tinyshakespeare": ("load_tiny_shakespeare", "TINY_SHAKESPEARE"),
    "tinyshakespeare.txt": ("load_tiny_shakespeare", "TINY_SHAKESPEARE"),
}


class UsageError(Exception):
    """A problem with the command line or its files: exit status 2, one line."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse prints the usage too)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


_Formatter = argparse.RawDescriptionHelpFormatter


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _positive_float(text):
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def build_parser():
    """The ``skrnn`` argument parser (subcommands ``compare`` and ``generate``)."""
    parser = _Parser(
        prog="skrnn",
        description="Recurrent neural networks as scikit-learn estimators.",
        epilog="Run 'skrnn COMMAND --help' for the options of each command.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"skrnn {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, help="what to run"
    )

    compare = commands.add_parser(
        "compare",
        help="the LSTM classifier vs TF-IDF and NB-LR baselines on IMDB (the main job)",
        formatter_class=_Formatter,
        description=(
            "Train skrnn's LSTMSentimentClassifier (default parameters: an LSTM blended\n"
            "with an NB-weighted n-gram path), the TF-IDF + LogisticRegression baseline\n"
            "and the NB-LR baseline on the 25,000 IMDB training reviews, then measure\n"
            "accuracy, fit time and prediction speed on the 25,000 test reviews. Prints an\n"
            "estimate of the duration first, then a table, and writes imdb_comparison.json,\n"
            ".csv and .png to the output folder. About 3 minutes on 2 CPU cores (5 with\n"
            "--ablation); --quick takes well under a minute.\n\n"
            "IMDB is read from the data folder (--data-home, else $SKRNN_DATA, else\n"
            "~/skrnn_data) and downloaded there (84 MB) when missing."
        ),
    )
    compare.add_argument(
        "--quick",
        action="store_true",
        help="1,000 training and 1,000 test reviews and a small LSTM (6 short epochs): a smoke run",
    )
    compare.add_argument(
        "--output-dir",
        default="results",
        metavar="DIR",
        help="folder for the JSON, CSV and PNG results (default: results)",
    )
    compare.add_argument(
        "--data-home",
        default=None,
        metavar="DIR",
        help="folder holding IMDB (aclImdb_v1.tar.gz, any .tar.gz with the aclImdb/ layout, "
        "or aclImdb/); default: $SKRNN_DATA, else ~/skrnn_data",
    )
    compare.add_argument(
        "--ablation",
        action="store_true",
        help="also train the classifier with one path only: the LSTM alone and the n-grams alone",
    )
    compare.add_argument(
        "--seed", type=int, default=0, help="random seed for the LSTM and the subsets (default: 0)"
    )
    compare.add_argument("-q", "--quiet", action="store_true", help="print only the results table")

    generate = commands.add_parser(
        "generate",
        help="train a character-level RNN on a dataset or a text file (or load one) "
        "and print generated text",
        formatter_class=_Formatter,
        description=(
            "Train a CharRNNGenerator on a dataset or a text file and print text it\n"
            "writes, or load a model saved with --save (a folder) and sample from it.\n"
            "A progress bar per epoch and the messages go to stderr (-q silences them),\n"
            "the generated text to stdout.\n\n"
            "The dataset 'tinyshakespeare' is read from the data folder (--data-home,\n"
            "else $SKRNN_DATA, else ~/skrnn_data) and downloaded there (1.1 MB) when\n"
            "missing.\n\n"
            "Example: skrnn generate tinyshakespeare --max-time 600 --save shakespeare-model\n"
            "         skrnn generate shakespeare-model --chars 1000 "
            "--temperature 0.7 --prime 'ROMEO:'"
        ),
    )
    generate.add_argument(
        "source",
        metavar="CORPUS_OR_MODEL",
        help=(
            "the dataset 'tinyshakespeare' or a UTF-8 text file to train on, or a model folder "
            "saved with --save to sample from (.joblib/.pkl files are unpickled: only load those "
            "from a trusted source); a path that exists wins over a dataset name"
        ),
    )
    generate.add_argument(
        "--chars",
        type=_positive_int,
        default=500,
        metavar="N",
        help="number of characters to generate (default: 500)",
    )
    generate.add_argument(
        "--temperature",
        type=_non_negative_float,
        default=0.8,
        metavar="T",
        help="sampling temperature: 0 is greedy, below 1 is more conservative, "
        "above 1 more surprising (default: 0.8)",
    )
    generate.add_argument(
        "--prime",
        default="",
        metavar="TEXT",
        help="text the generated text continues (default: none)",
    )
    generate.add_argument(
        "--top-k",
        type=_positive_int,
        default=None,
        metavar="K",
        help="sample only among the K most likely characters (default: all)",
    )
    generate.add_argument(
        "--save",
        default=None,
        metavar="PATH",
        help="save the trained model to this folder (CharRNNGenerator.save: JSON and .npz, "
        "no pickle) to sample from it later (default: not saved)",
    )
    training = generate.add_argument_group(
        "training (ignored when CORPUS_OR_MODEL is a saved model)"
    )
    training.add_argument(
        "--max-time",
        type=_positive_float,
        default=None,
        metavar="S",
        help="stop training after S seconds (default: no limit)",
    )
    training.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        metavar="N",
        help="maximum number of epochs (default: the estimator's, 20)",
    )
    training.add_argument(
        "--cell",
        choices=("lstm", "gru", "rnn"),
        default=None,
        help="recurrent cell (default: lstm)",
    )
    training.add_argument(
        "--hidden-size",
        type=_positive_int,
        default=None,
        metavar="H",
        help="units per layer (default: 256)",
    )
    training.add_argument(
        "--n-layers",
        type=_positive_int,
        default=None,
        metavar="L",
        help="stacked layers (default: 2)",
    )
    training.add_argument(
        "--seq-length",
        type=_positive_int,
        default=None,
        metavar="N",
        help="training window in characters (default: 50)",
    )
    training.add_argument(
        "--quick",
        action="store_true",
        help="a small model (1 layer of 64 units) trained for at most 5 epochs or 30 s: "
        "a smoke run; explicit options override it",
    )
    training.add_argument(
        "--data-home",
        default=None,
        metavar="DIR",
        help="folder holding the datasets named by CORPUS_OR_MODEL (tinyshakespeare.txt); "
        "default: $SKRNN_DATA, else ~/skrnn_data",
    )
    generate.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed for training and sampling (default: random)",
    )
    generate.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the generated text (no progress bar, no messages)",
    )
    return parser


def _run_compare(args):
    from .compare import compare_imdb

    if args.data_home is not None and not os.path.isdir(args.data_home):
        raise UsageError(f"--data-home {args.data_home}: no such folder")
    report = compare_imdb(
        quick=args.quick,
        data_home=args.data_home,
        output_dir=args.output_dir,
        ablation=args.ablation,
        random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    if args.quiet:
        print(report["table"])
    return 0


def _is_model_file(path):
    return path.lower().endswith(_MODEL_SUFFIXES)


def _missing_source_message(source, data_home):
    from .datasets import get_data_home

    names = ", ".join(sorted(name for name in _GENERATE_DATASETS if "." not in name))
    return (
        f"{source}: no such file, folder or dataset. Give a dataset by name ({names}: read from "
        f"--data-home DIR, else $SKRNN_DATA, else ~/skrnn_data, here {get_data_home(data_home)}, "
        f"and downloaded there when missing), or the path of a UTF-8 text file or of a model folder"
    )


def _load_generate_corpus(args, log):
    """``(text, description)`` for a training corpus given by path or by dataset name.

    A dataset missing from the data folder is downloaded there, with a progress
    bar unless ``--quiet``.
    """
    source = args.source
    if os.path.isfile(source):
        try:
            with open(source, encoding="utf-8") as fh:
                return fh.read(), source
        except UnicodeDecodeError:
            raise UsageError(
                f"{source}: not a UTF-8 text file (a saved model is a folder written by --save)"
            ) from None
    names = _GENERATE_DATASETS.get(source.lower())
    if names is None:
        raise UsageError(_missing_source_message(source, args.data_home))
    from . import datasets

    loader, remote = getattr(datasets, names[0]), getattr(datasets, names[1])
    data_home = datasets.get_data_home(args.data_home)
    # DatasetUnavailableError (offline, read-only folder): one line in main().
    try:
        text = loader(data_home=data_home, download_if_missing=False)
    except datasets.DatasetUnavailableError:
        log(f"{remote.filename} is not in {data_home}: downloading it from {remote.url}")
        datasets._download(remote, data_home, show_progress=not args.quiet)
        text = loader(data_home=data_home, download_if_missing=False)
    return text, f"the dataset {source} ({data_home})"


def _run_generate(args):
    import joblib

    source = args.source
    log = (
        (lambda *a, **k: None)
        if args.quiet
        else (lambda *a: print(*a, file=sys.stderr, flush=True))
    )

    if args.data_home is not None and not os.path.isdir(args.data_home):
        raise UsageError(f"--data-home {args.data_home}: no such folder")
    if os.path.isdir(source):
        from .char_rnn import CharRNNGenerator

        try:
            model = CharRNNGenerator.load(source)
        except (OSError, ValueError) as exc:  # not a save, another estimator's, damaged, too new
            raise UsageError(f"{source}: cannot load a model from it ({exc})") from None
        log(f"Loaded {type(model).__name__} from {source}")
    elif os.path.isfile(source) and _is_model_file(source):
        try:
            model = joblib.load(source)
        except Exception as exc:  # a damaged or foreign file: say so in one line
            raise UsageError(
                f"{source}: cannot load a model from it ({type(exc).__name__}: {exc})"
            ) from None
        if not hasattr(model, "sample"):
            raise UsageError(f"{source}: holds a {type(model).__name__}, not a CharRNNGenerator")
        log(f"Loaded {type(model).__name__} from {source}")
    else:
        text, description = _load_generate_corpus(args, log)
        if not text:
            raise UsageError(f"{source}: the file is empty")
        from .char_rnn import CharRNNGenerator

        params = {"verbose": 0 if args.quiet else 1, "random_state": args.seed}
        if args.quick:
            params.update(hidden_size=64, n_layers=1, max_time=30.0, max_iter=5)
        for option, name in [
            ("max_time", "max_time"),
            ("max_iter", "max_iter"),
            ("cell", "cell"),
            ("hidden_size", "hidden_size"),
            ("n_layers", "n_layers"),
            ("seq_length", "seq_length"),
        ]:
            value = getattr(args, option)
            if value is not None:
                params[name] = value
        model = CharRNNGenerator(**params)
        log(f"Training {model!r} on {len(text):,} characters of {description} ...")
        start = time.perf_counter()
        try:
            model.fit(text)
        except ValueError as exc:  # e.g. a corpus too short for the windows
            raise UsageError(f"{source}: {exc}") from None
        log(f"Trained {model.n_iter_} epoch(s) in {time.perf_counter() - start:.1f} s")
        if args.save:
            directory = os.path.dirname(os.path.abspath(args.save))
            if not os.path.isdir(directory):
                raise UsageError(f"--save {args.save}: no such folder {directory}")
            try:
                model.save(args.save)
            except ValueError as exc:  # a file, or a folder that is not a save
                raise UsageError(f"--save {args.save}: {exc}") from None
            log(f"Saved the model to {args.save}")

    try:
        generated = model.sample(
            args.chars,
            prime=args.prime,
            temperature=args.temperature,
            top_k=args.top_k,
            random_state=args.seed,
        )
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    if isinstance(generated, (list, tuple)):
        generated = "\n\n".join(generated)
    print(args.prime + generated)  # sample() returns the continuation only
    return 0


def main(argv=None):
    """Run the ``skrnn`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; ``None`` reads ``sys.argv``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "compare":
            return _run_compare(args)
        return _run_generate(args)
    except UsageError as exc:
        print(f"skrnn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skrnn: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # Missing datasets, unwritable output folders: the user's to fix, one line.
        # Other OSErrors are bugs or system failures and keep their traceback.
        from .datasets import DatasetUnavailableError

        if not (isinstance(exc, DatasetUnavailableError) or exc.filename):
            raise
        message = " ".join(str(exc).split())
        print(f"skrnn: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
