"""pantau: classify Indonesian social-media posts as neutral, promotional or campaigning.

The same model, normalization, participant registry, long-post windows and triage as the
``pantau`` command line, in process::

    import pantau
    clf = pantau.Classifier()                  # the built-in model
    clf.classify(["Ayo coblos nomor 2!", "Selamat pagi"])   # list of dicts
    clf.classify(df["text"])                   # pandas Series -> DataFrame (same index)
    clf.classify(table["text"])                # pyarrow array -> pyarrow Table

Load a model through this package, never with Hugging Face ``tokenizers`` or ``transformers``
alone: pantau normalizes text (and marks registered participants) before its tokenizer sees it.
"""

from ._pantau import COLUMNS as _COLUMNS
from ._pantau import Classifier as _Core
from ._pantau import __version__

#: The columns of every result row, as the CLI writes them after the input fields.
COLUMNS = tuple(_COLUMNS)

__all__ = ["Classifier", "COLUMNS", "__version__"]


def _texts(texts):
    """The posts of ``texts`` as a list of str or None, and what kind of container it was."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("classify takes a list of posts, not one string: use classify_one(text)")
    kind = "list"
    mod = type(texts).__module__
    if mod.startswith("pandas"):
        kind = "pandas"
        values = texts.tolist()
    elif mod.startswith("pyarrow"):
        kind = "arrow"
        values = texts.to_pylist()
    else:
        values = list(texts)
    out = []
    for i, t in enumerate(values):
        if t is None or isinstance(t, str):
            out.append(t)
        elif isinstance(t, float) and t != t:  # pandas' NaN for a missing value
            out.append(None)
        else:
            raise TypeError(f"post {i} is {type(t).__name__}, not str (or None for a missing post)")
    return out, kind


class Classifier:
    """A loaded pantau model.

    Args:
        model: a model directory or a Hugging Face repo id in the local cache; default
            ``$PANTAU_MODEL``, else the model built into the package.
        participants: participant files (CSV/TSV, the CLI's ``--participants``) that extend the
            shipped registry of 2024 participants.
        only_participants: use only ``participants``, not the shipped registry.
        flag_threshold: a post is flagged when p_promotional + p_campaigning reaches this.
        review_band: (low, high) flag scores marked for review.
        explain: explain flagged posts with this many words (0: none).
        explain_method: ``"gradient"`` (first-order, one backward pass per flagged post) or
            ``"occlusion"`` (exact, a model pass per word), as the CLI's ``--explain-method``.

    Raises ValueError (a bad model, participant file or setting) or OSError (a file that cannot
    be read), with the command line's message. Safe to share between threads: the GIL is released
    while Rust classifies, on rayon's thread pool (size it with ``RAYON_NUM_THREADS``).
    """

    def __init__(self, model=None, *, participants=(), only_participants=False,
                 flag_threshold=0.5, review_band=(0.3, 0.7), explain=0,
                 explain_method="gradient"):
        self._core = _Core(model, [str(p) for p in participants], only_participants,
                           flag_threshold, tuple(review_band), explain, explain_method)

    @property
    def model(self):
        """The model in use: its directory, or the built-in model."""
        return self._core.model

    def classify(self, texts):
        """Classifies posts; returns one row per post, in order, with the CLI's output columns
        (``COLUMNS``): a list of dicts for a list, a pandas DataFrame (same index) for a Series,
        a pyarrow Table for a pyarrow array. A missing or empty post gets ``error`` and nulls."""
        values, kind = _texts(texts)
        cols = self._core.classify_columns(values)
        if kind == "pandas":
            import pandas as pd
            return pd.DataFrame(cols, index=texts.index, columns=list(COLUMNS))
        if kind == "arrow":
            import pyarrow as pa
            return pa.table({c: cols[c] for c in COLUMNS})
        return [dict(zip(COLUMNS, row)) for row in zip(*(cols[c] for c in COLUMNS))]

    def classify_one(self, text):
        """Classifies one post; returns its row as a dict."""
        return self.classify([text])[0]

    def __repr__(self):
        return f"pantau.Classifier(model={self.model!r})"
