"""The artefacts the stages hand each other: typed, versioned JSON files that people can read.

    stage 1  Transcript       <id>.transcript.json   what was said, when, by whom, in which language
    stage 2  Tags             <id>.tags.json         passages, their themes, the quotes chosen
    stage 3  RenderManifest   <id>.render.json       the documents written, and what the site shows
    stage 4  SiteManifest     site.json              the files of the published site

Every artefact carries its `schema` ("synthese.<kind>/<version>"), the program that wrote it, the
`options` the stage used and `inputs_hash`, the hash of everything the stage read (set by the
workspace, see workspace.py). `load` refuses a file of another kind or of a version this program
does not read, with a message saying what to run; a transcript of the previous version is
migrated, since staff may have corrected one by hand. `save` writes atomically.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_serializer

from .. import __version__
from . import limits
from .errors import ArtefactError, SyntheseError
from .storage import read_json, write_text

A = TypeVar("A", bound="Artefact")
LANGUAGE_CODE = r"^[a-z]{2,3}$"  # Whisper's language codes (ISO 639-1, or 639-3 where there is none)

EntityLabel = Literal["PER", "ORG", "LOC"]  # spaCy's French labels kept for the index
ApprovalState = Literal["draft", "approved", "changed"]
RenderKind = Literal["session", "cycle"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Record(BaseModel):
    """A part of an artefact: strict about its keys, so a wrong shape is caught when loading.

    Keys named in OPTIONAL are left out of the file while empty (a segment's `lang`, a word's
    `p`), so that the files stay readable; every other key is always written.
    """

    model_config = ConfigDict(extra="forbid")
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _leave_out_empty(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in self.OPTIONAL:
            if data.get(key) in (None, "", [], {}):
                data.pop(key, None)
        return data


class Artefact(Record):
    """The header every artefact carries; subclasses add their payload and their SCHEMA."""

    SCHEMA: ClassVar[str]
    STAGE: ClassVar[str]  # the stage that writes it, for messages
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(default="", alias="schema")
    generator: str = f"synthese {__version__}"
    created: str = Field(default_factory=_now)
    inputs_hash: str = ""
    options: dict[str, Any] = {}
    _path: Path | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        if not self.schema_:
            self.schema_ = self.SCHEMA

    @property
    def path(self) -> Path | None:
        """The file it was loaded from or saved to."""
        return self._path

    @classmethod
    def load(cls: type[A], path: Path) -> A:
        """Read and check an artefact; any problem is an ArtefactError naming the file and the fix."""
        path = Path(path)
        data = read_json(path)
        schema = data.get("schema") if isinstance(data, dict) else None
        family, version = _schema_parts(schema)
        expected_family, expected_version = _schema_parts(cls.SCHEMA)
        if family != expected_family:
            found = f"schema {schema!r}" if schema else "no schema"
            raise ArtefactError(f"{path}: expected a {cls.STAGE} artefact ({cls.SCHEMA}), found {found}. "
                                f"Pass the file the {cls.STAGE} stage wrote.")
        if version != expected_version:
            if version is not None and expected_version is not None and version > expected_version:
                raise ArtefactError(f"{path}: written by a newer version of Synthèse ({schema}; this one reads "
                                    f"{cls.SCHEMA}). Update Synthèse, or re-run the {cls.STAGE} stage.")
            data = cls.migrate(data, path)
        try:
            artefact = cls.model_validate(data)
        except ValidationError as exc:
            raise ArtefactError(f"{path}: {_first_error(exc)}. Re-run the {cls.STAGE} stage to rebuild it"
                                " (or fix that value if you edited the file).") from None
        artefact._path = path
        return artefact

    @classmethod
    def migrate(cls, data: dict[str, Any], path: Path) -> dict[str, Any]:
        """Bring an artefact of an older version up to this one; by default it cannot be."""
        raise ArtefactError(f"{path}: written by an older version of Synthèse ({data.get('schema')}; this one "
                            f"reads {cls.SCHEMA}). Re-run the {cls.STAGE} stage: `synthese run --force`.")

    def save(self, path: Path) -> Path:
        """Write the artefact atomically as indented UTF-8 JSON."""
        write_text(path, self.model_dump_json(by_alias=True, indent=2) + "\n")
        self._path = Path(path)
        return self._path


def _schema_parts(schema: Any) -> tuple[str, int | None]:
    family, _, version = str(schema or "").partition("/")
    return family, int(version) if version.isdigit() else None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    return f"{where or 'top level'}: {error['msg']}"


def _session_time(value: float) -> float:
    """A time in a recording: finite, and within the longest session (limits.MAX_SESSION_SECONDS)."""
    if not math.isfinite(value) or value > limits.MAX_SESSION_SECONDS:
        raise ValueError(f"must be a time within the {limits.MAX_SESSION_SECONDS // 3600} hours a session may last")
    return value


# --- stage 1: the transcript --------------------------------------------------------------------

class Word(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("p", "speaker")

    start: float  # seconds from the start of the recording
    end: float
    text: str  # as printed, without the leading space
    p: float | None = None  # the recogniser's probability for the word, when it comes from one
    speaker: str | None = None

    _check_times = field_validator("start", "end")(_session_time)


class Segment(Record):
    """A stretch of speech, as the recogniser or the imported file cut it."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("lang", "words")

    id: int = 0
    start: float
    end: float
    text: str
    speaker: str | None = None
    lang: str | None = Field(default=None, pattern=LANGUAGE_CODE)  # only where it differs from the transcript's language
    words: list[Word] = []

    _check_start = field_validator("start", "end")(_session_time)


