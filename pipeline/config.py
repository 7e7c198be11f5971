"""config.yaml: the cycle, its sessions, the theme codebook and the settings staff edit.

One pydantic model per section; unknown keys are errors. Every error names the file, the line
and the key, and says what to do.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

SESSION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
THEME_ID = SESSION_ID


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Speaker(Strict):
    name: str
    role: str = ""
    organisation: str = ""


class Session(Strict):
    id: str
    number: int | None = None
    date: dt.date | None = None
    title: str
    media: Path | None = None
    transcript: Path | None = None
    replay_url: str | None = None
    speakers: list[Speaker] = []
    description: str = ""

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        # The id names folders and files: it must never escape transcripts/ or outputs/.
        if not SESSION_ID.match(value):
            raise ValueError(
                f"session id {value!r} must be lower-case letters, digits, '-' or '_' "
                "(at most 64), e.g. 'seance-2'"
            )
        return value

    @field_validator("replay_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://[^\s\"'<>]+$", value):
            raise ValueError(f"replay_url {value!r} must be an http(s) address")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Session:
        if self.media is None and self.transcript is None:
            raise ValueError("give either 'media' (the replay) or 'transcript' (an existing transcript)")
        return self

    @property
    def source(self) -> Path:
        """The file the pipeline starts from: an existing transcript wins over the media."""
        return self.transcript or self.media  # type: ignore[return-value]


class SubTheme(Strict):
    label: str
    keywords: list[str] = []


class Theme(Strict):
    id: str
    label: str
    description: str
    keywords: list[str]
    subthemes: list[SubTheme] = []
    examples: list[str] = []

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not THEME_ID.match(value):
            raise ValueError(f"theme id {value!r} must be lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("keywords")
    @classmethod
    def _has_keywords(cls, value: list[str]) -> list[str]:
        if not [k for k in value if k.strip()]:
            raise ValueError("a theme needs at least one keyword")
        return value

    @property
    def all_keywords(self) -> list[str]:
        return [*self.keywords, *(k for sub in self.subthemes for k in sub.keywords)]


class Cycle(Strict):
    title: str
    subtitle: str = ""
    organiser: str
    description: str = ""
    axes: list[str] = []
    url: str | None = None


class TranscribeOptions(Strict):
    model: str = "base"
    model_cache: Path | None = None
    # Fetch a named model (small, medium, large-v3, turbo) from the Hugging Face hub when it is
    # not on this computer. Off by default: the tool never downloads anything unless told to.
    allow_download: bool = False
    language: str = "fr"
    compute_type: str = "int8"
    cpu_threads: int = Field(default=0, ge=0)
    batched: bool = True
    batch_size: int = Field(default=8, ge=1, le=64)
    beam_size: int = Field(default=5, ge=1, le=10)
    vad: bool = True
    vocabulary_hints: bool = True
    word_timestamps: bool = False
    checkpoint_every_s: float = Field(default=300.0, gt=0)


class TagOptions(Strict):
    spacy_model: str = "fr_core_news_md"
    passage_min_words: int = Field(default=40, ge=1)
    passage_max_words: int = Field(default=130, ge=10)
    pause_s: float = Field(default=1.5, ge=0)
    keyword_weight: float = Field(default=0.6, ge=0)
    similarity_weight: float = Field(default=0.4, ge=0)
    threshold: float = Field(default=0.5, ge=0, le=1)
    # Calibration of the two theme signals (see pipeline/themes.py, bench/bench_tag.py): distinct
    # keywords for a keyword score of 1 - 1/e, and the relative similarity mapped to 0 and to 1.
    keyword_saturation: float = Field(default=1.0, gt=0)
    similarity_low: float = -0.02
    similarity_high: float = 0.08
    excerpts_per_theme: int = Field(default=3, ge=0, le=50)
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)

    @model_validator(mode="after")
    def _lengths(self) -> TagOptions:
        if self.passage_min_words > self.passage_max_words:
            raise ValueError("passage_min_words must not exceed passage_max_words")
        if self.similarity_low >= self.similarity_high:
            raise ValueError("similarity_low must be below similarity_high")
        return self


class RenderOptions(Strict):
    formats: list[Literal["pdf", "docx", "html"]] = ["pdf", "docx", "html"]
    transcript_annex: bool = True
    author: str = ""


class PublishOptions(Strict):
    output_dir: Path = Path("outputs")


class DiarizeOptions(Strict):
    """Who spoke when (pipeline/diarize.py)."""

    enabled: bool = True
    # "auto": the number of speakers the session declares, or an estimate when it declares none;
    # "estimate": always estimated; a number: that many voices.
    speakers: int | Literal["auto", "estimate"] = "auto"
    max_speakers: int = Field(default=8, ge=1, le=30)
    model: Literal["campplus", "ge2e"] = "campplus"  # speaker model (see NOTICE for their origin)

    @field_validator("speakers")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("speakers must be at least 1, 'auto' or 'estimate'")
        return value

    def voices_to_find(self, declared: int) -> int | None:
        """The number of voices to look for given the session's declared speakers; None: estimate."""
        if isinstance(self.speakers, int):
            return self.speakers
        if self.speakers == "auto" and declared > 0:
            return declared
        return None


