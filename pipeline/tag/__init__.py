"""Stage 2, tag: a `Transcript` (and the review file) -> `Tags`.

    tagging.py     the stage: passages, their themes, quotes, key points, the name index
    passages.py    the transcript cut into passages that hold one thought
    themes.py      the theme classifier: keywords (keywords.py) and meaning (meaning.py)
    excerpts.py    the quotes and key points chosen for each theme
    entities.py    the names said, and which ones the index lists
    calibrate.py   keyword weights and thresholds learnt from labelled passages
"""

from .tagging import classify_texts, tag

__all__ = ["classify_texts", "tag"]
