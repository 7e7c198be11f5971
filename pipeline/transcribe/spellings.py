"""Declared spellings applied after recognition: names heard nearly right are written as declared.

Whisper gets the session's names and title as its prompt, and what it wrote of them is kept
only where it hears them without the prompt too (hints.py): with the names of four speakers as
its prompt it wrote a sentence made only of them ("Oui, [name], [name], [name], Agence
d'urbanisme.") over speech that said something else. Where the words decoded without the prompt
are kept, and wherever Whisper heard a name nearly right, a word or a few words that sound like
a declared spelling and are spelled nearly like it are written as declared ("Eulalie Creuset"
→ "Eulalie Creusé", "Pouka" → "Puca"). Nothing can be written where nothing like it was heard.

The match is conservative, so that ordinary words are never rewritten:
- the heard words must look like a name: a capital that is not the first letter of a sentence
  (or follows an elision: « d'Eulalie »), or an acronym; lower-case words are ordinary words
  ("creuse", "martin") and stay as they are, except a full name (every word capitalised:
  "Bénédicte Vautrin") heard broken into more words than it has, that sound closer still,
  within one edit in seven ("bénédique de votre int");
- they must sound alike (a French phonetic key that starts with the same sound, within one
  edit in five) and be spelled alike (letters within one edit in two); a short spelling must
  sound exactly the same;
- they lie inside one sentence, with no punctuation between the words.

Every replacement is returned with the segment, the times and the words as heard, so that the
transcript shows it and it can be undone. `apply_spellings` is a function of segments and
spellings only: the stage applies the declared names with it, and any other list of spellings
(a cycle's glossary) can be applied the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..core.artefacts import Segment, SpellingFix, Word
from ..core.textnorm import edit_distance

# How far a heard span may be from a spelling, as a share of the longer string.
MAX_SOUND_DISTANCE = 0.2  # phonetic keys: "mesnar" / "menar"
CLOSE_SOUND_DISTANCE = 0.15  # a full name heard in lower-case words must sound this close
MAX_LETTER_DISTANCE = 0.5  # letters without accents: "pouka" / "puca", "sidonnylandre" / "sidonielenglet"
SHORT_KEY = 4  # a spelling whose key is this short must sound exactly the same

_ELISION = re.compile(r"^((?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’])(?=\w)", re.IGNORECASE)
_LEADING = "«“\"'‘([{¿¡"
_TRAILING = "»”\"'’)]},.;:!?…"
_SENTENCE_END = (".", "?", "!", "…")


@dataclass(frozen=True)
class _Form:
    """A declared spelling, ready to compare."""

    text: str
    words: int
    letters: str
    sound: str
    elided: bool  # starts with an elision: "L'Atelier"
    full_name: bool  # two words or more, each capitalised: "Eulalie Creusé", "Université Gustave Eiffel"


@dataclass
class _Token:
    opening: str  # leading punctuation ("«", "(")
    elision: str  # "d'", "l'"…
    core: str
    suffix: str  # trailing punctuation
    name_like: bool
    # Keys of the word without and with its elision, computed once per word.
    sound: str = ""
    sound_elided: str = ""
    letters: str = ""
    letters_elided: str = ""


@lru_cache(maxsize=65536)
def letters(text: str) -> str:
    """Lower-case letters and digits without accents: "Creusé" "creuse", "d'urbanisme" "durbanisme"."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).replace("œ", "oe").replace(
        "æ", "ae")


# Rules in order, on lower-case text with its accents: spellings of one sound become one symbol
# (E: é, è, ai…; 2: eu; A, O, I: the nasal vowels; S: ch; Z: the voiced s).
_SOUND_RULES: list[tuple[str, str]] = [
    (r"[^a-zàâäçéèêëîïôöùûüÿœæ]", ""),
    (r"œu|œ|eu", "2"), (r"æ", "E"),
    (r"[àâä]", "a"), (r"[îï]", "i"), (r"[ôö]", "o"), (r"[ùûü]", "u"), (r"ÿ", "i"),
    (r"eaux?$", "o"), (r"eau", "o"), (r"ault$", "o"), (r"au", "o"),
    (r"sch|ch|sh", "S"), (r"ph", "f"), (r"th", "t"), (r"gu(?=[eiy])", "g"), (r"qu", "k"),
    # "eu" is already 2 here ("ceux"); a final x after eu, ou, au is silent ("ceux", "Giroux").
    (r"ge(?=[aou])", "j"), (r"g(?=[eéèêiy2])", "j"), (r"c(?=[eéèêiy2])", "s"), (r"ç", "s"), (r"ck|c|q", "k"),
    (r"(?<=[2uo])x$", ""), (r"x", "ks"), (r"w", "v"), (r"y", "i"), (r"h", ""),
    (r"ou", "u"), (r"oi", "wa"),
    (r"(?<=[aeiouéèêE2])s(?=[aeiouéèêE2y])", "Z"),
    (r"(?:ai|ei)(?![mn])", "E"), (r"[éèê]", "E"), (r"e(?:r|z|t|ts|s)$", "E"), (r"es(?=[^aeiouE2Z])", "E"),
    # A vowel after n or m (w: "oi" already read) makes it no nasal: "Lenoir", "Simone".
    (r"(?:ain|ein|in|im|un|um)(?![aeiouwE2nm])", "I"), (r"(?:an|am|en|em)(?![aeiouwE2nm])", "A"),
    (r"(?:on|om)(?![aeiouwE2nm])", "O"),
    (r"ë", "e"), (r"(?<=.)[stdxzp]+$", ""), (r"(?<=.)e$", ""),
    (r"(.)\1+", r"\1"),
]
_SOUND_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in _SOUND_RULES]


