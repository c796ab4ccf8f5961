"""foldwise: the recipes that won Kaggle image-classification competitions, as a library.

Each module owns one concept (manifest, phash, dedup, cache, stats, folds, models, losses,
augment, train, tta, predict, distill, ensemble, metrics, devices, artifacts); the Snakemake
workflow under ``workflow/`` wires them into cached stages.
"""

__version__ = "0.1.0"


class FoldwiseError(Exception):
    """A user-facing error: bad input, bad config. Reported as one line, never a traceback."""
