"""What the benchmark scripts share: running one case in a fresh process, and fingerprinting skrnn.

Each benchmark runs every case in its own process (``script --worker CASE``),
so that one case's allocations, threads and TensorFlow state never leak into
the next; the worker prints one ``@@RESULT@@{json}`` line.
"""

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULT_PREFIX = "@@RESULT@@"
SKRNN_ROOT = Path(__file__).resolve().parent.parent / "skrnn"


def report(out):
    """Print a worker's result for :func:`spawn` to read."""
    print(RESULT_PREFIX + json.dumps(out, default=float), flush=True)


def spawn(script, case, quick, timeout):
    """Run ``script --worker case`` in a fresh Python and return its result dict.

    On failure the dict is ``{"error": ...}``.
    """
    cmd = [sys.executable, str(Path(script).resolve()), "--worker", case] + (
        ["--quick"] if quick else []
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith(RESULT_PREFIX):
            out = json.loads(line[len(RESULT_PREFIX) :])
            out["process_wall_s"] = time.perf_counter() - t0
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def source_digest(paths=None):
    """A short hash of skrnn's sources (or of ``paths``), to tell which version a run measured."""
    paths = sorted(SKRNN_ROOT.rglob("*.py")) if paths is None else sorted(paths)
    h = hashlib.sha256()
    for path in paths:
        if path.exists():
            h.update(str(path.relative_to(SKRNN_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def git_commit():
    """The checked-out commit of the repository (or None).

    With ``+dirty`` when files differ from it.
    """
    root = SKRNN_ROOT.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def package_versions(names):
    """Python's and NumPy's versions, and those of the installed packages among ``names``."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import numpy as np

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    return versions