@lru_cache(maxsize=65536)  # a transcript says the same words again and again
def sound(text: str) -> str:
    """A French phonetic key: text that sounds alike gets the same or a close key
    ("Ménard" and "Mesnard" both "mEnar"; "Puca" and "Pouka" both "puka")."""
    keys = []
    for word in unicodedata.normalize("NFC", text.lower()).split():
        for pattern, replacement in _SOUND_COMPILED:
            word = pattern.sub(replacement, word)
        keys.append(word)
    return "".join(keys)


def _share(a: str, b: str) -> float:
    return edit_distance(a, b) / max(len(a), len(b), 1)


def _forms(spellings: Sequence[str]) -> list[_Form]:
    forms, seen = [], set()
    for text in spellings:
        text = " ".join(text.split())
        if not text or text in seen or not letters(text):
            continue
        seen.add(text)
        words = text.split()
        full_name = len(words) >= 2 and all(_ELISION.sub("", w)[:1].isupper() for w in words)
        forms.append(_Form(text, len(words), letters(text), sound(text), bool(_ELISION.match(text)), full_name))
    return forms


def _tokens(texts: Sequence[str]) -> list[_Token]:
    tokens: list[_Token] = []
    for index, text in enumerate(texts):
        stripped = text.lstrip(_LEADING)
        opening = text[:len(text) - len(stripped)]
        found = _ELISION.match(stripped)
        elision = found.group(1) if found else ""
        stripped = stripped[len(elision):]
        core = stripped.rstrip(_TRAILING)
        suffix = stripped[len(core):]
        starts_sentence = index == 0 or texts[index - 1].rstrip("»”\"')]} ").endswith(_SENTENCE_END)
        capital = bool(core) and core[0].isupper()
        acronym = len(core) >= 2 and core.isupper()
        name_like = acronym or (capital and (not starts_sentence or bool(elision)))
        tokens.append(_Token(opening, elision, core, suffix, name_like, sound(core), sound(elision + core),
                             letters(core), letters(elision + core)))
    return tokens


def word_core(text: str) -> str:
    """A printed word without the punctuation around it and its elision: "(d'Eulalie," "Eulalie"."""
    return _ELISION.sub("", text.lstrip(_LEADING)).rstrip(_TRAILING)


def name_like(texts: Sequence[str]) -> list[bool]:
    """For each printed word of a text, in order, whether it looks like a name: a capital that
    does not open a sentence (or follows an elision), or an acronym."""
    return [token.name_like for token in _tokens(texts)]


def _similar(heard_sound: str, heard_letters: str, form: _Form, max_sound: float = MAX_SOUND_DISTANCE) -> float | None:
    """How far heard words (their phonetic key and letters) are from the form (0: the same sound
    and letters), or None when they are too far to be the same name."""
    if len(form.sound) <= SHORT_KEY and heard_sound != form.sound:
        return None
    if heard_sound[:1] != form.sound[:1]:
        return None  # a name is heard with its first sound ("Tibolais Coffier", "Si Donny Landrè")
    longer = max(len(heard_sound), len(form.sound), 1)
    if abs(len(heard_sound) - len(form.sound)) > max_sound * longer:
        return None  # too far already by their lengths: no need to align them
    sound_share = _share(heard_sound, form.sound)
    if sound_share > max_sound:
        return None
    letter_share = _share(heard_letters, form.letters)
    if letter_share > MAX_LETTER_DISTANCE:
        return None
    return sound_share + letter_share


@dataclass
class _Match:
    begin: int  # token indexes, end excluded
    end: int
    form: _Form
    distance: float


