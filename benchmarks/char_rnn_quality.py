"""Quality of CharRNNGenerator's defaults on Tiny Shakespeare (the 15-minute target).

Trains ``CharRNNGenerator(random_state=0)`` with its default parameters on
Tiny Shakespeare; the estimator's own ``validation_fraction=0.1`` holds out the
last 10% of the text, and its validation loss is the figure compared with the
target (1.55 nats per character; nanoGPT's character-level GPU baseline is 1.47).

Writes, under ``benchmarks/results/``:

* ``char_rnn_quality.csv``: epoch, seconds, train loss, validation loss (nats/char);
* ``char_rnn_quality.png``: the curves (when matplotlib is installed);
* ``char_rnn_quality.txt``: the summary printed at the end, with a sample.

Run it alone on the machine (it uses both cores)::

    python benchmarks/char_rnn_quality.py                 # the defaults
    python benchmarks/char_rnn_quality.py --max-time 900  # with a 15-minute budget
    python benchmarks/char_rnn_quality.py --set hidden_size=128 --set max_iter=2 --tag quick
    python benchmarks/char_rnn_quality.py --replot        # redraw the PNG from the CSV, no training
"""

from __future__ import annotations

import argparse
import ast
import csv
import os
import platform
import re
import time
from pathlib import Path

from skrnn import CharRNNGenerator

HERE = Path(__file__).resolve().parent
TARGET = 1.55


def find_data(path):
    if path:
        return Path(path)
    candidates = [
        os.environ.get("SKRNN_DATA"),
        HERE.parent.parent / "shared" / "data",
        Path("~/skrnn_data").expanduser(),
    ]
    for folder in candidates:
        if folder and (Path(folder) / "tinyshakespeare.txt").is_file():
            return Path(folder) / "tinyshakespeare.txt"
    raise SystemExit("tinyshakespeare.txt not found: pass --data PATH or set SKRNN_DATA.")


def parse_overrides(pairs):
    params = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="path of tinyshakespeare.txt")
    parser.add_argument(
        "--max-time",
        type=float,
        default=None,
        help="max_time in seconds (default: the estimator's)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="PARAM=VALUE", help="override a parameter"
    )
    parser.add_argument("--tag", default="", help="suffix of the output files")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument(
        "--replot",
        action="store_true",
        help="redraw the PNG from the CSV (and .txt) of an earlier run; no training",
    )
    args = parser.parse_args(argv)
    stem = "char_rnn_quality" + (f"_{args.tag}" if args.tag else "")
    if args.replot:
        return replot(Path(args.out), stem)

    text = find_data(args.data).read_text(encoding="utf-8")
    params = {"random_state": 0, "verbose": 1, **parse_overrides(args.set)}
    if args.max_time is not None:
        params["max_time"] = args.max_time
    model = CharRNNGenerator(**params)
    print(f"{len(text):,} characters; model: {model}", flush=True)

    start = time.perf_counter()
    model.fit(text)
    seconds = time.perf_counter() - start

    val_losses = [-s for s in model.validation_scores_]
    # An interrupted last epoch has no validation score: its row is left out.
    rows = list(
        zip(
            range(1, model.n_iter_ + 1),
            model.time_curve_,
            model.loss_curve_,
            val_losses,
            strict=False,
        )
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{stem}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "seconds", "train_loss", "val_loss"])
        for epoch, t, train, val in rows:
            writer.writerow([epoch, f"{t:.1f}", f"{train:.4f}", f"{val:.4f}"])

    best = -model.best_validation_score_
    sample = model.sample(400, prime="ROMEO:\n", temperature=0.8, random_state=0)
    summary = [
        f"CharRNNGenerator quality on Tiny Shakespeare "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores)",
        f"parameters (non-default): {model}",
        f"epochs: {model.n_iter_}, training time: {seconds:.0f} s, "
        f"{model.n_chars_seen_ / seconds:,.0f} training chars/s overall (validation included)",
        f"final validation loss (best epoch {model.best_iter_}, weights restored): "
        f"{best:.4f} nats/char = {best / 0.6931471805599453:.3f} bits/char; "
        f"target {TARGET}: {'met' if best <= TARGET else 'not met'}",
        "epoch  seconds  train_loss  val_loss",
        *[f"{e:5d}  {t:7.1f}  {tr:10.4f}  {v:8.4f}" for e, t, tr, v in rows],
        "sample (prime 'ROMEO:\\n', temperature 0.8):",
        "ROMEO:\n" + sample,
    ]
    (out / f"{stem}.txt").write_text("\n".join(summary) + "\n", encoding="utf-8")
    print("\n".join(summary))

    if plot_curve(rows, out / f"{stem}.png", model.dropout):
        print(f"wrote {out / stem}.csv/.png/.txt")
    else:
        print(f"wrote {out / stem}.csv/.txt (matplotlib not installed: no plot)")


def replot(out, stem):
    """Redraw ``{stem}.png`` from ``{stem}.csv``.

    The dropout for the legend comes from ``{stem}.txt``.
    """
    csv_path = out / f"{stem}.csv"
    if not csv_path.is_file():
        raise SystemExit(f"{csv_path} not found: run this script without --replot first.")
    with open(csv_path, newline="") as f:
        rows = [
            (int(r["epoch"]), float(r["seconds"]), float(r["train_loss"]), float(r["val_loss"]))
            for r in csv.DictReader(f)
        ]
    dropout = CharRNNGenerator().dropout
    summary = out / f"{stem}.txt"
    if summary.is_file():
        match = re.search(r"\bdropout=([0-9.eE+-]+)", summary.read_text(encoding="utf-8"))
        if match:
            dropout = float(match.group(1))
    if not plot_curve(rows, out / f"{stem}.png", dropout):
        raise SystemExit("matplotlib is not installed: pip install matplotlib")
    print(f"wrote {out / stem}.png from {csv_path}")


def plot_curve(rows, path, dropout):
    """Plot ``(epoch, seconds, train_loss, val_loss)`` rows to ``path``; False without matplotlib.

    ``seconds`` is the training time at the end of each epoch. The loss axis
    starts at 0 (no loss is lower); the top axis numbers the epochs.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    minutes = [r[1] / 60 for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(minutes, [r[2] for r in rows], "o-", label=f"training (dropout={dropout})")
    ax.plot(minutes, [r[3] for r in rows], "o-", label="validation (last 10% of the text)")
    target_label = f"target: {TARGET} nats/char on validation"
    ax.axhline(TARGET, color="gray", ls="--", lw=1, label=target_label)
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("loss (nats per character)")
    ax.set_ylim(0, max(max(r[2], r[3]) for r in rows) * 1.08)
    ax.set_xlim(0, max(minutes) * 1.03)
    ax.grid(axis="y", alpha=0.3)
    # The epochs, on the top axis at the time each one ended (integer ticks).
    n = len(rows)
    step = 1 if n <= 10 else (2 if n <= 20 else 5)
    marked = [r for r in rows if r[0] == 1 or r[0] % step == 0]
    top = ax.secondary_xaxis("top")
    top.set_xticks([r[1] / 60 for r in marked], [str(r[0]) for r in marked])
    top.set_xlabel("epoch")
    ax.set_title("CharRNNGenerator defaults on Tiny Shakespeare", fontsize=11)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True


if __name__ == "__main__":
    main()
