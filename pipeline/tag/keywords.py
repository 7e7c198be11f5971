"""Keyword matching for the theme codebook: what counts as "the passage says this keyword".

A codebook keyword is found in a passage:

* as written or inflected: the passage's words are compared by lower-cased text, by lemma and by
  a crude singular ("données" is found even where the lemmatiser reads it as the verb "donner");
* in its lemma family: the noun, verb and adjective of the same root ("régulation", "réguler";
  "sécurité", "sécuriser"; "environnement", "environnemental"), generated from the keyword by
  the regular French derivational suffixes below and kept only when the derived word exists in
  the model's vocabulary and means something close (word vectors), so "marché" never finds
  "marcher" nor "donnée" "donner";
* as a compound prefix: a keyword written "cyber*" finds "cybersécurité", "cyber-attaque"...;
* through an acronym: the codebook's `acronyms:` say what "RGPD" or "CNIL" stand for, and an
  acronym in a passage counts as the keywords found in its expansion;
* as a phrase with a few words in between: "protection des données" also finds "protection de
  vos données", the content words in order with at most MAX_GAP words between two of them.

A keyword written with a capital ("État", "Europe") or in capitals ("PME") is matched with its
case, so "l'état des lieux" is not the State. A match inside a longer match (a word of a phrase
of any theme) is not counted on its own: "données" in "centre de données" is not evidence of
data instruments. Everything here is derived from the codebook; nothing from labelled passages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Token

    from ..core.config import Theme

# At most this many words between two content words of a phrase ("protection de vos données").
MAX_GAP = 3
# A derived word joins a keyword's family only when this close to it in the word vectors: the
# suffix rules below also produce real words of another meaning ("exclusion" -> "exclusif").
MIN_FAMILY_SIMILARITY = 0.5
# A derived word keeps at least this many letters of the keyword's root.
MIN_ROOT_LETTERS = 4
# Regular French derivations between nouns, verbs and adjectives of one root, as (suffix,
# suffix) pairs, used both ways. Agent nouns (-ateur, -eur) are left out on purpose: their verbs
# mean something broader ("utilisateur" -> "utiliser", "opérateur" -> "opérer").
DERIVATIONS: tuple[tuple[str, str], ...] = (
    ("ation", "er"), ("iation", "ier"), ("isation", "iser"), ("ification", "ifier"), ("ation", "atif"),
    ("ation", "ative"), ("ation", "ant"), ("ation", "atoire"), ("ution", "uer"),
    ("ement", "er"), ("issement", "ir"), ("ment", "mental"), ("age", "er"), ("ance", "er"),
    ("ance", "ant"), ("ence", "ent"), ("ion", "ionner"),
    ("ité", "e"), ("ité", "iser"), ("ité", "isé"), ("ité", "itaire"), ("abilité", "able"),
    ("ibilité", "ible"), ("eté", ""), ("iété", "e"), ("ie", "ique"), ("ie", "étique"),
    ("e", "ique"), ("", "ique"), ("e", "er"), ("", "iser"), ("", "isation"), ("iser", "isation"),
    ("isme", "iste"),
)
# Punctuation a phrase never spans.
PHRASE_BREAKS = frozenset(".;:!?()[]«»\"")
CASED = "\x00"  # prefix of the forms compared with their case


@dataclass(frozen=True)
class Match:
    """One codebook keyword found in a passage."""

    theme_id: str
    term: str  # the keyword as written in the codebook
    tokens: tuple[int, ...]  # the passage tokens that carry it
    how: str  # "word", "family", "phrase", "prefix" or "acronym"


@dataclass(frozen=True)
class CompiledKeyword:
    theme_id: str
    term: str
    kind: str  # "word", "phrase" or "prefix"
    slots: tuple[frozenset[str], ...]  # accepted forms of each content word, in order
    families: tuple[frozenset[str], ...]  # forms that are family members, not the word itself
    prefix: str = ""


def normalise(text: str) -> str:
    return text.replace("’", "'").replace("ʼ", "'")


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def token_forms(token: Token) -> set[str]:
    """The forms a passage word is compared by: text, lemma, singular, and its cased text."""
    lower = normalise(token.lower_)
    forms = {lower, normalise(token.lemma_.lower()) or lower, CASED + normalise(token.text)}
    if len(lower) > 4 and lower[-1] in "sx":
        forms.add(lower[:-1])
    return forms


def is_cased(term: str) -> bool:
    """A keyword written with a capital or in capitals is matched with its case."""
    return term[:1].isupper()


class KeywordMatcher:
    """The codebook's keywords, compiled once against a spaCy pipeline."""

    def __init__(self, nlp: Language, themes: Sequence[Theme], acronyms: Mapping[str, str] | None = None):
        self.nlp = nlp
        self.keywords: list[CompiledKeyword] = []
        self._family_cache: dict[str, frozenset[str]] = {}
        terms = [(theme.id, term.strip()) for theme in themes for term in dict.fromkeys(theme.all_keywords)
                 if term.strip()]
        docs = nlp.pipe([term.rstrip("*") for _, term in terms])
        for (theme_id, term), doc in zip(terms, docs):
            self.keywords.append(self._compile(theme_id, term, doc))
        self._by_first_form: dict[str, list[int]] = {}
        self._prefixes: list[int] = []
        for index, keyword in enumerate(self.keywords):
            if keyword.kind == "prefix":
                self._prefixes.append(index)
                continue
            for form in keyword.slots[0]:
                self._by_first_form.setdefault(form, []).append(index)
        # An acronym stands for the keywords found in its expansion (without further acronyms).
        self.acronyms: dict[str, list[Match]] = {}
        for acronym, expansion in (acronyms or {}).items():
            found = self._match_tokens(list(nlp(expansion)), with_acronyms=False)
            if found:
                self.acronyms[acronym.upper()] = found

    # ------------------------------------------------------------------ compiling

    def _compile(self, theme_id: str, term: str, doc: Iterable[Token]) -> CompiledKeyword:
        if term.endswith("*"):
            return CompiledKeyword(theme_id, term, "prefix", (), (), normalise(term[:-1].lower()))
        words = [t for t in doc if not t.is_punct]
        content = [t for t in words if not _function_word(t)] or words
        if len(content) == 1 and len(words) == 1:
            token = content[0]
            if is_cased(term):
                forms = {CASED + normalise(token.text), CASED + strip_accents(normalise(token.text))}
                return CompiledKeyword(theme_id, term, "word", (frozenset(forms),), (frozenset(),))
            word = normalise(token.lower_)
            family = self.family(word)
            return CompiledKeyword(theme_id, term, "word", (frozenset({word, *family}),), (family,))
        slots: list[frozenset[str]] = []
        families: list[frozenset[str]] = []
        for token in content:
            if is_cased(token.text):
                slots.append(frozenset({CASED + normalise(token.text)}))
                families.append(frozenset())
                continue
            word = normalise(token.lower_)
            family = self.family(word)
            forms = {word, *family}
            lemma = normalise(token.lemma_.lower())
            if _inflection(word, lemma):  # "données" -> "donnée", not "aidant" -> "aider"
                forms.add(lemma)
            slots.append(frozenset(forms))
            families.append(family)
        return CompiledKeyword(theme_id, term, "phrase" if len(slots) > 1 else "word", tuple(slots), tuple(families))

    def family(self, word: str) -> frozenset[str]:
        """Words of the same root as `word` (not itself): derived by DERIVATIONS, kept when they
        are in the model's vocabulary and close in meaning."""
        if word in self._family_cache:
            return self._family_cache[word]
        vocab = self.nlp.vocab
        members = set()
        if word.isalpha() and vocab.has_vector(word):
            for a, b in DERIVATIONS:
                for old, new in ((a, b), (b, a)):
                    if old and not word.endswith(old):
                        continue
                    root = word[: len(word) - len(old)] if old else word
                    if len(root) < MIN_ROOT_LETTERS:
                        continue
                    candidate = root + new
                    if candidate == word or candidate in members or not vocab.has_vector(candidate):
                        continue
                    if vocab[word].similarity(vocab[candidate]) >= MIN_FAMILY_SIMILARITY:
                        members.add(candidate)
        result = frozenset(members)
        self._family_cache[word] = result
        return result

    # ------------------------------------------------------------------ matching

    def match(self, tokens: Sequence[Token]) -> list[Match]:
        """Every keyword found in the tokens, nested matches removed, in order of position."""
        return self._match_tokens(tokens, with_acronyms=True)

    def _match_tokens(self, tokens: Sequence[Token], *, with_acronyms: bool) -> list[Match]:
        forms = [token_forms(t) for t in tokens]
        breaks = [t.text in PHRASE_BREAKS for t in tokens]
        found: list[Match] = []
        for i, token_form in enumerate(forms):
            candidates = {k for form in token_form for k in self._by_first_form.get(form, ())}
            for index in sorted(candidates):
                keyword = self.keywords[index]
                positions = self._extend(keyword, forms, breaks, i)
                if positions is None:
                    continue
                how = keyword.kind
                if keyword.kind == "word" and not (token_form & (keyword.slots[0] - keyword.families[0])):
                    how = "family"
                found.append(Match(keyword.theme_id, keyword.term, positions, how))
            lower = normalise(tokens[i].lower_)
            for index in self._prefixes:
                keyword = self.keywords[index]
                if lower.startswith(keyword.prefix) and len(lower.replace("-", "")) >= len(keyword.prefix) + 3:
                    found.append(Match(keyword.theme_id, keyword.term, (i,), "prefix"))
            if with_acronyms and self.acronyms:
                text = tokens[i].text.strip(".-")
                if text.upper() in self.acronyms and (not text.islower() or len(text) >= 4):
                    found.extend(Match(m.theme_id, m.term, (i,), "acronym") for m in self.acronyms[text.upper()])
        return _outermost(found)

    def _extend(self, keyword: CompiledKeyword, forms: list[set[str]], breaks: list[bool],
                start: int) -> tuple[int, ...] | None:
        positions = [start]
        for slot in keyword.slots[1:]:
            position = positions[-1] + 1
            limit = min(len(forms), position + MAX_GAP + 1)
            while position < limit and not breaks[position] and not (forms[position] & slot):
                position += 1
            if position >= limit or breaks[position]:
                return None
            positions.append(position)
        return tuple(positions)


