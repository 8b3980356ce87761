import subprocess
import sys

import pytest


def test_import_skrnn_does_not_import_tensorflow():
    code = (
        "import sys, skrnn\n"
        "skrnn.CharRNNGenerator\n"
        "skrnn.LSTMSentimentClassifier\n"
        "skrnn.make_tfidf_baseline\n"
        "skrnn.load_imdb\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import skrnn pulled in: {out.stdout.strip()}"


def test_unknown_attribute_raises_attribute_error():
    import skrnn

    with pytest.raises(AttributeError, match="NoSuchThing"):
        skrnn.NoSuchThing  # noqa: B018 -- the attribute access is what is tested
