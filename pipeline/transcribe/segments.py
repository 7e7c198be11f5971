"""The stage's own shapes: a word with its time and the recogniser's confidence, and a stretch
of speech made of words.

Every source of speech in this stage speaks them: the decoder (asr.py), the importers of
existing transcripts, the checkpoint of a long transcription. `transcription.artefact_segments`
turns them into the transcript's segments (core.artefacts), the contract with the next stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Word probability below which a word is flagged for review (`Word.flagged`; the transcript
# keeps every word's `p`): with the default decoding, 52-62 % of the words below 0.5 are wrong
# against 9-24 % of the others (FLEURS, the long session, the montage: bench_transcribe.py).
LOW_CONFIDENCE_P = 0.5


@dataclass
class Word:
    start: float  # seconds from the start of the recording
    end: float
    text: str  # as printed, no leading space
    p: float | None = None  # the recogniser's probability (the least sure of its pieces); None when imported without it

    @property
    def flagged(self) -> bool:
        """Low confidence: worth a look before the word is quoted."""
        return self.p is not None and self.p < LOW_CONFIDENCE_P

    def rounded(self) -> Word:
        """The word as the transcript keeps it: times to the millisecond, `p` to three digits."""
        return Word(round(self.start, 3), round(self.end, 3), self.text, None if self.p is None else round(self.p, 3))

    def shifted(self, offset_s: float) -> Word:
        return Word(round(self.start + offset_s, 3), round(self.end + offset_s, 3), self.text, self.p)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}
        if self.p is not None:
            data["p"] = round(self.p, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        """A word as `as_dict` saved it (checkpoint)."""
        return cls(float(data["start"]), float(data["end"]), str(data["text"]), data.get("p"))


@dataclass
class Segment:
    start: float  # seconds from the start of the recording
    end: float
    text: str
    speaker: str | None = None
    words: list[Word] | None = None  # when speech recognition (or our own transcript) timed them
    lang: str | None = None  # only when not the transcript's language

    def shifted(self, offset_s: float) -> Segment:
        """The segment `offset_s` seconds later, its words too."""
        words = [w.shifted(offset_s) for w in self.words] if self.words else None
        return Segment(round(self.start + offset_s, 3), round(self.end + offset_s, 3), self.text,
                       self.speaker, words, self.lang)

    def as_dict(self, index: int) -> dict[str, Any]:
        data: dict[str, Any] = {"id": index, "start": round(self.start, 3), "end": round(self.end, 3),
                                "text": self.text, "speaker": self.speaker}
        if self.lang:
            data["lang"] = self.lang
        if self.words:
            data["words"] = [w.as_dict() for w in self.words]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        """A segment as `as_dict` saved it (checkpoint)."""
        words = [Word.from_dict(w) for w in data.get("words") or []] or None
        return cls(data["start"], data["end"], data["text"], data.get("speaker"), words, data.get("lang"))
