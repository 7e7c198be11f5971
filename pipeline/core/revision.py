"""A transcript as reviewers revised it: words replaced, punctuation changed, stretches marked
inaudible or deleted, wherever the recogniser's segments begin and end; and the cycle's glossary.

The transcript is read as pieces: the words as shown (the text between two spaces of a segment),
each with the recogniser's words it is made of, so with their times and probabilities. An edit
names pieces as they read (compared without case and without the punctuation around them) near
a moment, and the words said instead; those replace the pieces, whichever segments they lie in:

- a piece whose word stays (only its punctuation or case changes) keeps its times, and its
  probability unless a correction names it (a person checked it: it is sure); a new word
  takes the times of the words it replaces, in proportion to its length, or of the silence
  between its neighbours, and has no probability (a person wrote it);
- the punctuation around the named words stays unless the new words bring their own
  ("veux-binaire." corrected to "webinaire" reads "webinaire.");
- segments follow the words: a segment whose words are all gone is left out, and when an edit
  puts a sentence end near the boundary between two segments of one voice, the boundary moves
  to it, so that a segment (and a caption) still ends with its sentence.

`INAUDIBLE` in the new words marks a stretch nobody can make out: it is kept in the text (the
annex shows it) and the tagger never quotes a sentence holding it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from .artefacts import Segment, Transcript, Word
from .heard import text_word_owners

INAUDIBLE = "[inaudible]"
PUNCTUATION = ".,;:!?«»\"'’()[]…“”—–-"
# How far from its time an edit looks for its words: times move a little when a replay is
# transcribed again, and segments last up to 30 s.
WINDOW_S = 45.0
_SENTENCE_END = re.compile(r"[.!?…][»\"”’)\]]*$")


def bare(token: str) -> str:
    """A word as edits compare it: lower case, the punctuation around it left out."""
    return token.strip(PUNCTUATION).lower().replace("’", "'")


def lead(token: str) -> str:
    """The punctuation before a word ("«" of "«Bonjour")."""
    return token[:len(token) - len(token.lstrip(PUNCTUATION))]


def trail(token: str) -> str:
    """The punctuation after a word ("," of "ville,")."""
    return token[len(token.rstrip(PUNCTUATION)):]


def ends_sentence(token: str) -> bool:
    return bool(_SENTENCE_END.search(token))


def starts_sentence(token: str) -> bool:
    first = token.lstrip("«\"“—–- ")[:1]
    return first.isupper() or first.isdigit()


def in_inaudible_sentences(segments: Sequence[tuple[str | None, Sequence[str]]]) -> list[list[bool]]:
    """For each word of these segments (each its voice and its words, in the order said), whether
    the sentence it belongs to holds a stretch marked INAUDIBLE. Such a sentence is never quoted
    nor a key point, so its words are never counted as unsure: there is nothing to check before
    quoting it. A sentence runs on across the segments of one voice and ends at a word that ends
    one."""
    flags = [[False] * len(words) for _, words in segments]
    sentence: list[tuple[int, int]] = []
    marked = False

    def close() -> None:
        nonlocal sentence, marked
        if marked:
            for s, w in sentence:
                flags[s][w] = True
        sentence, marked = [], False

    previous: str | None = None
    for s, (speaker, words) in enumerate(segments):
        if s and speaker != previous:
            close()
        previous = speaker
        for w, text in enumerate(words):
            sentence.append((s, w))
            marked = marked or INAUDIBLE in text
            if ends_sentence(text):
                close()
    close()
    return flags


@dataclass
class Piece:
    """A word as shown, with its times and where it comes from."""

    text: str
    start: float
    end: float
    words: list[Word] = field(default_factory=list)  # the recogniser's words it is made of
    p: float | None = None  # their lowest probability; None for a word a person wrote
    timed: bool = True  # False: times spread over a segment that has no word times
    source: str = ""  # "" as transcribed, "correction" or "glossary"
    replaced: str = ""  # the words it replaced, as they read before
    heard: str = ""  # the word before the glossary changed it (edits written before it still find it)
    checked: bool = False  # named by a correction that left it as it was: a person checked it, it is sure


def segment_pieces(segment: Segment) -> list[Piece]:
    """The segment's words as pieces: with the times and probability of the recognised words
    each is made of (matched by their characters, as core/heard.py matches them for the unsure
    words); without word times, times spread over the segment by characters."""
    texts = segment.text.split()
    owners = text_word_owners(segment)
    pieces: list[Piece] = []
    length = max(len(segment.text), 1)
    duration = max(segment.end - segment.start, 0.0)
    position = 0
    for text, owned in zip(texts, owners):
        position = segment.text.find(text, position)
        words = [segment.words[w] for w in owned]
        if words:
            probabilities = [w.p for w in words if w.p is not None]
            pieces.append(Piece(text, words[0].start, words[-1].end, words,
                                min(probabilities) if probabilities else None))
        elif segment.words:  # a word the recogniser did not give: at the end of the one before
            at = pieces[-1].end if pieces else segment.start
            pieces.append(Piece(text, at, at, timed=False))
        else:
            pieces.append(Piece(text, segment.start + duration * position / length,
                                segment.start + duration * (position + len(text)) / length, timed=False))
        position += len(text)
    return pieces


class Revision:
    """A transcript being revised: its segments and, for each, its pieces."""

    def __init__(self, transcript: Transcript):
        self.transcript = transcript
        self.segments = list(transcript.segments)
        self.pieces: list[list[Piece]] = [segment_pieces(s) for s in self.segments]
        self.touched: set[int] = set()
        self._first = [p[0] if p else None for p in self.pieces]
        self._last = [p[-1] if p else None for p in self.pieces]
        self._by_start = sorted(range(len(self.segments)), key=lambda i: self.segments[i].start)
        self._starts = [self.segments[i].start for i in self._by_start]
        self._longest = max((s.end - s.start for s in self.segments), default=0.0)

    # --- walking the words ---------------------------------------------------------------------

    def walk(self, segment: int = 0, index: int = 0) -> Iterator[tuple[int, int, Piece]]:
        """The pieces from (segment, index) on, with their places."""
        for s in range(segment, len(self.pieces)):
            pieces = self.pieces[s]
            for i in range(index if s == segment else 0, len(pieces)):
                yield s, i, pieces[i]

    def walk_back(self, segment: int, index: int) -> Iterator[tuple[int, int, Piece]]:
        """The pieces before (segment, index), nearest first."""
        for s in range(segment, -1, -1):
            pieces = self.pieces[s]
            for i in range((index if s == segment else len(pieces)) - 1, -1, -1):
                yield s, i, pieces[i]

    def all_pieces(self) -> list[tuple[int, int, Piece]]:
        return list(self.walk())

    def _times(self, segment: int) -> tuple[float, float]:
        if segment not in self.touched:
            return self.segments[segment].start, self.segments[segment].end
        return self._segment_times(segment)

    def candidates(self, at_s: float) -> list[int]:
        """The segments an edit said at `at_s` may apply to, nearest first."""
        # A segment's start moves when an edit gives it a word of its neighbour: some margin.
        low = bisect.bisect_left(self._starts, at_s - WINDOW_S - self._longest - 30.0)
        high = bisect.bisect_right(self._starts, at_s + WINDOW_S + 30.0)
        found = []
        for s in self._by_start[low:high]:
            start, end = self._times(s)
            if start - WINDOW_S <= at_s <= end + WINDOW_S:
                found.append((abs((start + end) / 2 - at_s), s))
        return [s for _, s in sorted(found)]

    def locate(self, words: Sequence[str], at_s: float) -> tuple[int, int] | None:
        """Where these words are (compared as `bare` words), said nearest `at_s`: the segment
        and the index of the first piece; they may run on into the segments after it."""
        wanted = [bare(w) for w in words]
        if not wanted:
            return None
        for s in self.candidates(at_s):
            for i in range(len(self.pieces[s])):
                if self._matches(wanted, s, i):
                    return s, i
        return None

    def _matches(self, wanted: Sequence[str], segment: int, index: int) -> bool:
        count = 0
        for _, _, piece in self.walk(segment, index):
            if wanted[count] != bare(piece.text) and not (piece.heard and wanted[count] == bare(piece.heard)):
                return False
            count += 1
            if count == len(wanted):
                return True
        return False

    def span(self, segment: int, index: int, count: int) -> list[tuple[int, int, Piece]]:
        found: list[tuple[int, int, Piece]] = []
        for place in self.walk(segment, index):
            if len(found) == count:
                break
            found.append(place)
        return found

    # --- changing them -------------------------------------------------------------------------

    def apply(self, original: Sequence[str], corrected: Sequence[str], at_s: float, *, source: str = "correction") -> bool:
        """Replace the words `original` said near `at_s` by `corrected`; False when they are
        not found there."""
        found = self.locate(original, at_s)
        if found is None:
            return False
        self.replace(self.span(*found, len(original)), corrected, source=source)
        return True

    def replace(self, span: Sequence[tuple[int, int, Piece]], corrected: Sequence[str], *, source: str,
                case_from_heard: bool = False) -> None:
        """Put `corrected` in place of the pieces of `span` (consecutive places)."""
        import difflib

        old = [piece for _, _, piece in span]
        new_words = list(corrected)
        if new_words:
            first, last = old[0].text, old[-1].text
            if not lead(new_words[0]) and lead(first):
                new_words[0] = lead(first) + new_words[0]
            if not trail(new_words[-1]) and trail(last):
                new_words[-1] = new_words[-1] + trail(last)
        if case_from_heard and new_words and old[0].text.lstrip(PUNCTUATION)[:1].isupper() \
                and self._at_sentence_start(*span[0][:2]):
            # A capital that starts a sentence stays ("Smart cité est…" -> "Smart city est…").
            text = new_words[0]
            at = len(lead(text))
            new_words[0] = text[:at] + text[at:at + 1].upper() + text[at + 1:]
        segments = [s for s, _, _ in span]
        before = self._before(*span[0][:2])
        after = self._after(*span[-1][:2])
        made: list[tuple[int, Piece]] = []
        matcher = difflib.SequenceMatcher(None, [bare(p.text) for p in old], [bare(w) for w in new_words],
                                          autojunk=False)
        for op, a1, a2, b1, b2 in matcher.get_opcodes():
            if op == "equal":
                for k in range(a2 - a1):
                    made.append((segments[a1 + k], self._kept(old[a1 + k], new_words[b1 + k], source)))
                continue
            if b1 == b2:
                continue  # words deleted
            if a1 < a2:
                start, end = old[a1].start, old[a2 - 1].end
                timed = all(p.timed for p in old[a1:a2])
                replaced = " ".join(p.text for p in old[a1:a2])
            else:  # words added between two others
                previous = made[-1][1] if made else before
                following = old[a1] if a1 < len(old) else after
                start = previous.end if previous else (following.start if following else 0.0)
                end = max(start, following.start) if following else start
                neighbour = previous or following
                timed = neighbour.timed if neighbour else False
                replaced = ""
            weights = [len(w) + 1 for w in new_words[b1:b2]]
            total = sum(weights)
            offset = 0
            for k, word in enumerate(new_words[b1:b2]):
                owner = segments[min(a1 + k * max(a2 - a1, 1) // (b2 - b1), len(segments) - 1)] if a1 < a2 else (
                    made[-1][0] if made else segments[min(a1, len(segments) - 1)])
                piece_start = start + (end - start) * offset / total
                offset += weights[k]
                piece_end = start + (end - start) * offset / total
                made.append((owner, Piece(word, round(piece_start, 3), round(piece_end, 3), timed=timed,
                                          source=source, replaced=replaced)))
        made = self._boundaries_at_sentence_ends(made)
        self._put(span, made)

    def _kept(self, piece: Piece, text: str, source: str) -> Piece:
        """A piece whose word stays: its text as now written (punctuation, case), its times. A
        word a correction names and leaves as it was has been checked by a person: it is sure
        (no probability), so a sentence held back for it may be quoted."""
        checked = source == "correction"
        if text == piece.text:
            if checked:
                # The same piece (its segment keeps its times), now sure.
                piece.p, piece.checked = None, True
            return piece
        changed = text.strip(PUNCTUATION) != piece.text.strip(PUNCTUATION)
        return replace(piece, text=text, source=source if changed else piece.source,
                       replaced=piece.text if changed else piece.replaced,
                       p=None if checked else piece.p, checked=piece.checked or checked)

    def _before(self, segment: int, index: int) -> Piece | None:
        return next((p for _, _, p in self.walk_back(segment, index)), None)

    def _after(self, segment: int, index: int) -> Piece | None:
        return next((p for _, _, p in self.walk(segment, index + 1)), None)

    def _at_sentence_start(self, segment: int, index: int) -> bool:
        previous = next(((s, p) for s, _, p in self.walk_back(segment, index)), None)
        if previous is None:
            return True
        s, piece = previous
        return ends_sentence(piece.text) or self.segments[s].speaker != self.segments[segment].speaker

    def _boundaries_at_sentence_ends(self, made: list[tuple[int, Piece]]) -> list[tuple[int, Piece]]:
        """Where the new words cross from a segment to the next of the same voice without a
        sentence end there, and a sentence now ends among them, the boundary moves to it."""
        owners = [s for s, _ in made]
        for b in range(1, len(made)):
            left, right = owners[b - 1], owners[b]
            if left == right or ends_sentence(made[b - 1][1].text) \
                    or self.segments[left].speaker != self.segments[right].speaker:
                continue
            ends = [k for k in range(1, len(made)) if ends_sentence(made[k - 1][1].text)
                    and starts_sentence(made[k][1].text) and owners[k - 1] in (left, right) and owners[k] in (left, right)]
            if not ends:
                continue
            k = min(ends, key=lambda k: abs(k - b))
            for j in range(min(k, b), max(k, b)):
                owners[j] = left if k > b else right
        return [(owner, piece) for owner, (_, piece) in zip(owners, made)]

    def _put(self, span: Sequence[tuple[int, int, Piece]], made: Sequence[tuple[int, Piece]]) -> None:
        first_segment, first_index, _ = span[0]
        last_segment, last_index, _ = span[-1]
        head = self.pieces[first_segment][:first_index]
        tail = self.pieces[last_segment][last_index + 1:]
        for s in range(first_segment, last_segment + 1):
            pieces = [piece for owner, piece in made if owner == s]
            if s == first_segment:
                pieces = head + pieces
            if s == last_segment:
                pieces = pieces + tail
            self.pieces[s] = pieces
            self.touched.add(s)

    def apply_glossary(self, entries: Sequence[tuple[str, str]]) -> list[int]:
        """Write each entry's `written` form where its `heard` words are said (whole words, any
        case), everywhere; a capital at the start of a sentence stays. Returns how many times
        each entry applied."""
        by_first: dict[str, list[list[str]]] = {}
        forms: dict[tuple[str, ...], str] = {}
        numbers: dict[tuple[str, ...], int] = {}
        counts = [0] * len(entries)
        for number, (heard, written) in enumerate(entries):
            wanted = [bare(w) for w in heard.split()]
            if wanted and all(wanted) and tuple(wanted) not in forms:
                forms[tuple(wanted)] = written
                numbers[tuple(wanted)] = number
                by_first.setdefault(wanted[0], []).append(wanted)
        for options in by_first.values():
            options.sort(key=len, reverse=True)  # the longest entry said there wins
        places = self.all_pieces()
        keys = [bare(p.text) for _, _, p in places]
        found: list[tuple[int, int, str]] = []
        k = 0
        while k < len(places):
            match = next((w for w in by_first.get(keys[k], []) if keys[k:k + len(w)] == w), None)
            if match is None:
                k += 1
                continue
            found.append((k, len(match), forms[tuple(match)]))
            counts[numbers[tuple(match)]] += 1
            k += len(match)
        for k, count, written in reversed(found):
            span = places[k:k + count]
            heard_words = [p.text for _, _, p in span]
            self.replace(span, written.split(), source="glossary", case_from_heard=True)
            made = [p for _, _, p in self.span(span[0][0], span[0][1], len(written.split()))]
            if len(made) == len(heard_words):
                for piece, text in zip(made, heard_words):
                    piece.heard = text
        return counts

    # --- the revised transcript -----------------------------------------------------------------

    def _segment_times(self, segment: int) -> tuple[float, float]:
        pieces, original = self.pieces[segment], self.segments[segment]
        if not pieces:
            return original.start, original.end
        start = original.start if pieces[0] is self._first[segment] else min(pieces[0].start, original.end)
        end = original.end if pieces[-1] is self._last[segment] else max(pieces[-1].end, start)
        return start, end

    def result(self) -> tuple[Transcript, list[list[Piece]]]:
        """The revised transcript (a copy: the transcript read is untouched) and the pieces of
        each of its segments."""
        segments: list[Segment] = []
        kept: list[list[Piece]] = []
        for index, (segment, pieces) in enumerate(zip(self.segments, self.pieces)):
            if index not in self.touched:
                segments.append(segment.model_copy(deep=True))
                kept.append(pieces)
                continue
            if not pieces:
                continue  # all its words deleted, or moved to its neighbour
            start, end = self._segment_times(index)
            words = []
            if segment.words:
                # One word per piece: the captions then take each word's own time.
                for piece in pieces:
                    probabilities = [w.p for w in piece.words if w.p is not None]
                    speaker = next((w.speaker for w in piece.words if w.speaker), segment.speaker)
                    words.append(Word(start=piece.start, end=piece.end, text=piece.text,
                                      p=min(probabilities) if probabilities and not (piece.source or piece.checked)
                                      else None,
                                      speaker=speaker))
            segments.append(Segment(id=segment.id, start=start, end=end, text=" ".join(p.text for p in pieces),
                                    speaker=segment.speaker, lang=segment.lang, words=words))
            kept.append(pieces)
        return self.transcript.model_copy(update={"segments": segments}, deep=True), kept