def _matches(tokens: list[_Token], forms: list[_Form]) -> list[_Match]:
    """The best non-overlapping spans that are a declared spelling heard nearly right (a span
    heard exactly right is kept too, so that no other spelling rewrites part of it)."""
    found: list[_Match] = []
    for form in forms:
        # A name may be heard as more words than it has ("Gaspard ou d'un brimon"), or fewer.
        for size in range(max(1, form.words - 1), form.words + min(form.words, 2) + 1):
            for begin in range(0, len(tokens) - size + 1):
                span = tokens[begin:begin + size]
                if not span[0].core or any(t.suffix for t in span[:-1]) or any(not t.core for t in span):
                    continue
                if any(t.opening for t in span[1:]):
                    continue  # an opening quote or bracket inside the span
                # Words in lower case are ordinary words, unless they are a full name broken
                # into more words than it has, that sound closer still ("bénédique de votre
                # int"): "rose blanche" stays, even with a Rose Blanc declared.
                name_like = any(t.name_like for t in span)
                if not name_like and not (form.full_name and size > form.words):
                    continue
                # Elisions inside the span are part of its words ("d'urbanisme"); the first
                # word's too when the form starts with one ("L'Atelier").
                first = span[0]
                heard_sound = (first.sound_elided if form.elided else first.sound) + "".join(
                    t.sound_elided for t in span[1:])
                heard_letters = (first.letters_elided if form.elided else first.letters) + "".join(
                    t.letters_elided for t in span[1:])
                if not name_like and heard_letters == form.letters:
                    continue  # the same letters in lower case: an ordinary phrase, left as it is
                distance = _similar(heard_sound, heard_letters, form,
                                    MAX_SOUND_DISTANCE if name_like else CLOSE_SOUND_DISTANCE)
                if distance is not None:
                    found.append(_Match(begin, begin + size, form, distance))
    # The fullest spelling first ("Maëlle Kerbrat" heard "Maël Kerbrat" before "Kerbrat" alone).
    found.sort(key=lambda m: (-m.form.words, m.distance, m.begin))
    chosen: list[_Match] = []
    for match in found:
        if all(match.end <= c.begin or match.begin >= c.end for c in chosen):
            chosen.append(match)
    return sorted(chosen, key=lambda m: m.begin)


def _written(tokens: list[_Token], match: _Match) -> str:
    """The declared spelling in place of the span, with the punctuation around the span, and the
    elision before it unless the spelling starts with its own."""
    first, last = tokens[match.begin], tokens[match.end - 1]
    return first.opening + ("" if match.form.elided else first.elision) + match.form.text + last.suffix


def _respelled_words(words: list[Word], tokens: list[_Token], match: _Match) -> list[Word]:
    """The heard words of a span replaced by the declared spelling's: same number, each keeps its
    times and probability; otherwise the span's time is shared by length, the least probability kept."""
    heard = words[match.begin:match.end]
    written = _written(tokens, match).split()
    if len(written) == len(heard):
        return [w.model_copy(update={"text": text}) for w, text in zip(heard, written)]
    start, end = heard[0].start, heard[-1].end
    weights = [len(t) for t in written]
    total = sum(weights)
    probabilities = [w.p for w in heard if w.p is not None]
    out, position = [], start
    for text, weight in zip(written, weights):
        finish = position + (end - start) * weight / total
        out.append(Word(start=round(position, 3), end=round(finish, 3), text=text,
                        p=min(probabilities) if probabilities else None, speaker=heard[0].speaker))
        position = finish
    return out


def apply_spellings(segments: Sequence[Segment], spellings: Sequence[str]) -> tuple[list[Segment], list[SpellingFix]]:
    """The segments with every word or span of words that was heard nearly as a declared
    spelling written as declared, and the list of what was replaced (segment id, times, the
    words as heard and as written).

    Segments in another language than the transcript's (`lang` set) are left as they are. The
    words keep their times and probability; the segment's text is rebuilt from them.
    """
    forms = _forms(spellings)
    if not forms:
        return list(segments), []
    out: list[Segment] = []
    fixes: list[SpellingFix] = []
    for segment in segments:
        texts = [w.text for w in segment.words] if segment.words else segment.text.split()
        # Another language, or words that are not the text split on spaces (a language written
        # without them): left as they are.
        if segment.lang or not texts or " ".join(texts) != " ".join(segment.text.split()):
            out.append(segment)
            continue
        tokens = _tokens(texts)
        matches = [m for m in _matches(tokens, forms) if " ".join(texts[m.begin:m.end]) != _written(tokens, m)]
        if not matches:
            out.append(segment)
            continue
        words = list(segment.words)
        new_texts, new_words, cursor = [], [], 0
        for match in matches:
            heard = " ".join(texts[match.begin:match.end])
            new_texts += texts[cursor:match.begin] + [_written(tokens, match)]
            if words:
                new_words += words[cursor:match.begin] + _respelled_words(words, tokens, match)
                start, end = words[match.begin].start, words[match.end - 1].end
            else:
                start, end = segment.start, segment.end
            fixes.append(SpellingFix(segment=segment.id, start=start, end=end, heard=heard,
                                     written=_written(tokens, match)))
            cursor = match.end
        new_texts += texts[cursor:]
        update: dict = {"text": " ".join(new_texts)}
        if words:
            update["words"] = new_words + words[cursor:]
        out.append(segment.model_copy(update=update))
    return out, fixes
