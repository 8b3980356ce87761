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