class Gap(Record):
    """A stretch where speech was heard but no text could be written: never left silent."""

    start: float
    end: float
    reason: str

    _check_times = field_validator("start", "end")(_session_time)


class Centroid(Record):
    """The mean voice print of one voice over a stretch of the session: a unit vector in the
    speaker model's space, never audio."""

    start: float  # the stretch its windows come from (seconds)
    end: float
    vector: list[float]

    _check_times = field_validator("start", "end")(_session_time)

    @field_validator("vector")
    @classmethod
    def _finite_vector(cls, value: list[float]) -> list[float]:
        if not value or not all(math.isfinite(x) for x in value):
            raise ValueError("must be a non-empty list of finite numbers")
        return value


class VoiceCentroids(Record):
    """A voice of the session and a few centroids of its voice prints, from different moments:
    what recognises it as a voice named in another session (pipeline/voices.py), without
    transcribing again."""

    label: str  # "Intervenant 1", as on the segments
    seconds: float  # its speech, as the diarization counted it
    centroids: list[Centroid] = []


class Diarization(Record):
    """Who spoke when, as the transcript records it: how many voices were asked for and found.
    The voices are labelled on the segments and words ("Intervenant 1"…); names come only from
    the review file, or from a voice profile staff made by naming the voice elsewhere.

    `voices` holds each voice's centroids when `voices.remember` was on at transcription (a
    transcript without them still loads; its voices are then never recognised nor remembered)."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("estimated_speakers", "requested", "same_voice_cosine", "voices")

    speakers_found: int
    estimated_speakers: int | None = None  # when the number was not given: what the clustering estimated
    requested: int | None = None  # the number of voices asked for, when given
    declared: int = 0  # speakers declared for the session in config.yaml
    model: str = ""
    seconds_of_speech: float = 0.0
    same_voice_cosine: float | None = None  # centres closer than this are one voice (the model's threshold)
    voices: list[VoiceCentroids] = []

    @property
    def heard(self) -> int:
        """The number of voices heard in the recording."""
        return self.estimated_speakers or self.speakers_found


class SpellingFix(Record):
    """Words heard nearly as a declared spelling (a speaker's name, an organisation) and written
    as declared: kept so that the change shows and can be undone (put `heard` back in place of
    `written`, in the segment, between `start` and `end`)."""

    segment: int
    start: float
    end: float
    heard: str
    written: str

    _check_times = field_validator("start", "end")(_session_time)


class HintCheck(Record):
    """A sentence whose words, decoded with the session's names and title as Whisper's prompt,
    held some of them that could be the prompt written as speech (`hints`): its speech decoded
    again without the prompt (`unprompted`). `unsupported` lists the hint words not heard so;
    two or more, and half of `hints`, make it an echo: the sentence then keeps the text decoded
    without the prompt (`kept`, transcribe/hints.py)."""

    start: float
    end: float
    hints: list[str]  # the hint words checked, as written with the prompt
    unsupported: list[str] = []
    prompted: str
    unprompted: str
    kept: Literal["prompted", "unprompted"]

    _check_times = field_validator("start", "end")(_session_time)


class SourceFile(Record):
    file: str
    sha256: str
    kind: str  # "audio", or the format of an imported transcript: vtt, srt, txt, docx, json


class Transcript(Artefact):
    SCHEMA: ClassVar[str] = "synthese.transcript/2"
    STAGE: ClassVar[str] = "transcribe"

    source: SourceFile
    language: str | None = None
    language_probability: float | None = None
    duration_s: float = 0.0
    model: dict[str, Any] | None = None
    segments: list[Segment] = []
    gaps: list[Gap] = []
    languages: dict[str, float] = {}  # seconds of speech per language, the transcript's first
    dropped: dict[str, int] = {}
    warnings: list[str] = []
    diarization: Diarization | None = None
    spelling_fixes: list[SpellingFix] = []  # transcribe/spellings.py: the declared spellings applied
    hint_checks: list[HintCheck] = []  # transcribe/hints.py: stretches decoded again without the prompt

    OPTIONAL: ClassVar[tuple[str, ...]] = ("diarization", "languages", "spelling_fixes", "hint_checks")

    @classmethod
    def migrate(cls, data: dict[str, Any], path: Path) -> dict[str, Any]:
        """Version 1 had the same segments, word timings under "word" and no gaps."""
        if data.get("schema") != "synthese.transcript/1":
            return super().migrate(data, path)
        segments = []
        for segment in data.get("segments") or []:
            if isinstance(segment, dict):
                words = [{"start": w.get("start"), "end": w.get("end"), "text": str(w.get("word", w.get("text", ""))).strip(),
                          **({"p": w["probability"]} if "probability" in w else {})}
                         for w in segment.get("words") or [] if isinstance(w, dict)]
                segment = {**segment, "words": words}
            segments.append(segment)
        return {**data, "schema": cls.SCHEMA, "segments": segments}

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


# --- stage 2: the tags ------------------------------------------------------------------------

class Evidence(Record):
    """Why a theme was given: a keyword found, closeness in meaning, or a reviewer's decision."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("term",)

    kind: Literal["keyword", "similarity", "review"]
    term: str = ""


class ThemeTag(Record):
    id: str
    score: float
    source: Literal["tagger", "review"] = "tagger"
    evidence: list[Evidence] = []

    @property
    def keywords(self) -> list[str]:
        return [e.term for e in self.evidence if e.kind == "keyword" and e.term]


class Entity(Record):
    text: str
    label: EntityLabel


class UnsureWord(Record):
    """A word the recogniser was unsure of (probability below core.heard.UNSURE_P), as written."""

    text: str
    p: float
    at: float  # when it was said (seconds)


class Sentence(Record):
    """A sentence of a passage, with its time: what quotes are made of."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("unsure",)

    start: float
    end: float
    text: str
    unsure: list[UnsureWord] = []  # its words the recogniser was unsure of, in order


class Passage(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("lang", "axes")

    id: str  # p001, p002… in order
    key: str  # "HH:MM:SS first words", how staff name it in the review file
    start: float
    end: float
    speaker: str | None = None
    text: str
    lang: str | None = Field(default=None, pattern=LANGUAGE_CODE)
    sentences: list[Sentence] = []
    themes: list[ThemeTag] = []
    entities: list[Entity] = []
    axes: list[ThemeTag] = []  # the programme's transversal axes (cycle.axes) it is tagged with

    def theme(self, theme_id: str) -> ThemeTag | None:
        return next((t for t in self.themes if t.id == theme_id), None)


class Quote(Record):
    """What a chapter quotes: whole sentences of one passage, elisions marked « […] »."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("sentences", "subtheme")

    passage: str
    start: float  # when its first sentence begins
    end: float  # when its last sentence ends
    text: str  # exactly as quoted
    sentences: list[int] = []  # the passage's sentences it is made of
    subtheme: str = ""  # the codebook sub-theme it goes under in its chapter ("" for none)


class HeldQuote(Record):
    """A quote a chapter would print, held back until a reviewer corrects or confirms its text
    (review file: `corrections`, `confirm`): the recogniser was unsure of some of its words
    ("unsure"), or heard speech next to it that it could not transcribe ("gap"), or heard the
    sentence again and again in nearly the same words ("repeated": a recording played again, or
    the recogniser stuck in a loop)."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("unsure",)

    theme: str
    passage: str
    start: float
    end: float
    text: str
    sentences: list[int]  # the passage's sentences it is made of
    doubtful: list[int]  # those to correct or confirm
    reasons: list[Literal["unsure", "gap", "repeated"]]
    unsure: list[UnsureWord] = []


class KeyPoints(Record):
    """Key sentences, chosen extractively: for the whole session and for each theme."""

    session: list[Quote] = []
    themes: dict[str, list[Quote]] = {}  # theme id -> its key sentences, in the order said


class Proposal(Record):
    """A message to retain proposed to staff: one of the session's most central sentences,
    quotable (heard with confidence or confirmed, not housekeeping), with the other sentences
    that say the same thing (core/ideas.py), which are never proposals of their own."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("similar",)

    quote: Quote
    similar: list[Quote] = []


class WrittenMessage(Record):
    """A message to retain staff wrote (review file `key_messages`), with the passages that
    support it (ids, in the order written; those whose key matches no passage are left out and
    reported in review.orphaned)."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("passages",)

    text: str
    passages: list[str] = []


class KeyMessages(Record):
    """« À retenir »: what staff wrote, else the proposals to start from."""

    written: list[WrittenMessage] = []
    proposals: list[Proposal] = []


class SpeakerSummary(Record):
    """What a named voice brought to the session: their time of speech, the themes they spoke
    to, two or three of their own sentences (quotable ones, never printed elsewhere in the
    document) and the sentence staff wrote to present them."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("presentation",)

    name: str
    seconds: float
    passages: int
    themes: list[str] = []  # theme ids, the most time first
    quotes: list[Quote] = []  # in the order said
    presentation: str = ""


class Exchange(Record):
    """A question and the answer that follows it: marked by staff (review file `questions`),
    or proposed (a question asked in the session's last part)."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("answer", "asked_by", "answered_by")

    source: Literal["review", "proposed"]
    question: Quote
    asked_by: str | None = None
    answer: Quote | None = None
    answered_by: str | None = None


class Statement(Record):
    """A sentence the session offers the cycle's synthesis, to find the ideas that recur from one
    session to another: a statement about the cycle's themes (not housekeeping), with its
    sentence-encoder vector (float16, base64: core/ideas.py). `doubtful`: a word of it the
    recogniser was unsure of is not checked yet, so the documents point to its moment without
    printing it."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("doubtful",)

    passage: str
    sentence: int
    start: float
    end: float
    text: str
    vector: str
    doubtful: bool = False


class IndexedEntity(Record):
    """A name found in the session, listed in the index or not, and why: "speaker",
    "organisation" and "known" (declared in config.yaml), "mentions" (recognised several times
    alike); left out: "once" (a single or inconsistent recognition), "common word" (also said
    as an ordinary word, or a theme's wording), "unsure" (recognised several times, but always
    in words the recogniser was unsure of), "excluded" (config.yaml). Staff may change `listed`;
    `reason` then says "review"."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("reason",)

    text: str
    label: EntityLabel
    count: int
    passages: list[str]
    listed: bool = True
    reason: str = ""


class Reference(Record):
    """A law, programme or standard the session cites (wording.fr.yaml's `reference_patterns`), as said."""

    text: str
    passages: list[str]


class GlossaryEntry(Record):
    """An acronym of config.yaml's `acronyms` said in the session, with its expansion."""

    term: str
    expansion: str
    passages: list[str]


class CodebookTheme(Record):
    id: str
    label: str
    description: str = ""
    keywords: list[str] = []


class Codebook(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("axes",)

    version: str
    themes: list[CodebookTheme]
    axes: list[CodebookTheme] = []  # the programme's transversal axes


class Approval(Record):
    """A session's review state (core/approval.py): "draft" until approved; "approved" while its
    content is the one approved; "changed" when it changed since. Who approved it and when."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("by", "at", "fingerprint")

    state: ApprovalState = "draft"
    by: str = ""
    at: str = ""  # ISO 8601 date and time of the approval, with its offset
    fingerprint: str = ""  # of the content approved

    @property
    def final(self) -> bool:
        """Whether the documents may be read as final (approved, unchanged since)."""
        return self.state == "approved"

    @property
    def date(self) -> dt.date | None:
        return dt.datetime.fromisoformat(self.at).date() if self.at else None


class Recognised(Record):
    """A voice labelled with the name of a voice profile it matches (pipeline/voices.py), until
    staff confirm it (review file `speakers:`) or reject it (`rejected_names:`)."""

    name: str
    similarity: float  # cosine between the voice's centroids and the profile's
    margin: float  # over the next closest profile, or voice of the session, whichever is closer


class ReviewSummary(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("recognised",)

    file: str
    status: Literal["reviewed", "not reviewed"]
    decisions_applied: int = 0  # on themes and excerpts
    corrections: int = 0  # misheard words corrected in the transcript
    speakers: dict[str, str] = {}  # voices named: label -> name
    recognised: dict[str, Recognised] = {}  # voices recognised, not named: label -> the profile's name
    orphaned: list[str] = []
    approval: Approval = Approval()


class Models(Record):
    asr: dict[str, Any] | None = None
    nlp: str = ""


class Tags(Artefact):
    SCHEMA: ClassVar[str] = "synthese.tags/2"
    STAGE: ClassVar[str] = "tag"

    session_id: str | None = None
    transcript: str  # the transcript's file name, beside the tags
    language: str | None = "fr"
    duration_s: float | None = None
    models: Models = Models()
    codebook: Codebook
    passages: list[Passage] = []
    excerpts: dict[str, list[Quote]] = {}  # theme id -> quotes, in the order they were said
    held: list[HeldQuote] = []  # quotes held back until a reviewer checks their text, in the order said
    key_points: KeyPoints = KeyPoints()
    key_messages: KeyMessages = KeyMessages()  # « À retenir »
    speakers: list[SpeakerSummary] = []  # the named voices, the most time of speech first
    exchanges: list[Exchange] = []  # questions and answers, in the order said
    axis_quotes: dict[str, list[Quote]] = {}  # axis id -> its sentences for the cycle's synthesis, in the order said
    statements: list[Statement] = []  # sentences to compare with the other sessions'
    entities: list[IndexedEntity] = []
    references: list[Reference] = []  # laws, programmes and standards cited, in alphabetical order
    glossary: list[GlossaryEntry] = []  # the acronyms said, in alphabetical order
    review: ReviewSummary
    warnings: list[str] = []

    def passage(self, passage_id: str) -> Passage | None:
        return next((p for p in self.passages if p.id == passage_id), None)


# --- stage 3: the documents -------------------------------------------------------------------

class ThemeCount(Record):
    id: str
    label: str
    passages: int


class SiteExcerpt(Record):
    """A quote as the site's theme pages show it."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("lang",)

    text: str
    speaker: str
    start_s: float
    timestamp: str
    anchor: str  # its id in the document's page, "" when the page does not show it
    replay_href: str | None = None
    lang: str = Field(default="", pattern=r"^([a-z]{2,3})?$")  # the language said, where it is not French


class PageSummary(Record):
    """What the site says of a rendered document, so publishing never rebuilds it."""

    title: str
    label: str  # 'Séance 2', or the cycle's document kind
    date: str = ""
    date_iso: str = ""
    duration: str = ""
    description: str = ""
    speakers: list[str] = []
    replay_url: str | None = None
    theme_counts: list[ThemeCount] = []  # every codebook theme, most present first
    excerpts: dict[str, list[SiteExcerpt]] = {}
    citation: str = ""  # how to cite the document ("" for a draft)
    review_mark: str = ""  # 'Document de travail — non relu' until approved, the site's banner
    review_note: str = ""  # why, in a sentence
    # What summarises the document in the site's feed: the session's key points (its « À
    # retenir » once the document has one).
    summary_points: list[SiteExcerpt] = []


class RenderManifest(Artefact):
    SCHEMA: ClassVar[str] = "synthese.render/2"
    STAGE: ClassVar[str] = "render"

    kind: RenderKind = "session"
    session_id: str | None = None
    stem: str
    sources: list[str] = []  # the tags files read
    files: dict[str, str] = {}  # format -> file name, beside the manifest
    sizes: dict[str, int] = {}
    charts: list[str] = []  # the images beside the documents: charts (wide and narrow), the logo
    fragment: str  # the document as an HTML fragment for the site (charts under '<stem>/')
    page: PageSummary
    # The review state the documents show (the cycle's: approved once every session is), and what
    # made them: tool, transcription and language models, codebook (for site.json).
    approval: Approval = Approval()
    provenance: dict[str, str] = {}

    def file(self, name: str) -> Path:
        """A file the manifest lists, beside it (never elsewhere)."""
        if self.path is None:
            raise SyntheseError(f"render manifest of {self.stem} has no folder: load it from its file")
        source = self.path.parent / Path(name).name
        if not source.is_file():
            raise SyntheseError(f"{source}: rendered file missing. Run `synthese run --force` to render it again.")
        return source


# --- stage 4: the site ------------------------------------------------------------------------

class SiteDocument(Record):
    """A published document's review state and what made it (tool, models, codebook)."""

    approval: Approval = Approval()
    provenance: dict[str, str] = {}


class MediaCopy(Record):
    """A file copied into the site as it was when copied: where from, its size and modification time."""

    source: str
    size: int
    mtime_ns: int


class SiteManifest(Artefact):
    """What publishing wrote: every file of the site (but site.json) with its sha256, so that the
    next publish replaces only those, and only while nobody has changed them."""

    SCHEMA: ClassVar[str] = "synthese.site/3"
    STAGE: ClassVar[str] = "publish"
    FILE: ClassVar[str] = "site.json"  # at the site's root: its presence marks a site Synthèse published
    UNKNOWN_HASH: ClassVar[str] = ""  # a file listed by a synthese.site/2 manifest, which kept no hashes

    sessions: list[str] = []
    themes: list[str] = []
    files: dict[str, str] = {}  # path relative to the site's root -> sha256 of its content
    documents: dict[str, SiteDocument] = {}  # session id (or "cycle") -> its review state and provenance
    # Replays copied into the site (publish.media: copy): path in the site -> the file copied, as
    # it was then, so that the next publish reuses the copy of an unchanged file.
    media: dict[str, MediaCopy] = {}

    @classmethod
    def migrate(cls, data: dict[str, Any], path: Path) -> dict[str, Any]:
        """A site of synthese.site/2 listed its files without their hashes: each keeps an unknown
        hash, so it can be replaced when it is there, whatever its content (publishing checks that
        nothing else is)."""
        if data.get("schema") == "synthese.site/2" and isinstance(data.get("files"), list):
            return {**data, "schema": cls.SCHEMA,
                    "files": {str(name): cls.UNKNOWN_HASH for name in data["files"]}}
        return super().migrate(data, path)


def recorded_hash(path: Path) -> str | None:
    """The inputs hash an artefact records, or None when it is missing or unreadable."""
    try:
        data = read_json(path)
    except SyntheseError:
        return None
    return data.get("inputs_hash") if isinstance(data, dict) else None
