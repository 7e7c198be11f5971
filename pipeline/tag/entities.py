"""Named entities: the people, organisations and places a passage names, and the session's index.

Named-entity recognition on a transcript finds misheard words as names ("Gmaï"), ordinary words
capitalised at a sentence start as organisations, and misses well-known names it was not
trained on. The index is therefore conservative: every name found is recorded with whether it is
listed and why (IndexedEntity), and a name is listed only when it is declared in config.yaml (a
speaker, an organisation, the cycle's organiser, `index.known`) or recognised consistently
(`index.min_mentions` times, with the same kind, once at least heard with confidence: a name
whose words the recogniser was unsure of every time is left out, "unsure", until a reviewer
corrects or confirms it).

Only names said count: the recognition runs on the text as reviewers corrected it. The session's
speakers and their organisations are the spelling hints Whisper is given, so they are never
found by their spelling alone (Whisper may write a hint where nobody said it): they are listed
where the recogniser finds a name, spelled as declared. `index.known` names and the cycle's
organiser are also found by their spelling, whatever the recogniser made of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

from ..core.artefacts import Entity, EntityLabel, IndexedEntity, Passage

if TYPE_CHECKING:
    from spacy.tokens import Span

    from ..core.config import Config, IndexOptions, Session, Theme

ENTITY_LABELS: tuple[EntityLabel, ...] = ("PER", "ORG", "LOC")


def _indexed_label(label: str) -> TypeGuard[EntityLabel]:
    """Whether spaCy's label is one the index keeps (it also gives MISC)."""
    return label in ENTITY_LABELS


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
    seen: dict[tuple[str, EntityLabel], None] = {}
    for ent in span.ents:
        text = articles.sub("", " ".join(ent.text.split())).strip(" -'’.,;:«»\"")
        label = ent.label_
        if _indexed_label(label) and text and _keep_entity(text, ent):
            seen.setdefault((text, label), None)
    return [Entity(text=text, label=label) for text, label in seen]


@dataclass(frozen=True)
class DeclaredName:
    """A name the index keeps whenever it is said: its spellings, kind and why it is kept."""

    text: str
    label: EntityLabel
    reason: str  # speaker, organisation, known
    spellings: tuple[str, ...]
    hint: bool = False  # given to Whisper as a spelling hint: found only where a name is recognised


def _spellings(name: str) -> tuple[str, ...]:
    """'Plan Urbanisme Construction Architecture (Puca)' is said either way."""
    name = " ".join(name.split())
    inside = re.findall(r"\(([^()]+)\)", name)
    outside = re.sub(r"\s*\([^()]*\)", "", name).strip()
    return tuple(dict.fromkeys(s for s in (outside, *inside) if len(s) > 1))


def declared_names(config: Config, session: Session | None) -> list[DeclaredName]:
    """The cycle's organiser, the session's speakers and organisations, and `index.known`; a name
    already declared under another spelling ("Puca" for the organiser) is that name."""
    found: list[DeclaredName] = []
    organiser = _spellings(config.cycle.organiser)
    if organiser:
        found.append(DeclaredName(organiser[0], "ORG", "organisation", organiser))
    for speaker in session.speakers if session is not None else []:
        found.append(DeclaredName(speaker.name.strip(), "PER", "speaker", _spellings(speaker.name), hint=True))
        if speaker.organisation.strip():
            spellings = _spellings(speaker.organisation)
            found.append(DeclaredName(spellings[0], "ORG", "organisation", spellings, hint=True))
    for label, known in config.index.known.items():
        for known_name in known:
            found.append(DeclaredName(" ".join(known_name.split()), label, "known", _spellings(known_name)))
    names: list[DeclaredName] = []
    seen: set[str] = set()
    for name in found:
        plain_spellings = {_plain(s) for s in name.spellings}
        if not plain_spellings & seen:
            names.append(name)
        seen |= plain_spellings
    return names