class Config(Strict):
    cycle: Cycle
    sessions: list[Session]
    themes: list[Theme]
    transcribe: TranscribeOptions = TranscribeOptions()
    tag: TagOptions = TagOptions()
    render: RenderOptions = RenderOptions()
    publish: PublishOptions = PublishOptions()
    diarize: DiarizeOptions = DiarizeOptions()

    @field_validator("sessions")
    @classmethod
    def _unique_sessions(cls, value: list[Session]) -> list[Session]:
        _no_duplicates([s.id for s in value], "session id")
        return value

    @field_validator("themes")
    @classmethod
    def _unique_themes(cls, value: list[Theme]) -> list[Theme]:
        if not value:
            raise ValueError("the codebook needs at least one theme")
        _no_duplicates([t.id for t in value], "theme id")
        return value

    # Filled in by load_config: where the file is, so relative paths resolve against it.
    path: Path = Path("config.yaml")
    lines: dict[str, int] = {}

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.root / path

    def session(self, session_id: str) -> Session:
        for session in self.sessions:
            if session.id == session_id:
                return session
        known = ", ".join(s.id for s in self.sessions) or "none"
        raise ConfigError(f"{self.path.name}: no session with id {session_id!r} (known: {known})")

    def where(self, *loc: str | int) -> str:
        """'config.yaml, line N' for a key, to point staff at the place to fix."""
        line = self.lines.get(_loc_key(loc))
        return f"{self.path.name}, line {line}" if line else self.path.name

    def source_of(self, session: Session) -> Path:
        """The session's input file, checked: a missing file names the key and the line to fix."""
        key = "transcript" if session.transcript else "media"
        path = self.resolve(session.source)
        if not path.is_file():
            index = self.sessions.index(session)
            raise ConfigError(
                f"{self.where('sessions', index, key)}: sessions[{index}].{key}: file not found: "
                f"{session.source}. Fix the path (relative to {self.path.name}) or put the file there."
            )
        return path

    @property
    def transversal_axes(self) -> list[str]:
        return self.cycle.axes


def _no_duplicates(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {what} {item!r}: each must be unique")
        seen.add(item)


def _loc_key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _line_map(node: yaml.Node, prefix: tuple[Any, ...] = ()) -> dict[str, int]:
    """Map each key path ('sessions.0.media') to its 1-based line in the YAML file."""
    lines = {_loc_key(prefix): node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            lines.update(_line_map(value_node, path))
            lines[_loc_key(path)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_map(item, (*prefix, index)))
    return lines


def _describe(error: dict[str, Any], name: str, lines: dict[str, int]) -> str:
    loc = tuple(error["loc"])
    # pydantic appends the validator's name for model validators; keep only real keys.
    while loc and isinstance(loc[-1], str) and "[" in loc[-1]:
        loc = loc[:-1]
    line = None
    for end in range(len(loc), -1, -1):
        line = lines.get(_loc_key(loc[:end]))
        if line:
            break
    where = f"{name}, line {line}" if line else name
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[:-1]).lstrip(".")
        return (
            f"{where}: unknown key '{loc[-1]}'"
            + (f" in {parent}" if parent else "")
            + ". Remove it or fix its spelling."
        )
    if kind == "missing":
        return f"{where}: {dotted} is missing. Add it."
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {dotted}: {message}."


def load_config(path: Path | str = "config.yaml") -> Config:
    """Read and validate config.yaml; raise ConfigError naming the file, line and key."""
    path = Path(path)
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found. Run from the project folder or pass --config PATH."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc}). Save it as UTF-8 text.") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}. Check the indentation and quoting there.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected keys such as 'cycle', 'sessions' and 'themes' at the top level.")
    lines = _line_map(node) if node is not None else {}
    try:
        config = Config.model_validate({**data, "path": path.resolve(), "lines": lines})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_describe(first, name, lines)) from None
    for key in ("path", "lines"):
        if key in data:
            raise ConfigError(f"{name}, line {lines.get(key)}: unknown key '{key}'. Remove it or fix its spelling.")
    return config
