"""config.yaml: the cycle, its sessions, the theme codebook and the settings staff edit.

One pydantic model per section; unknown keys are errors. Every error names the file, the line
and the key, and says what to do.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from . import limits
from .artefacts import EntityLabel
from .errors import ConfigError, InputError
from .resources import TemplateSet

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
THEME_ID = SESSION_ID
ACRONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9&-]{1,11}$")
WEIGHTS_SCHEMA = "synthese.weights/2"
# Weights files of the first version (keyword weights only) are still read.
WEIGHTS_SCHEMAS = ("synthese.weights/1", WEIGHTS_SCHEMA)
_HTTP_URL = re.compile(r"(?i:https?)://[^\s\"'<>\\\x00-\x1f\x7f]+")


def _http_url(value: str | None) -> str | None:
    # Addresses end up as links in every document and page: only web addresses, never
    # javascript:, data: or file: ones.
    if value and (len(value) > limits.MAX_URL_CHARS or not _HTTP_URL.fullmatch(value)):
        raise ValueError(f"{limits.quote(value)} must be an http(s) address, e.g. 'https://example.org/page'")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]

# Domains reserved for examples and tests (RFC 2606, RFC 6761): an address there is a placeholder
# left in config.yaml, and a reader following it would find nothing.
RESERVED_DOMAINS = ("example.org", "example.com", "example.net", "example", "test", "invalid", "localhost")


def _real_address(value: str | None) -> str | None:
    from urllib.parse import urlsplit

    if not value:
        return value
    try:
        host = (urlsplit(value).hostname or "").rstrip(".").lower()
    except ValueError:
        return value  # _http_url reports a malformed address
    if host == "127.0.0.1" or any(host == d or host.endswith("." + d) for d in RESERVED_DOMAINS):
        raise ValueError(f"{limits.quote(value)} is a placeholder ({host} is reserved for examples): give the "
                         "address where readers can watch the replay, or remove replay_url")
    return value


ReplayUrl = Annotated[str, AfterValidator(_http_url), AfterValidator(_real_address)]


def _home_expanded(value: Path) -> Path:
    # `~/site` means the home folder, as in a shell: never a folder named '~' in the project.
    if not str(value).startswith("~"):
        return value
    try:
        return value.expanduser()
    except RuntimeError:
        user = str(value).split("/")[0]
        raise ValueError(f"{limits.quote(str(value))}: {user} is no user of this computer, so its home folder is "
                         "unknown; write the full path") from None


FilePath = Annotated[Path, AfterValidator(_home_expanded)]  # a path setting, '~' expanded


class Strict(BaseModel):
    # NaN and infinities (YAML's .nan, .inf) are no setting: refused with the setting's name.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Speaker(Strict):
    name: str
    role: str = ""
    organisation: str = ""


class Session(Strict):
    id: str
    number: int | None = None
    date: dt.date | None = None
    title: str
    media: FilePath | None = None
    transcript: FilePath | None = None
    replay_url: ReplayUrl | None = None
    # The replay as a file a reader's browser plays (MP3, MP4, OGG, WebM…), on a web server: the
    # site's player plays it, and without replay_url the documents' times link to it (#t=90).
    media_url: ReplayUrl | None = None
    speakers: list[Speaker] = []
    description: str = ""

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        # The id names folders and files: it must never escape transcripts/ or outputs/.
        if not SESSION_ID.match(value):
            raise ValueError(
                f"session id {limits.quote(value)} must be lower-case letters, digits, '-' or '_' "
                "(at most 64), e.g. 'seance-2'"
            )
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


class KeywordSetting(Strict):
    """How much one keyword counts, when staff set it in config.yaml rather than leave it to calibration.

    `weight` is in points: a passage is tagged with a theme when its points reach the bar of
    tag.threshold (1 point at the default 0.5), so a keyword of weight 1 tags alone and one of
    0.4 needs other evidence. `weak: true` marks a generic word that never tags a passage alone,
    whatever its weight or calibration says.
    """

    weight: float | None = Field(default=None, ge=0, le=10)
    weak: bool = False


def _keyword_entries(value: Any) -> tuple[list[str], dict[str, KeywordSetting]]:
    """Keyword entries as written (a string, or {term, weight} / {term, weak}) split into the
    plain terms and the settings of those that carry any."""
    if not isinstance(value, list):
        return value, {}
    terms: list[str] = []
    settings: dict[str, KeywordSetting] = {}
    for index, entry in enumerate(value):
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"term", "weight", "weak"})
            if unknown:
                raise ValueError(f"keyword entry {index}: unknown key '{unknown[0]}' (a keyword is a string "
                                 "or {term: \"...\", weight: 0.8} or {term: \"...\", weak: true})")
            term = entry.get("term")
            if not isinstance(term, str) or not term.strip():
                raise ValueError(f"keyword entry {index}: 'term' is missing; write {{term: \"...\", weight: 0.8}}")
            settings[term.strip()] = KeywordSetting(**{k: v for k, v in entry.items() if k != "term"})
            terms.append(term.strip())
        else:
            terms.append(entry)
    return terms, settings


class SubTheme(Strict):
    label: str
    keywords: list[str] = []
    keyword_settings: dict[str, KeywordSetting] = {}

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        return _split_entries(data)


class Theme(Strict):
    id: str
    label: str
    description: str
    # Plain terms, whatever form they were written in; weights and weak flags written with a
    # term go to keyword_settings, and weights read from tag.weights_file to calibrated_weights
    # (both part of the codebook, so changing them re-tags).
    keywords: list[str]
    subthemes: list[SubTheme] = []
    examples: list[str] = []
    keyword_settings: dict[str, KeywordSetting] = {}
    calibrated_weights: dict[str, float] = {}
    # The theme's direction in the sentence encoder's space learned from labelled passages,
    # times the calibrated points per unit of similarity (tag.weights_file's `meaning:`); empty:
    # the meaning signal comes from the description, examples and sub-themes.
    calibrated_meaning: tuple[float, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        return _split_entries(data)

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not THEME_ID.match(value):
            raise ValueError(f"theme id {limits.quote(value)} must be lower-case letters, digits, '-' or '_'")
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

    def setting(self, term: str) -> KeywordSetting:
        """The weight and weak flag staff gave a keyword (defaults when none)."""
        for settings in (self.keyword_settings, *(sub.keyword_settings for sub in self.subthemes)):
            if term in settings:
                return settings[term]
        return KeywordSetting()


def _split_entries(data: Any) -> Any:
    if isinstance(data, dict) and "keywords" in data:
        terms, settings = _keyword_entries(data["keywords"])
        data = {**data, "keywords": terms, "keyword_settings": {**data.get("keyword_settings", {}), **settings}}
    return data


def slug(label: str) -> str:
    """An id made of a label: 'Sobriété numérique' -> 'sobriete-numerique'."""
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", label.lower()) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:64] or "axe"


# The weight of an axis's label when it is its only keyword: above the bar of any threshold up to 0.75.
LABEL_KEYWORD_WEIGHT = 2.0


class Axis(Strict):
    """A transversal axis of the programme (`cycle.axes`): it crosses every theme. Passages are
    tagged with it from its keywords as with a theme's (same matching, weights and bar), but it
    makes no chapter: the cycle's synthesis gives it a section. Written as a plain label
    ("Sobriété"), its id is the label's and its one keyword the label itself."""

    id: str
    label: str
    description: str = ""
    keywords: list[str] = []
    keyword_settings: dict[str, KeywordSetting] = {}

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        if isinstance(data, str):
            # The label alone: it tags a passage where it is said (a word alone would not), in
            # lower case as keywords are written (an acronym stays as it is).
            term = data if data.isupper() else data.lower()
            data = {"label": data, "keywords": [{"term": term, "weight": LABEL_KEYWORD_WEIGHT}]}
        if isinstance(data, dict) and isinstance(data.get("label"), str):
            label = data["label"]
            data = {"id": slug(label), "keywords": [label if label.isupper() else label.lower()], **data}
        return _split_entries(data)

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not THEME_ID.match(value):
            raise ValueError(f"axis id {limits.quote(value)} must be lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("keywords")
    @classmethod
    def _has_keywords(cls, value: list[str]) -> list[str]:
        if not [k for k in value if k.strip()]:
            raise ValueError("an axis needs at least one keyword")
        return value

    def as_theme(self) -> Theme:
        """The axis as the tagger reads a theme: its label, description and keywords."""
        return Theme(id=self.id, label=self.label, description=self.description or self.label,
                     keywords=self.keywords, keyword_settings=self.keyword_settings)


class Cycle(Strict):
    title: str
    subtitle: str = ""
    organiser: str
    description: str = ""
    # The programme's transversal axes, each a label or {id, label, description, keywords}.
    axes: list[Axis] = []
    url: HttpUrl | None = None

    @field_validator("axes")
    @classmethod
    def _unique_axes(cls, value: list[Axis]) -> list[Axis]:
        _no_duplicates([a.id for a in value], "axis id")
        return value


class TranscribeOptions(Strict):
    model: str = "base"
    model_cache: FilePath | None = None
    # Fetch a named model (small, medium, large-v3, turbo) from the Hugging Face hub when it is
    # not on this computer. Off by default: the tool never downloads anything unless told to.
    allow_download: bool = False
    language: str = "fr"
    compute_type: str = "int8"
    # Threads for Whisper in all (0: every core), shared by two workers that decode two batches
    # of windows at once (whisper_model.worker_threads).
    cpu_threads: int = Field(default=0, ge=0)
    # Batched decoding of 30 s windows without timestamps, then word alignment; windows that fail
    # a check are decoded again with beam 5 and temperature fallback (see asr.py).
    batched: bool = True
    batch_size: int = Field(default=8, ge=1, le=64)
    beam_size: int = Field(default=2, ge=1, le=10)
    # The voice-activity detector: it finds the speech and the coverage audit checks, against
    # it, that no speech was left without words. Off: the audio is decoded as it is, unaudited.
    vad: bool = True
    # Spelling hints: "names" gives Whisper the session's title, speakers and organisations as its
    # prompt, keeps what it wrote of them only where it hears them without the prompt too
    # (transcribe/hints.py: it wrote the prompt where it was not said), and writes them as
    # declared where they were heard nearly so (transcribe/spellings.py); "none": no prompt, the
    # words as heard. Never the themes' vocabulary.
    hints: Literal["names", "none"] = "names"
    checkpoint_every_s: float = Field(default=300.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _replaced_settings(cls, data: Any) -> Any:
        # Earlier versions primed Whisper with the themes' keywords; say what replaced the setting.
        if isinstance(data, dict) and "vocabulary_hints" in data:
            raise ValueError("vocabulary_hints was replaced by hints: names (or none); theme keywords are no "
                             "longer given to Whisper. Replace the line in config.yaml")
        if isinstance(data, dict) and "word_timestamps" in data:
            raise ValueError("word_timestamps is no longer a setting (every word now has its time): remove the "
                             "line from config.yaml")
        return data


class TagOptions(Strict):
    spacy_model: str = "fr_core_news_md"
    passage_min_words: int = Field(default=40, ge=1)
    passage_max_words: int = Field(default=130, ge=10)
    pause_s: float = Field(default=1.5, ge=0)
    # Where passages are cut: "topic" where the subject shifts (similarity of the sentences
    # around each gap, by the sentence encoder), at long pauses and by length; "length" at long
    # pauses and by length only (no sentence encoder).
    segmentation: Literal["topic", "length"] = "topic"
    topic_window: int = Field(default=3, ge=1, le=10)  # sentences compared on each side of a gap
    # A theme is tagged when its score, 1 - 2^-points, reaches the threshold: 0.5 is 1 point.
    # Unset here, it is the one tag.weights_file was calibrated with (else 0.5).
    threshold: float = Field(default=0.5, gt=0, lt=1)
    # Weights (points) of keywords that neither config.yaml nor tag.weights_file weighs: a
    # phrase of several words alone tags at the default threshold, a single word needs support.
    phrase_weight: float = Field(default=1.3, ge=0, le=10)
    word_weight: float = Field(default=0.5, ge=0, le=10)
    # A weak keyword ({term: ..., weak: true}) counts at most this many points, below the bar
    # of any threshold (calibration only chooses bars above it), so it never tags alone.
    weak_points: float = Field(default=0.65, ge=0, le=10)
    # Calibration of the weights from labelled passages (pipeline/calibrate.py): each keyword's
    # precision is pulled towards its default by this many pseudo-passages.
    calibration_prior_passages: float = Field(default=4.0, gt=0)
    # Beyond this many words, keyword points are scaled down: the labelled passages the weights
    # come from have 35-89 words, so a longer passage needs proportionally more evidence.
    reference_words: int = Field(default=90, ge=10)
    # The meaning signal (pipeline/meaning.py): the passage's similarity to each theme's
    # description, examples and sub-themes, relative to the other themes, mapped linearly from
    # similarity_low (0 points) to similarity_high (similarity_points). Where tag.weights_file
    # has a `meaning:` section, the themes' directions and points learned from labelled
    # passages replace these four settings (tag.meaning: none still switches it off).
    meaning: Literal["sentence-encoder", "none"] = "sentence-encoder"
    similarity_points: float = Field(default=1.2, ge=0, le=10)
    similarity_low: float = 0.03
    similarity_high: float = 0.15
    # Weights written by `synthese calibrate` (a YAML file, relative to config.yaml). Only read
    # when set here; keyword weights in themes[].keywords take precedence over it.
    weights_file: FilePath | None = None
    excerpts_per_theme: int = Field(default=3, ge=0, le=50)
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)
    # A quote is one to three whole sentences of a passage, of this many words.
    quote_min_words: int = Field(default=15, ge=1)
    quote_max_words: int = Field(default=70, ge=5)
    # Key sentences shown for each theme chapter (0: none).
    key_points: int = Field(default=4, ge=0, le=10)
    # Messages proposed for the session's « À retenir » until staff write theirs (0: none).
    key_messages: int = Field(default=6, ge=0, le=8)

    @model_validator(mode="after")
    def _lengths(self) -> TagOptions:
        if self.passage_min_words > self.passage_max_words:
            raise ValueError("passage_min_words must not exceed passage_max_words")
        if self.quote_min_words > self.quote_max_words:
            raise ValueError("quote_min_words must not exceed quote_max_words")
        if self.similarity_low >= self.similarity_high:
            raise ValueError("similarity_low must be below similarity_high")
        if self.bar_points <= self.weak_points:
            raise ValueError(f"threshold {self.threshold:g} would let a weak keyword tag alone: it must exceed "
                             f"{1 - 2 ** -self.weak_points:.3f} (weak_points {self.weak_points:g})")
        return self

    @property
    def bar_points(self) -> float:
        """The points at which a theme's score reaches the threshold."""
        return -math.log2(1.0 - self.threshold)


class RenderOptions(Strict):
    formats: list[Literal["pdf", "docx", "odt", "html"]] = ["pdf", "docx", "odt", "html"]
    transcript_annex: bool = True
    author: str = ""
    # A folder of templates, stylesheets or wording.fr.yaml that replace the shipped ones file by
    # file (relative to config.yaml); the rest comes from the package.
    templates: FilePath | None = None


CITATION_FIELDS = ("title", "kind", "cycle", "session", "date", "year", "organiser")
LOGO_SUFFIXES = (".png", ".jpg", ".jpeg")


class PublicationOptions(Strict):
    """What the title page, the colophon and the site say of the publication."""

    logo: FilePath | None = None  # PNG or JPEG, relative to config.yaml
    logo_alt: str = ""  # what the logo says (default: the organiser's name)
    date: dt.date | None = None  # the publication date (default: the day the documents are made)
    licence: str = ""  # e.g. "Licence Ouverte 2.0" or "CC BY 4.0"
    licence_url: str | None = None
    # The suggested citation; {title}, {kind}, {cycle}, {session}, {date}, {year} and {organiser}
    # are filled in. Empty: the wording's default citation.
    citation: str = ""
    contact: str = ""  # an e-mail address, a web address, or a postal address

    @field_validator("logo")
    @classmethod
    def _image(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in LOGO_SUFFIXES:
            raise ValueError(f"logo {str(value)!r} must be a PNG or JPEG file (.png, .jpg), which every format embeds")
        return value

    @field_validator("licence_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://[^\s\"'<>]+$", value):
            raise ValueError(f"licence_url {value!r} must be an http(s) address")
        return value

    @field_validator("citation")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        for name in re.findall(r"\{([^{}]*)\}", value):
            if name not in CITATION_FIELDS:
                known = ", ".join("{" + f + "}" for f in CITATION_FIELDS)
                raise ValueError(f"citation: unknown placeholder {{{name}}} (use {known})")
        return value

    @property
    def contact_url(self) -> str | None:
        """A link for the contact: mailto: for an e-mail address, the address for a web one."""
        contact = self.contact.strip()
        if re.fullmatch(r"[^@\s<>\"']+@[^@\s<>\"']+\.[a-z]{2,}", contact, flags=re.IGNORECASE):
            return f"mailto:{contact}"
        if re.fullmatch(r"https?://[^\s\"'<>]+", contact):
            return contact
        return None



class IndexOptions(Strict):
    """The name index: which people, organisations and places a synthesis lists.

    Named-entity recognition on speech-recognition output finds misheard words as names, so a
    name is listed only when it is sure: a declared speaker or organisation (sessions, cycle),
    a name of `known` (staff extend it), or a name recognised `min_mentions` times or more with
    the same kind. A name of `exclude` is never listed.
    """

    known: dict[EntityLabel, list[str]] = {}
    exclude: list[str] = []
    min_mentions: int = Field(default=2, ge=1, le=50)

    @field_validator("known", "exclude")
    @classmethod
    def _names(cls, value: Any) -> Any:
        names = value if isinstance(value, list) else [n for names in value.values() for n in names]
        for name in names:
            if not str(name).strip() or len(str(name)) > 120:
                raise ValueError(f"index name {name!r} must be a name of 1 to 120 characters")
        return value


class PublishOptions(Strict):
    output_dir: FilePath = Path("outputs")
    # A session nobody approved yet: "mark": published, marked « Document de travail — non relu »
    # in every format and on the site; "withhold": left out of the site, its index pages,
    # site.json and the cycle's synthesis until it is approved.
    unreviewed: Literal["mark", "withhold"] = "mark"
    # Files of the output folder that are not the site's (robots.txt, a .well-known/ folder…):
    # paths relative to it, a folder ending with '/'. Publishing carries them over untouched;
    # anything else it did not write makes it stop (see publish/publishing.py).
    keep: list[str] = []
    # The replay on the site: "copy" copies each session's media file (MP3, MP4, OGG, WebM…) into
    # it, and the session's page plays it with the reviewed captions; "none" publishes no replay
    # file (a session's media_url, a file on another server, is still played).
    media: Literal["none", "copy"] = "none"
    # Search across the cycle (Pagefind): its index is built into the site at publish, and
    # searched in the reader's browser; nothing is sent anywhere.
    search: bool = True
    # The site's public address (https://…/): the Atom feed's links are then absolute.
    site_url: HttpUrl | None = None

    @field_validator("output_dir", mode="before")
    @classmethod
    def _a_folder(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("is empty ('~' alone means no value in YAML): write a folder, such as 'outputs', or "
                             "'~/site' for a folder in your home folder")
        return value

    @field_validator("site_url")
    @classmethod
    def _a_folder_address(cls, value: str | None) -> str | None:
        # The pages are addressed relative to it: 'https://x.fr/cycle' means the folder cycle/.
        return value if not value or value.endswith("/") else value + "/"

    @field_validator("keep")
    @classmethod
    def _relative_paths(cls, value: list[str]) -> list[str]:
        for entry in value:
            parts = entry.strip().removeprefix("./").rstrip("/").split("/")
            if (not entry.strip() or entry.startswith(("/", "~")) or "\\" in entry
                    or any(part in ("", ".", "..") for part in parts)):
                raise ValueError(f"keep entry {limits.quote(entry)} must be a path inside the output folder, "
                                 "such as 'robots.txt' or '.well-known/'")
            if parts == ["site.json"]:
                raise ValueError("keep entry 'site.json' is the site's own manifest: remove it")
        return value

    def kept(self, relative: str) -> bool:
        """Whether a path of the output folder (relative, with '/') is one publish.keep names:
        the path itself, or inside a folder it names."""
        for entry in self.keep:
            name = entry.strip().removeprefix("./").rstrip("/")
            if relative == name or relative.startswith(name + "/"):
                return True
        return False


class DiarizeOptions(Strict):
    """Who spoke when (pipeline/diarize.py)."""

    enabled: bool = True
    # "declared": as many voices as the session declares speakers, estimated when it declares
    # none; "auto": always estimated (a moderator or a guest the programme does not list); a
    # number: that many voices.
    speakers: int | Literal["declared", "auto"] = "declared"
    max_speakers: int = Field(default=8, ge=1, le=30)
    model: Literal["campplus", "ge2e"] = "campplus"  # speaker model (see NOTICE for their origin)

    @field_validator("speakers")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("speakers must be a number of at least 1, 'declared' or 'auto'")
        return value

    def voices_to_find(self, declared: int) -> int | None:
        """The number of voices to look for given the session's declared speakers; None: estimate."""
        if isinstance(self.speakers, int):
            return self.speakers
        if self.speakers == "declared" and declared > 0:
            return declared
        return None


class VoicesOptions(Strict):
    """Voice profiles (pipeline/voices.py): the voices staff name, remembered to recognise them in
    the cycle's other sessions. Off by default: a voice print that identifies a person is
    biometric data, which a public body may keep only with the speakers' consent."""

    # On: naming a voice (review page or review file) stores its voice prints under the name in
    # voices.json beside config.yaml, and voices of other sessions that match are labelled with it.
    remember: bool = False
    # Names never remembered (people who did not consent): naming their voice stores nothing.
    exclude: list[str] = []

    @field_validator("exclude")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not str(name).strip() or len(str(name)) > 120:
                raise ValueError(f"voices.exclude: {name!r} must be a name of 1 to 120 characters")
        return [" ".join(str(name).split()) for name in value]


class Config(Strict):
    cycle: Cycle
    sessions: list[Session]
    themes: list[Theme]
    # Acronyms of the field and what they stand for: an acronym in a passage counts as its
    # expansion, so "RGPD" finds the keywords of "règlement général sur la protection des données".
    acronyms: dict[str, str] = {}
    transcribe: TranscribeOptions = TranscribeOptions()
    tag: TagOptions = TagOptions()
    index: IndexOptions = IndexOptions()
    publication: PublicationOptions = PublicationOptions()
    render: RenderOptions = RenderOptions()
    publish: PublishOptions = PublishOptions()
    diarize: DiarizeOptions = DiarizeOptions()
    voices: VoicesOptions = VoicesOptions()

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

    @field_validator("acronyms")
    @classmethod
    def _acronyms(cls, value: dict[str, str]) -> dict[str, str]:
        for acronym, expansion in value.items():
            if not ACRONYM.match(str(acronym)):
                raise ValueError(f"acronym {acronym!r} must be 2 to 12 letters or digits, e.g. RGPD")
            if not str(expansion).strip():
                raise ValueError(f"acronym {acronym!r} needs what it stands for, e.g. RGPD: \"règlement général "
                                 "sur la protection des données\"")
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
        raise ConfigError(f"{self.path.name}: no session with id {limits.quote(session_id)} (known: {known})")

    def where(self, *loc: str | int) -> str:
        """'config.yaml, line N' for a key, to point staff at the place to fix."""
        line = self.lines.get(_loc_key(loc))
        return f"{self.path.name}, line {line}" if line else self.path.name

    @property
    def templates(self) -> TemplateSet:
        """The templates and wording this cycle's documents and site use."""
        folder = self.render.templates
        if folder is None:
            return TemplateSet()
        path = self.resolve(folder)
        if not path.is_dir():
            raise ConfigError(f"{self.where('render', 'templates')}: render.templates: folder not found: {folder}. "
                              f"Fix the path (relative to {self.path.name}) or remove the key to use the "
                              "templates shipped with Synthèse.")
        return TemplateSet(path.resolve())

    def source_of(self, session: Session) -> Path:
        """The session's input file, checked: a missing file names the key and the line to fix."""
        key = "transcript" if session.transcript else "media"
        path = self.resolve(session.source)
        index = self.sessions.index(session)
        where = f"{self.where('sessions', index, key)}: sessions[{index}].{key}"
        try:
            return limits.input_file(path, root=self.root)
        except (FileNotFoundError, IsADirectoryError) as exc:
            found = "is a folder, not a file" if isinstance(exc, IsADirectoryError) else "file not found"
            raise ConfigError(
                f"{where}: {found}: {session.source}. Fix the path (relative to {self.path.name}) "
                "or put the file there."
            ) from None
        except InputError as exc:
            raise ConfigError(f"{where}: {exc}") from None


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


def _describe(error: ErrorDetails, name: str, lines: dict[str, int]) -> str:
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
            f"{where}: unknown key {limits.quote(loc[-1])}"
            + (f" in {parent}" if parent else "")
            + ". Remove it or fix its spelling."
        )
    if kind == "missing":
        return f"{where}: {dotted} is missing. Add it."
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {dotted}: {message}."


class _ConfigLoader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML's SafeLoader reads it, except that dates stay text: pydantic reads them,
    so `date: 2022-13-45` is reported with its key and line instead of crashing the parser."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_nodes(node: yaml.Node, name: str) -> None:
    """Refuse a document that aliases expand past limits.MAX_CONFIG_NODES values (each alias is
    counted as the values it stands for, without expanding anything), an alias inside itself,
    and a key given twice in one mapping."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ConfigError(f"{name}, line {current.start_mark.line + 1}: an alias (*name) refers to the "
                              "value that contains it. Write the value out instead.")
        open_nodes.add(key)
        total = 1
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        raise ConfigError(
                            f"{name}, line {line}: key {limits.quote(key_node.value)} is given twice in the "
                            f"same place (lines {seen[key_node.value]} and {line}). Keep one of them."
                        )
                    seen[key_node.value] = line
                total += size(key_node) + size(value_node)
                if total > limits.MAX_CONFIG_NODES:
                    break
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += size(item)
                if total > limits.MAX_CONFIG_NODES:
                    break
        if total > limits.MAX_CONFIG_NODES:
            raise ConfigError(
                f"{name}, line {current.start_mark.line + 1}: the configuration stands for more than "
                f"{limits.MAX_CONFIG_NODES:,} values once its aliases (*name) are expanded. Write the "
                "values out, or use fewer aliases."
            )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(node)


def load_config(path: Path | str = "config.yaml") -> Config:
    """Read and validate config.yaml; raise ConfigError naming the file, line and key."""
    path = Path(path)
    name = path.name
    try:
        limits.input_file(path)
        limits.check_file_size(path, limits.MAX_CONFIG_BYTES, "configuration file",
                               "Check that --config names the cycle's config.yaml.")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found. Run from the project folder or pass --config PATH."
        ) from None
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc.reason
        raise ConfigError(f"{path}: cannot read the configuration ({reason}). Save it as UTF-8 text.") from None
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_nodes(node, name)
            # Control characters (written as YAML escapes such as "\a") cannot be shown or
            # written to Word: drop them from every value.
            data = limits.xml_safe(loader.construct_document(node))
        else:
            data = None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}. Check the indentation and quoting there.") from None
    except RecursionError:
        raise ConfigError(f"{name}: values are nested too deeply. Check the indentation and brackets.") from None
    finally:
        loader.dispose()
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
    if config.tag.weights_file is not None:
        config = _with_calibrated_weights(config)
    logo = config.publication.logo
    if logo is not None and not config.resolve(logo).is_file():
        raise ConfigError(f"{config.where('publication', 'logo')}: publication.logo: file not found: {logo}. Fix the "
                          f"path (relative to {name}) or remove the key.")
    if logo is not None:
        _check_logo(config, logo)
    return config


def _check_logo(config: Config, logo: Path) -> None:
    """The logo must be a PNG or JPEG image of reasonable size: every format embeds it, and a
    file that is not one would stop the render later with a library's error."""
    from PIL import Image

    path = config.resolve(logo)
    where = f"{config.where('publication', 'logo')}: publication.logo: {logo}"
    try:
        limits.input_file(path)
        limits.check_file_size(path, limits.MAX_LOGO_BYTES, "logo", "Save a smaller PNG or JPEG.")
        with Image.open(path) as image:
            kind, (width, height) = image.format, image.size
            image.verify()
    except InputError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # PIL's UnidentifiedImageError is an OSError; a damaged image raises any of these.
        raise ConfigError(f"{where}: not a readable PNG or JPEG image ({limits.shorten(exc, 120)}). Export the logo "
                          "again as PNG or JPEG, or remove the key.") from None
    if kind not in ("PNG", "JPEG"):
        raise ConfigError(f"{where}: is a {kind} image, not PNG or JPEG. Export the logo as PNG or JPEG.")
    if width * height > limits.MAX_LOGO_PIXELS:
        raise ConfigError(f"{where}: {width} x {height} pixels, more than the {limits.MAX_LOGO_PIXELS:,} a logo may "
                          "have. Save it smaller (a few hundred pixels wide is plenty).")


def _with_calibrated_weights(config: Config) -> Config:
    """The config with what tag.weights_file holds: its keyword weights and learned meaning given
    to the themes, and its threshold unless config.yaml sets one."""
    assert config.tag.weights_file is not None
    path = config.resolve(config.tag.weights_file)
    where = config.where("tag", "weights_file")
    if not path.is_file():
        raise ConfigError(f"{where}: tag.weights_file: file not found: {config.tag.weights_file}. Write it with "
                          "`synthese calibrate LABELS.jsonl -o FILE`, or remove the key to use the default weights.")
    calibrated = read_weights_file(path)
    weights = calibrated.weights
    known = {t.id: set(t.all_keywords) for t in config.themes}
    unknown_themes = sorted((set(weights) | set(calibrated.directions)) - set(known))
    if unknown_themes:
        raise ConfigError(f"{path.name}: theme {unknown_themes[0]!r} is not in {config.path.name}. Re-run "
                          "`synthese calibrate` with this codebook, or remove that theme from the file.")
    stale = sum(1 for theme_id, terms in weights.items() for term in terms if term not in known[theme_id])
    if stale:
        log.warning("%s: %d weight(s) are for keywords no longer in the codebook and are not used; "
                    "re-run `synthese calibrate` to refresh the file.", path.name, stale)
    scale = calibrated.points_per_similarity
    themes = [t.model_copy(update={
        "calibrated_weights": {term: w for term, w in weights.get(t.id, {}).items() if term in known[t.id]},
        "calibrated_meaning": tuple(scale * x for x in calibrated.directions.get(t.id, ())),
    }) for t in config.themes]
    config = config.model_copy(update={"themes": themes})
    if calibrated.threshold is not None and "threshold" not in config.tag.model_fields_set:
        config = config.model_copy(update={"tag": config.tag.model_copy(update={"threshold": calibrated.threshold})})
    return config


class CalibratedWeights(Strict):
    """What `synthese calibrate` writes (pipeline/calibrate.py): keyword weights (points) per
    theme id; the threshold chosen with them; the themes' meaning directions (unit vectors of
    the sentence encoder) and the points one unit of similarity along them is worth."""

    weights: dict[str, dict[str, float]]
    threshold: float | None = None
    points_per_similarity: float = 0.0
    directions: dict[str, tuple[float, ...]] = {}


def read_weights_file(path: Path) -> CalibratedWeights:
    """The content of a file written by `synthese calibrate`; a bad value names its line."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_FastLoader)
        data = yaml.load(text, Loader=_FastLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the weights file ({exc}). Write it again with `synthese calibrate`.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark else name
        raise ConfigError(f"{where}: YAML syntax error: {getattr(exc, 'problem', None) or exc}. "
                          "Write the file again with `synthese calibrate`.") from None
    lines = _line_map(node) if node is not None else {}
    if not isinstance(data, dict) or data.get("schema") not in WEIGHTS_SCHEMAS:
        raise ConfigError(f"{name}: not a weights file (expected 'schema: {WEIGHTS_SCHEMA}' at the top). "
                          "Point tag.weights_file at a file written by `synthese calibrate`.")
    again = "Fix it or write the file again with `synthese calibrate`."
    weights = data.get("weights")
    if not isinstance(weights, dict):
        raise ConfigError(f"{name}, line {lines.get('schema')}: 'weights' is missing: expected theme ids, each "
                          "with keyword: weight lines. Write the file again with `synthese calibrate`.")
    result: dict[str, dict[str, float]] = {}
    for theme_id, terms in weights.items():
        if not isinstance(terms, dict):
            raise ConfigError(f"{name}, line {lines.get(_loc_key(('weights', theme_id)))}: weights.{theme_id} must "
                              "map each keyword to a number of points.")
        result[str(theme_id)] = {}
        for term, weight in terms.items():
            if not _number(weight) or not 0 <= weight <= 10:
                line = lines.get(_loc_key(("weights", theme_id, term)))
                raise ConfigError(f"{name}, line {line}: weights.{theme_id}.{term}: {weight!r} is not a weight "
                                  f"between 0 and 10 points. {again}")
            result[str(theme_id)][str(term)] = float(weight)
    threshold = data.get("threshold")
    if threshold is not None and (not _number(threshold) or not 0 < threshold < 1):
        raise ConfigError(f"{name}, line {lines.get('threshold')}: threshold: {threshold!r} is not a number "
                          f"between 0 and 1. {again}")
    meaning = data.get("meaning") or {}
    if not isinstance(meaning, dict):
        raise ConfigError(f"{name}, line {lines.get('meaning')}: 'meaning' must hold points_per_similarity and "
                          f"directions. {again}")
    scale = meaning.get("points_per_similarity", 0.0)
    if not _number(scale) or not 0 <= scale <= 100:
        raise ConfigError(f"{name}, line {lines.get(_loc_key(('meaning', 'points_per_similarity')))}: "
                          f"meaning.points_per_similarity: {scale!r} is not a number between 0 and 100. {again}")
    directions: dict[str, tuple[float, ...]] = {}
    raw_directions = meaning.get("directions") or {}
    if not isinstance(raw_directions, dict):
        raise ConfigError(f"{name}, line {lines.get(_loc_key(('meaning', 'directions')))}: meaning.directions "
                          f"must map theme ids to lists of numbers. {again}")
    sizes = set()
    for theme_id, vector in raw_directions.items():
        if not isinstance(vector, list) or not vector or not all(_number(x) and -1 <= x <= 1 for x in vector):
            line = lines.get(_loc_key(("meaning", "directions", theme_id)))
            raise ConfigError(f"{name}, line {line}: meaning.directions.{theme_id} must be a list of numbers "
                              f"between -1 and 1. {again}")
        directions[str(theme_id)] = tuple(float(x) for x in vector)
        sizes.add(len(vector))
    if len(sizes) > 1:
        raise ConfigError(f"{name}, line {lines.get(_loc_key(('meaning', 'directions')))}: meaning.directions "
                          f"have different lengths ({', '.join(map(str, sorted(sizes)))}). {again}")
    return CalibratedWeights(weights=result, threshold=threshold, points_per_similarity=float(scale),
                             directions=directions)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


# The weights file holds a few thousand numbers: libyaml's parser reads it in milliseconds.
_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
