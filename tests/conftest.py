import os
from pathlib import Path

import pytest


@pytest.fixture
def real_data_dir():
    """The folder with the real datasets (SKRNN_DATA); skips the test when absent."""
    path = os.environ.get("SKRNN_DATA")
    if not path or not Path(path).is_dir():
        pytest.skip("real datasets not available: set SKRNN_DATA to a folder holding them")
    return Path(path)


@pytest.fixture
def record_calls(monkeypatch):
    """``record_calls(cls, name)`` wraps a method so that each call's arguments go to the list it returns."""

    def record(cls, name):
        calls, real = [], getattr(cls, name)

        def recording(self, *args, **kwargs):
            calls.append(args)
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, recording)
        return calls

    return record
