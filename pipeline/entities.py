"""Named entities: the people, organisations and places a passage names, and the session's index."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from synthese.artefacts import Entity, IndexedEntity, Passage

if TYPE_CHECKING:
    from spacy.tokens import Span

ENTITY_LABELS = ("PER", "ORG", "LOC")


def _keep_entity(text: str, ent: Span | None = None) -> bool:
    """Drop obvious NER noise: single characters, numbers, lower-case common words, and common
    nouns or verbs capitalised at the head of a list item ("Capitaliser", "Sécurité")."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 2 or text[0].islower() or text.replace(" ", "").isdigit():
        return False
    return ent is None or any(token.pos_ == "PROPN" for token in ent)


def leading_article(articles: Sequence[str]) -> re.Pattern[str]:
    """A leading article or elision is not part of a name: "l'Anssi" is indexed as "Anssi". An
    elision goes in either case ("L'Anssi"); a capitalised article may belong to the name ("La
    Poste"), so only a lower-case one is left out."""
    elisions = [e for a in articles if a.endswith(("'", "’"))
                for e in (a.rstrip("'’"), a.rstrip("'’").capitalize())]
    words = [a for a in articles if not a.endswith(("'", "’"))]
    parts = []
    if elisions:
        parts.append(rf"(?:{'|'.join(map(re.escape, elisions))})['’]")
    if words:
        parts.append(rf"(?:{'|'.join(map(re.escape, words))})\s+")
    return re.compile(rf"^(?:{'|'.join(parts)})" if parts else r"^(?!)")


def passage_entities(span: Span, articles: re.Pattern[str]) -> list[Entity]:
    """The passage's people, organisations and places, each once, in order of appearance."""
    seen: dict[tuple[str, str], None] = {}
    for ent in span.ents:
        text = articles.sub("", " ".join(ent.text.split())).strip(" -'’.,;:«»\"")
        if ent.label_ in ENTITY_LABELS and text and _keep_entity(text, ent):
            seen.setdefault((text, ent.label_), None)
    return [Entity(text=text, label=label) for text, label in seen]


def entity_index(passages: Sequence[Passage]) -> list[IndexedEntity]:
    """Every entity with how often it occurs and where, most frequent first."""
    index: dict[tuple[str, str], IndexedEntity] = {}
    for passage in passages:
        for ent in passage.entities:
            entry = index.setdefault((ent.text, ent.label),
                                     IndexedEntity(text=ent.text, label=ent.label, count=0, passages=[]))
            entry.count += 1
            entry.passages.append(passage.id)
    return sorted(index.values(), key=lambda e: (-e.count, e.text.lower(), e.label))