def _plain(text: str) -> str:
    """Compared loosely: lower case, no accents, no plural s/x, one space."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("’", "'"))
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"(?<=\w\w)[sx]$", "", w) for w in re.findall(r"[\w'-]+", letters))


def _said(spelling: str, text: str) -> int:
    return len(re.findall(rf"(?<![\w-]){re.escape(spelling)}(?![\w-])", text))


def entity_index(passages: Sequence[Passage], options: IndexOptions | None = None,
                 declared: Sequence[DeclaredName] = (), themes: Iterable[Theme] = (),
                 unsure: Mapping[str, AbstractSet[str]] | None = None) -> list[IndexedEntity]:
    """Every name found, listed ones first, then by how many passages name it; each marked
    listed or not, with the reason (see the module). `count` is the number of passages;
    `unsure` gives, by passage id, the words (lower case) the recogniser was unsure of there
    and no reviewer checked."""
    from ..core.config import IndexOptions

    options = options or IndexOptions()
    excluded = {_plain(name) for name in options.exclude}
    # A theme's wording said with a capital at a sentence start is not a name ("Société
    # urbaine"); a keyword the codebook writes with a capital is one ("Google", "Europe").
    theme_words = {_plain(w) for theme in themes for w in (theme.label, *(s.label for s in theme.subthemes),
                                                          *(k for k in theme.all_keywords if k[:1].islower()))}
    session_text = " ".join(p.text for p in passages)
    entries: dict[str, IndexedEntity] = {}
    votes: dict[str, Counter[EntityLabel]] = {}
    heard: Counter[str] = Counter()  # recognitions without an unsure word, by name
    unsure = unsure or {}

    def entry(text: str, label: EntityLabel) -> IndexedEntity:
        key = _plain(text)
        if key not in entries:
            entries[key] = IndexedEntity(text=text, label=label, count=0, passages=[], listed=False)
            votes[key] = Counter()
        return entries[key]

    by_spelling = {_plain(s): name for name in declared for s in name.spellings}
    # A speaker named by the surname alone ("Garnier") is that speaker, when only one has it.
    surnames = Counter(_plain(name.text.split()[-1]) for name in declared if name.label == "PER")
    for name in declared:
        surname = _plain(name.text.split()[-1])
        if name.label == "PER" and len(name.text.split()) > 1 and surnames[surname] == 1:
            by_spelling.setdefault(surname, name)
    for passage in passages:
        doubtful = unsure.get(passage.id, set())
        for ent in passage.entities:
            declared_as = by_spelling.get(_plain(ent.text))
            found = entry(declared_as.text, declared_as.label) if declared_as else entry(ent.text, ent.label)
            found.count += 1
            votes[_plain(found.text)][ent.label] += 1
            if not {w.lower() for w in re.findall(r"[\w'’-]+", ent.text)} & doubtful:
                heard[_plain(found.text)] += 1
            if passage.id not in found.passages:
                found.passages.append(passage.id)
        for name in (n for n in declared if not n.hint):  # said, whatever the recogniser made of it
            if any(_said(s, passage.text) for s in name.spellings):
                found = entry(name.text, name.label)
                if passage.id not in found.passages:
                    found.passages.append(passage.id)
                    found.count += 1
    reasons = {_plain(s): name.reason for name in declared for s in name.spellings}
    labels = {_plain(s): name.label for name in declared for s in name.spellings}
    for key, found in entries.items():
        found.passages.sort()
        if key in excluded:
            found.listed, found.reason = False, "excluded"
        elif key in reasons:
            found.listed, found.reason, found.label = True, reasons[key], labels[key]
        elif key in theme_words or _said(found.text.lower(), session_text):
            found.listed, found.reason = False, "common word"
        else:
            label, agreeing = votes[key].most_common(1)[0] if votes[key] else (found.label, 0)
            consistent = agreeing >= max(options.min_mentions, 0.75 * sum(votes[key].values()))
            found.label = label
            found.listed, found.reason = ((True, "mentions") if consistent and heard[key] else
                                          (False, "unsure") if consistent else (False, "once"))
    return sorted(entries.values(), key=lambda e: (not e.listed, -e.count, e.text.lower(), e.label))
