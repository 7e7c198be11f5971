"""Captions out: WebVTT and SRT cues that follow subtitling practice, and the plain-text transcript.

A cue holds at most two lines of 42 characters and lasts 1 to 7 seconds; it ends at the end of
a sentence, at a pause or, when it is full, after the last comma that leaves it at least half
full; it never holds two speakers. Times come from the words (speech recognition gives each
word its time); a transcript without word times (an imported one) has its segments' times
shared out over the characters. WebVTT names the speaker of each cue with a voice tag
`<v Name>`; SRT, which has none, starts a cue with `Name: ` when the speaker changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .artefacts import Segment
from .typography import format_timestamp

LINE_CHARS = 42  # characters per line (BBC, Netflix and EBU practice for Latin scripts)
CUE_LINES = 2
CUE_MIN_S = 1.0
CUE_MAX_S = 7.0
PAUSE_S = 0.7  # a silence this long between words ends a cue
SENTENCE_ENDS = (".", "?", "!", "…")
CLAUSE_ENDS = (",", ";", ":", ")", "»", "—")


@dataclass
class Cue:
    start: float  # seconds
    end: float
    lines: list[str]
    speaker: str | None
    speaker_changed: bool  # the first cue of a turn

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass
class _Token:
    text: str
    start: float
    end: float


def _tokens(segment: Segment) -> list[_Token]:
    """The segment's words with their times: recognised ones, else (an imported transcript, or
    words that no longer match the text) shared out over the characters."""
    words = segment.text.split()
    if segment.words and len(segment.words) == len(words):
        # The text is what is shown (a reviewer's correction included), the words give the times.
        tokens = [_Token(text, w.start, w.end) for text, w in zip(words, segment.words)]
        return [piece for token in tokens for piece in _split_long(token)]
    total = max(len(" ".join(words)), 1)
    span = max(segment.end - segment.start, 0.0)
    tokens, position = [], 0
    for word in words:
        begin, position = position, position + len(word)
        tokens.append(_Token(word, segment.start + span * begin / total, segment.start + span * position / total))
        position += 1
    return [piece for token in tokens for piece in _split_long(token)]


def _split_long(token: _Token) -> list[_Token]:
    """A word longer than a line (an address) is cut into pieces of a line, its time shared out."""
    if len(token.text) <= LINE_CHARS:
        return [token]
    parts = [token.text[i:i + LINE_CHARS] for i in range(0, len(token.text), LINE_CHARS)]
    step = (token.end - token.start) / len(parts)
    return [_Token(part, token.start + i * step, token.start + (i + 1) * step) for i, part in enumerate(parts)]


def _line_break(lengths: list[int]) -> int | None:
    """Where words of these lengths go to a second line: 0 when they fit in one line of
    LINE_CHARS, else the first word of the second line that makes the two lines as even as
    possible (the first one the longer when they cannot be even); None when two lines are not
    enough. Counted from lengths: the cue search asks this for every candidate."""
    total = sum(lengths) + len(lengths) - 1
    if total <= LINE_CHARS:
        return 0
    best, best_longest, first = None, 0, -1
    for cut in range(1, len(lengths)):
        first += lengths[cut - 1] + 1
        longest = max(first, total - first - 1)
        if longest <= LINE_CHARS and (best is None or longest < best_longest):
            best, best_longest = cut, longest
    return best


def wrap(words: list[str]) -> list[str] | None:
    """The words in at most two lines of LINE_CHARS (see `_line_break`), or None when they do
    not fit."""
    cut = _line_break([len(w) for w in words])
    if cut is None:
        return None
    return [" ".join(words)] if cut == 0 else [" ".join(words[:cut]), " ".join(words[cut:])]


def _turns(segments: list[Segment]) -> Iterator[tuple[str | None, list[_Token]]]:
    """Consecutive segments of one speaker, as (speaker, tokens)."""
    speaker: str | None = None
    tokens: list[_Token] = []
    for segment in segments:
        if tokens and segment.speaker != speaker:
            yield speaker, tokens
            tokens = []
        speaker = segment.speaker
        tokens += _tokens(segment)
    if tokens:
        yield speaker, tokens


def _cost(end: str, last: bool, sentences_within: int, duration_s: float, chars: int) -> float:
    """How bad a cue is: where it ends (sentence end 0, clause end 1, mid-clause 3), sentences
    it runs on from (1 each), a cue too short to read (2), and 1 for being one more cue."""
    cost = 1.0 + (0.0 if last or end.endswith(SENTENCE_ENDS) else 1.0 if end.endswith(CLAUSE_ENDS) else 3.0)
    cost += sentences_within
    if duration_s < CUE_MIN_S or chars < 12:
        cost += 2.0
    return cost


def _cut(tokens: list[_Token]) -> Iterator[list[_Token]]:
    """A turn's tokens in cues: a pause of PAUSE_S always ends one; between pauses, the cheapest
    way to cut into cues that fit (`_cost`), found by dynamic programming."""
    run: list[_Token] = []
    for token in [*tokens, None]:
        if token is not None and (not run or token.start - run[-1].end < PAUSE_S):
            run.append(token)
            continue
        best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * len(run)
        for stop in range(1, len(run) + 1):
            # Cues ending at `stop`, growing backwards while they fit; their sizes kept as they grow.
            lengths, chars, sentences_within = [len(run[stop - 1].text)], len(run[stop - 1].text), 0
            for begin in range(stop - 1, -1, -1):
                if begin < stop - 1:
                    lengths.insert(0, len(run[begin].text))
                    chars += lengths[0] + 1
                    sentences_within += run[begin].text.endswith(SENTENCE_ENDS)
                    if run[stop - 1].end - run[begin].start > CUE_MAX_S or _line_break(lengths) is None:
                        break
                cost = best[begin][0] + _cost(run[stop - 1].text, stop == len(run), sentences_within,
                                              run[stop - 1].end - run[begin].start, chars)
                if cost < best[stop][0]:
                    best[stop] = (cost, begin)
        cuts, stop = [], len(run)
        while stop > 0:
            cuts.append(run[best[stop][1]:stop])
            stop = best[stop][1]
        yield from reversed(cuts)
        run = [token] if token is not None else []


def cues(segments: list[Segment]) -> list[Cue]:
    """The captions of a transcript (see the module's description for the rules)."""
    made: list[Cue] = []
    previous_speaker: str | None = None
    for speaker, tokens in _turns(segments):
        for index, group in enumerate(_cut(tokens)):
            lines = wrap([t.text for t in group]) or [" ".join(t.text for t in group)]
            start = group[0].start
            end = min(max(group[-1].end, start), start + CUE_MAX_S)
            made.append(Cue(start, end, lines, speaker, index == 0 and speaker != previous_speaker))
        previous_speaker = speaker
    # At least CUE_MIN_S on screen where the next cue leaves room.
    for index, cue in enumerate(made):
        if cue.end - cue.start < CUE_MIN_S:
            limit = made[index + 1].start if index + 1 < len(made) else float("inf")
            cue.end = max(cue.end, min(cue.start + CUE_MIN_S, limit))
    return made


def _escape_cue(text: str) -> str:
    # Text is data: a '<' in speech must not become markup in the captions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(segments: list[Segment]) -> str:
    """WebVTT, each cue with a `<v Speaker>` voice tag where the speaker is known."""
    out = ["WEBVTT", ""]
    for cue in cues(segments):
        voice = f"<v {_escape_cue(cue.speaker)}>" if cue.speaker else ""
        lines = [_escape_cue(line) for line in cue.lines]
        out += [f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}", voice + lines[0], *lines[1:], ""]
    return "\n".join(out)


def to_srt(segments: list[Segment]) -> str:
    """SubRip captions; a cue that opens a speaker's turn starts with `Name: `."""
    out = []
    for number, cue in enumerate(cues(segments), start=1):
        prefix = f"{cue.speaker}: " if cue.speaker and cue.speaker_changed else ""
        out += [str(number), f"{format_timestamp(cue.start, ',')} --> {format_timestamp(cue.end, ',')}",
                prefix + cue.lines[0], *cue.lines[1:], ""]
    return "\n".join(out)


def to_txt(segments: list[Segment]) -> str:
    """One line per segment, `[hh:mm:ss.mmm] Name : text`; parse_txt reads it back."""
    lines = []
    for segment in segments:
        prefix = f"{segment.speaker} : " if segment.speaker else ""
        lines.append(f"[{format_timestamp(segment.start)}] {prefix}{segment.text}")
    return "\n".join(lines) + ("\n" if lines else "")


WRITERS: dict[str, Callable[[list[Segment]], str]] = {"vtt": to_vtt, "srt": to_srt, "txt": to_txt}
