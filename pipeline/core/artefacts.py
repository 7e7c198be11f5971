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
from .errors import ArtefactError, SyntheseError
from .storage import read_json, write_text

A = TypeVar("A", bound="Artefact")
LANGUAGE_CODE = r"^[a-z]{2,3}$"  # Whisper's language codes (ISO 639-1, or 639-3 where there is none)


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


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# --- stage 1: the transcript --------------------------------------------------------------------

class Word(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("p", "speaker")

    start: float  # seconds from the start of the recording
    end: float
    text: str  # as printed, without the leading space
    p: float | None = None  # the recogniser's probability for the word, when it comes from one
    speaker: str | None = None


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

    _check_start = field_validator("start", "end")(_finite)


class Gap(Record):
    """A stretch where speech was heard but no text could be written: never left silent."""

    start: float
    end: float
    reason: str


class SpellingFix(Record):
    """Words heard nearly as a declared spelling (a speaker's name, an organisation) and written
    as declared: kept so that the change shows and can be undone (put `heard` back in place of
    `written`, in the segment, between `start` and `end`)."""

    segment: int
    start: float
    end: float
    heard: str
    written: str


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
    diarization: dict[str, Any] | None = None
    spelling_fixes: list[SpellingFix] = []  # transcribe/spellings.py: the declared spellings applied

    OPTIONAL: ClassVar[tuple[str, ...]] = ("diarization", "languages", "spelling_fixes")

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
    label: Literal["PER", "ORG", "LOC"]


class Sentence(Record):
    """A sentence of a passage, with its time: what quotes are made of."""

    start: float
    end: float
    text: str


class Passage(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("lang",)

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


class KeyPoints(Record):
    """Key sentences, chosen extractively: for the whole session and for each theme."""

    session: list[Quote] = []
    themes: dict[str, list[Quote]] = {}  # theme id -> its key sentences, in the order said


class IndexedEntity(Record):
    """A name found in the session, listed in the index or not, and why: "speaker",
    "organisation" and "known" (declared in config.yaml), "mentions" (recognised several times
    alike); left out: "once" (a single or inconsistent recognition), "common word" (also said
    as an ordinary word, or a theme's wording), "excluded" (config.yaml). Staff may change
    `listed`; `reason` then says "review"."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ("reason",)

    text: str
    label: Literal["PER", "ORG", "LOC"]
    count: int
    passages: list[str]
    listed: bool = True
    reason: str = ""


class CodebookTheme(Record):
    id: str
    label: str
    description: str = ""
    keywords: list[str] = []


class Codebook(Record):
    version: str
    themes: list[CodebookTheme]


class ReviewSummary(Record):
    file: str
    status: Literal["reviewed", "not reviewed"]
    decisions_applied: int = 0  # on themes and excerpts
    corrections: int = 0  # misheard words corrected in the transcript
    speakers: dict[str, str] = {}  # voices named: label -> name
    orphaned: list[str] = []


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
    key_points: KeyPoints = KeyPoints()
    entities: list[IndexedEntity] = []
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
    citation: str = ""  # how to cite the document


class RenderManifest(Artefact):
    SCHEMA: ClassVar[str] = "synthese.render/2"
    STAGE: ClassVar[str] = "render"

    kind: Literal["session", "cycle"] = "session"
    session_id: str | None = None
    stem: str
    sources: list[str] = []  # the tags files read
    files: dict[str, str] = {}  # format -> file name, beside the manifest
    sizes: dict[str, int] = {}
    charts: list[str] = []  # the images beside the documents: charts (wide and narrow), the logo
    fragment: str  # the document as an HTML fragment for the site (charts under '<stem>/')
    page: PageSummary

    def file(self, name: str) -> Path:
        """A file the manifest lists, beside it (never elsewhere)."""
        if self.path is None:
            raise SyntheseError(f"render manifest of {self.stem} has no folder: load it from its file")
        source = self.path.parent / Path(name).name
        if not source.is_file():
            raise SyntheseError(f"{source}: rendered file missing. Run `synthese run --force` to render it again.")
        return source


# --- stage 4: the site ------------------------------------------------------------------------

class SiteManifest(Artefact):
    SCHEMA: ClassVar[str] = "synthese.site/2"
    STAGE: ClassVar[str] = "publish"
    FILE: ClassVar[str] = "site.json"  # at the site's root: its presence marks a site Synthèse published

    sessions: list[str] = []
    themes: list[str] = []
    files: list[str] = []


def recorded_hash(path: Path) -> str | None:
    """The inputs hash an artefact records, or None when it is missing or unreadable."""
    try:
        data = read_json(path)
    except SyntheseError:
        return None
    return data.get("inputs_hash") if isinstance(data, dict) else None