def _inflection(word: str, lemma: str) -> bool:
    """Whether a lemma is the same word without its inflection (all but the last letter of the
    shorter one in common), rather than another part of speech the lemmatiser chose."""
    shorter = min(len(word), len(lemma))
    return bool(lemma) and shorter > 2 and word[: shorter - 1] == lemma[: shorter - 1]


def _function_word(token: Token) -> bool:
    return token.is_stop or token.pos_ in ("DET", "ADP", "CCONJ", "SCONJ", "PRON") or not token.is_alpha


def _outermost(matches: Iterable[Match]) -> list[Match]:
    """Drop a match whose words all belong to a larger match (of any theme); one match per theme
    and set of words, so a word found as two keywords of one family ("mesure", "mesurer") counts
    once, as the keyword it is written as rather than a relative."""
    unique: dict[tuple[str, tuple[int, ...], str], Match] = {}
    for match in sorted(matches, key=lambda m: (m.how == "family", m.term)):
        # An acronym stands for its whole expansion: each keyword of it counts.
        unique.setdefault((match.theme_id, match.tokens, match.term if match.how == "acronym" else ""), match)
    spans = {m.tokens for m in unique.values()}
    sets = {span: set(span) for span in spans}
    kept = [m for m in unique.values()
            if not any(len(other) > len(m.tokens) and set(m.tokens) <= sets[other] for other in spans)]
    return sorted(kept, key=lambda m: (m.tokens, m.theme_id, m.term))
