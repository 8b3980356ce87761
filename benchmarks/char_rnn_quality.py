"""Quality of CharRNNGenerator's defaults on Tiny Shakespeare (the issue's 15-minute bar).

Trains ``CharRNNGenerator(random_state=0)`` with its default parameters on
Tiny Shakespeare; the estimator's own ``validation_fraction=0.1`` holds out the
last 10% of the text, and its validation loss is the figure compared with the
bar (1.55 nats per character; nanoGPT's character-level GPU baseline is 1.47).

Writes, under ``benchmarks/results/``:

* ``char_rnn_quality.csv``: epoch, seconds, train loss, validation loss (nats/char);
* ``char_rnn_quality.png``: the curves (when matplotlib is installed);
* ``char_rnn_quality.txt``: the summary printed at the end, with a sample.

Run it alone on the machine (it uses both cores)::

    python benchmarks/char_rnn_quality.py                 # the defaults
    python benchmarks/char_rnn_quality.py --max-time 900  # with a 15-minute budget
    python benchmarks/char_rnn_quality.py --set hidden_size=128 --set max_iter=2 --tag quick
"""

from __future__ import annotations

import argparse
import ast
import csv
import os
import platform
import time
from pathlib import Path

from skrnn import CharRNNGenerator

HERE = Path(__file__).resolve().parent
BAR = 1.55


def find_data(path):
    if path:
        return Path(path)
    candidates = [os.environ.get("SKRNN_DATA"), HERE.parent.parent / "shared" / "data", Path("~/skrnn_data").expanduser()]
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
    parser.add_argument("--max-time", type=float, default=None, help="max_time in seconds (default: the estimator's)")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE", help="override a parameter")
    parser.add_argument("--tag", default="", help="suffix of the output files")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)

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
    rows = list(zip(range(1, model.n_iter_ + 1), model.time_curve_, model.loss_curve_, val_losses))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "char_rnn_quality" + (f"_{args.tag}" if args.tag else "")
    with open(out / f"{stem}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "seconds", "train_loss", "val_loss"])
        for epoch, t, train, val in rows:
            writer.writerow([epoch, f"{t:.1f}", f"{train:.4f}", f"{val:.4f}"])

    best = -model.best_validation_score_
    sample = model.sample(400, prime="ROMEO:\n", temperature=0.8, random_state=0)
    summary = [
        f"CharRNNGenerator quality on Tiny Shakespeare ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores)",
        f"parameters (non-default): {model}",
        f"epochs: {model.n_iter_}, training time: {seconds:.0f} s, "
        f"{model.n_chars_seen_ / seconds:,.0f} training chars/s overall (validation included)",
        f"final validation loss (best epoch {model.best_iter_}, weights restored): {best:.4f} nats/char "
        f"= {best / 0.6931471805599453:.3f} bits/char; bar {BAR}: {'PASS' if best <= BAR else 'FAIL'}",
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


def plot_curve(rows, path, dropout):
    """Plot ``(epoch, seconds, train_loss, val_loss)`` rows to ``path``; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    minutes = [r[1] / 60 for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(minutes, [r[2] for r in rows], "o-", label=f"train (dropout={dropout})")
    ax.plot(minutes, [r[3] for r in rows], "o-", label="validation (last 10%)")
    ax.axhline(BAR, color="gray", ls="--", lw=1, label=f"bar {BAR}")
    ax.set_xlabel("minutes")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title("CharRNNGenerator defaults on Tiny Shakespeare")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


if __name__ == "__main__":
    main()
