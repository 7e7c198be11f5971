"""What a session cites: laws, programmes and standards, and the acronyms it uses.

A reference is found by the patterns of wording.fr.yaml's `reference_patterns` (regular expressions:
"loi AGEC", "RGPD", "France 2030"…) in the text as reviewers corrected it; an acronym by its
spelling in config.yaml's `acronyms`, which also gives its expansion for the glossary. Only
what was said counts: an occurrence in words the recogniser was unsure of (and no reviewer
checked) is left out, as a quote would be.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from ..core.artefacts import GlossaryEntry, Passage, Reference
from ..core.errors import ConfigError

__all__ = ["acronyms_said", "references_said", "reference_patterns"]

log = logging.getLogger(__name__)


def reference_patterns(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """wording.fr.yaml's `reference_patterns`, compiled; a pattern that does not compile is an error
    naming it."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(str(pattern)))
        except re.error as exc:
            raise ConfigError(f"wording.fr.yaml: the reference pattern {pattern!r} is not a regular expression "
                              f"({exc}). Fix it in your templates folder's wording.fr.yaml.") from None
    return compiled


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", " ".join(text.split()).casefold().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _heard(text: str, unsure: AbstractSet[str]) -> bool:
    return not {w.lower() for w in re.findall(r"[\w'’-]+", text)} & unsure


def references_said(passages: Sequence[Passage], patterns: Sequence[re.Pattern[str]],
                    unsure: Mapping[str, AbstractSet[str]]) -> list[Reference]:
    """Every reference said, once, as first said (its first letter a capital), with the passages
    that cite it; in alphabetical order."""
    found: dict[str, Reference] = {}
    for passage in passages:
        doubtful = unsure.get(passage.id, set())
        matches = sorted((m for pattern in patterns for m in pattern.finditer(passage.text)),
                         key=lambda m: (m.start() - m.end(), m.start()))
        taken: list[tuple[int, int]] = []
        for match in matches:  # the longest first: "loi Climat et résilience", not also "loi Climat"
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            taken.append(match.span())
            text = " ".join(match.group().split()).strip(" ,;:.")
            if not text or not _heard(text, doubtful):
                continue
            reference = found.setdefault(_key(text), Reference(text=text[0].upper() + text[1:], passages=[]))
            if passage.id not in reference.passages:
                reference.passages.append(passage.id)
    return sorted(found.values(), key=lambda r: _key(r.text))


def acronyms_said(passages: Sequence[Passage], acronyms: Mapping[str, str],
                  unsure: Mapping[str, AbstractSet[str]]) -> list[GlossaryEntry]:
    """The acronyms of config.yaml said in the session (as written there, a whole word), with
    their expansion and the passages that say them; in alphabetical order."""
    entries = []
    for term, expansion in acronyms.items():
        spelled = re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])")
        said = [p.id for p in passages if spelled.search(p.text) and term.lower() not in unsure.get(p.id, set())]
        if said:
            text = " ".join(str(expansion).split())
            entries.append(GlossaryEntry(term=term, expansion=text[:1].upper() + text[1:], passages=said))
    return sorted(entries, key=lambda e: _key(e.term))
