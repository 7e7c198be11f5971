"""Sentences that say the same thing, by the sentence encoder's vectors.

The tag stage keeps each sentence's unit vector (float16, base64) where it needs them later: the
proposals of « À retenir » are grouped so that no two say the same thing, and the statements a
session offers for the cycle's synthesis carry theirs, so that the render stage finds the ideas
that recur from one session to the next without loading the encoder.

Two sentences say the same thing when the cosine of their vectors reaches SAME_IDEA_COSINE. On
the long generated session (bench/data/long-session, Universal Sentence Encoder multilingual),
sentences about different things stay below 0.45 (the 99th percentile of all pairs is 0.37),
while the same idea said twice in other words lies between 0.5 and 0.7 ("on manipule de
l'information sensible, on est exposé à des attaques" / "un ministère comme le nôtre manipule de
l'information sensible": 0.67; the 2021 law on the digital footprint said twice: 0.57).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SAME_IDEA_COSINE", "pack_vectors", "recurring_groups", "unit_rows", "unpack_vector", "unpack_vectors"]

SAME_IDEA_COSINE = 0.5


def pack_vectors(vectors: np.ndarray) -> str:
    """Vectors as compact text (float16, base64): for the tagger's cache and the tags artefact."""
    import numpy as np

    return base64.b64encode(np.asarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def unpack_vectors(text: str, dims: int) -> np.ndarray:
    """The (rows, dims) float32 array packed by pack_vectors."""
    import numpy as np

    flat = np.frombuffer(base64.b64decode(text), dtype="<f2").astype("float32")
    return flat.reshape(-1, dims) if dims else flat.reshape(0, 0)


def unpack_vector(text: str) -> np.ndarray:
    """One vector packed by pack_vectors, whatever its length."""
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype("float32")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    vectors = np.asarray(vectors, dtype="float32")
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def recurring_groups(vectors: np.ndarray, owners: Sequence[str], *, limit: int,
                     threshold: float = SAME_IDEA_COSINE) -> list[list[int]]:
    """Groups of rows that say the same thing, each from at least two different owners (sessions)
    and at most one row per owner: seeded by the closest pair of rows of different owners, then
    joined by the closest row of each other owner that says the same thing as the pair. Groups
    are ordered by how many owners share them, then by how close they are; at most `limit`."""
    import numpy as np

    count = len(owners)
    if count < 2 or limit <= 0:
        return []
    rows = unit_rows(vectors)
    similarity = rows @ rows.T
    owner = np.array([str(o) for o in owners])
    close = (similarity >= threshold) & (owner[:, None] != owner[None, :])
    pairs = sorted(((float(similarity[i, j]), i, j) for i, j in zip(*np.nonzero(np.triu(close, 1)))), reverse=True)
    used: set[int] = set()
    groups: list[tuple[int, float, list[int]]] = []
    for _, i, j in pairs:
        if i in used or j in used:
            continue
        group = [int(i), int(j)]
        centre = rows[group].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-9)
        for other in sorted(set(owner) - {owner[i], owner[j]}):
            members = [k for k in range(count) if owner[k] == other and k not in used
                       and similarity[k, i] >= threshold and similarity[k, j] >= threshold]
            if members:
                group.append(max(members, key=lambda k: float(rows[k] @ centre)))
        used.update(group)
        mean = float(np.mean([similarity[a, b] for a in group for b in group if a < b]))
        groups.append((len(group), mean, group))
    groups.sort(key=lambda g: (-g[0], -g[1]))
    return [group for _, _, group in groups[:limit]]
