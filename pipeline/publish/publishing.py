"""Stage 4, publish: the readers' site, laid out from the rendered documents.

The site is HTML and CSS with relative links only and nothing loaded from elsewhere, so it works
from any static web server, and read from file:// too. Every page is usable without JavaScript;
two small scripts of the site's own add what needs one: the search (search.js, Pagefind's
WebAssembly search of the index built at publish) and, on a session's page with a replay to
play, the times that seek the player (player.js).

    index.html                     the cycle, its sessions (with downloads) and its themes
    seances/<id>.html              each session's synthesis, in the site's layout, with its player
    seances/<id>/                  its downloads (PDF, DOCX, ODT, HTML, VTT subtitles, the replay
                                   with publish.media: copy) and charts
    themes/<theme-id>.html         the excerpts of one theme, across the sessions
    synthese-du-cycle.html         the cycle's synthesis, in the site's layout
    cycle/                         its downloads and charts
    recherche.html, pagefind/      the search page and its index (publish.search)
    feed.xml                       the Atom feed of the syntheses approved
    style.css, *.js, site.json     the stylesheet, the scripts and the manifest (SiteManifest)

Publishing only lays out what the render stage wrote (documents, charts, the site's fragment and
page summary in each RenderManifest); it builds no document.

Publishing replaces only what it wrote. The whole site is built in a temporary folder beside the
output folder and swapped in at the end, so a reader never sees a half-written site and a failed
build leaves the previous one untouched. The site's site.json lists every file publishing wrote
with its sha256: before anything is touched, every entry of the output folder must be one of
those, unchanged, or one that publish.keep names (robots.txt, .well-known/…: carried over into
the new site as they are); anything else, a link included, stops publishing with the names of
the first such files. It also refuses an output folder that holds the project's own files. When
the output folder is a symbolic link (to a web server's root, say), the site is swapped in at the
link's target and the link is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..core import limits
from ..core.artefacts import MediaCopy, PageSummary, RenderManifest, SiteDocument, SiteExcerpt, SiteManifest
from ..core.config import Config, PublishOptions, Session
from ..core.environment import DISK_FULL, READ_ONLY, describe_os_error
from ..core.errors import ConfigError, InputError, StorageError, SyntheseError
from ..core.resources import SITE_FOLDER
from ..core.storage import file_hash, write_text
from ..core.typography import NBSP, counted, french_text, join_list
from .feed import FEED_FILE, FeedEntry, atom_feed
from .search import build_search_index

__all__ = ["SITE_MANIFEST", "PublishedSession", "check_output_dir", "file_size_text", "publish"]

log = logging.getLogger(__name__)

SITE_MANIFEST = SiteManifest.FILE
STYLESHEET = "style.css"
CYCLE_PAGE = "synthese-du-cycle.html"
SEARCH_PAGE = "recherche.html"
SCRIPTS = ("search.js", "player.js")
MAIN_THEMES_PER_SESSION = 3
BUILD_MARKER = ".synthese-build"  # marks a temporary build folder as ours, for clean-up after a crash
KEPT_FILES = (".gitkeep",)  # placeholders that keep an empty output folder in version control

DOCUMENT_FORMATS = ("pdf", "docx", "odt", "html")
FORMAT_NAMES = {"pdf": "PDF", "docx": "DOCX", "odt": "ODT", "html": "HTML", "vtt": "VTT"}
FORMAT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "html": "text/html",
    "vtt": "text/vtt",
}
# Replay files a reader's browser plays in an HTML5 player, by extension; any other (an AVI, a
# Matroska, a WMA) is not copied into the site, with a warning saying to convert it.
PLAYABLE = {
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".oga": "audio/ogg", ".ogg": "audio/ogg",
    ".opus": "audio/ogg", ".wav": "audio/wav", ".flac": "audio/flac",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg",
}


@dataclass(frozen=True)
class PublishedSession:
    """A rendered session, as publishing takes it: its manifest (loaded from its folder) and
    the machine's subtitles, used when the manifest lists none of its own."""

    session: Session
    manifest: RenderManifest
    subtitles: Path | None = None


# --- what the pages show ------------------------------------------------------------------------

@dataclass
class Download:
    """A file readers can download; its link text states the format and the size."""
    label: str
    href: str  # relative to the site's root
    fmt: str
    size_bytes: int
    size_text: str

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES.get(self.fmt, self.fmt.upper())

    @property
    def mime_type(self) -> str:
        return FORMAT_TYPES.get(self.fmt) or PLAYABLE.get(f".{self.fmt}", "application/octet-stream")

    @property
    def details(self) -> str:
        """« PDF, 245 Ko »."""
        return f"{self.format_name}, {self.size_text}"


@dataclass(frozen=True)
class Player:
    """The replay a session's page plays: a file copied into the site, or a session's media_url."""

    src: str  # relative to the site's root, or an http(s) address elsewhere
    mime_type: str  # '' when the address does not say
    captions: str | None  # the reviewed subtitles (VTT), relative to the site's root

    @property
    def external(self) -> bool:
        return "://" in self.src


@dataclass
class SessionEntry:
    session: Session
    page: str  # 'seances/<id>.html'
    summary: PageSummary
    downloads: list[Download]
    body: str  # the synthesis as an HTML fragment, written by the render stage
    player: Player | None = None
    pdf: Download | None = None
    approval_at: str = ""  # when it was approved, for the feed ('' for a draft)

    @property
    def label(self) -> str:
        return self.summary.label

    @property
    def main_themes(self) -> list[Any]:
        """The themes with the most passages (at most three, none that is absent)."""
        return [t for t in self.summary.theme_counts if t.passages][:MAIN_THEMES_PER_SESSION]

    def passages_of(self, theme_id: str) -> int:
        return next((t.passages for t in self.summary.theme_counts if t.id == theme_id), 0)

    def excerpts_of(self, theme_id: str) -> list[SiteExcerpt]:
        return self.summary.excerpts.get(theme_id, [])


def file_size_text(size_bytes: int, units: dict[str, str] | None = None) -> str:
    """A file size the French way, for download links: '812 octets', '245 Ko', '1,2 Mo'.

    Units are powers of 1000 (ko, Mo) as the SI defines them; Ko is written with a capital as on
    French public sites. A non-breaking space keeps the number with its unit.
    """
    units = units or {"bytes_one": "{n} octet", "bytes_many": "{n} octets", "kilo": "{n} Ko", "mega": "{n} Mo"}
    if size_bytes < 1000:
        text = units["bytes_one" if size_bytes < 2 else "bytes_many"].format(n=size_bytes)
    elif size_bytes < 1_000_000:
        text = units["kilo"].format(n=max(1, round(size_bytes / 1000)))
    else:
        megabytes = f"{size_bytes / 1_000_000:.1f}".replace(".", ",").removesuffix(",0")
        text = units["mega"].format(n=megabytes)
    return text.replace(" ", NBSP)


# --- a build folder that cannot be escaped ---------------------------------------------------

@dataclass(frozen=True)
class PreviousSite:
    """The site being replaced, checked unchanged: what a new one may reuse of it."""

    folder: Path
    manifest: SiteManifest


class SiteFolder:
    """The temporary folder the site is built in; every path written is checked to stay inside."""

    def __init__(self, root: Path, previous: PreviousSite | None = None):
        self.root = root.resolve()
        self.previous = previous
        # The sha256 of files whose content is known without reading them again (a replay,
        # hashed while it was copied): see files().
        self.hashes: dict[str, str] = {}
        self.media: dict[str, MediaCopy] = {}  # replays copied, for site.json

    def path(self, relative: str) -> Path:
        target = (self.root / relative).resolve()
        # Names come from session and theme ids, which config validation restricts to
        # [a-z0-9_-]; this check holds even if that ever changes.
        if not target.is_relative_to(self.root) or target == self.root:
            raise SyntheseError(f"refusing to write {relative!r} outside the site folder {self.root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def files(self) -> dict[str, str]:
        """Every file written so far, as paths relative to the site's root, with their sha256."""
        found = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and path.name != BUILD_MARKER:
                relative = path.relative_to(self.root).as_posix()
                found[relative] = self.hashes.get(relative) or file_hash(path)
        return found

    def write_page(self, relative: str, html: str) -> None:
        write_text(self.path(relative), html)

    def copy(self, source: Path, relative: str) -> int:
        """Copy a file into the site; return its size in bytes."""
        target = self.path(relative)
        shutil.copyfile(source, target)
        return target.stat().st_size

    def copy_media(self, source: Path, relative: str) -> int:
        """Copy a replay (hundreds of megabytes, say) into the site; return its size in bytes.

        The copy of the site being replaced is taken over when the replay has not changed since
        it was copied (same file, size and modification time; that copy was checked unchanged
        against site.json before the build): linked, not copied again, and not hashed again.
        Otherwise the file is read once, hashed as it is copied.
        """
        target = self.path(relative)
        info = source.stat()
        copied = MediaCopy(source=str(source.resolve()), size=info.st_size, mtime_ns=info.st_mtime_ns)
        self.media[relative] = copied
        previous = self.previous
        if previous is not None and previous.manifest.media.get(relative) == copied \
                and previous.manifest.files.get(relative):
            old = previous.folder / relative
            if old.is_file() and not old.is_symlink() and old.stat().st_size == copied.size:
                try:
                    os.link(old, target)  # both are the site's own files; the old one goes at the swap
                except OSError as exc:  # a file system without hard links: copy it
                    log.debug("publish: cannot link %s (%s); copying %s", old, exc, source)
                else:
                    self.hashes[relative] = previous.manifest.files[relative]
                    return copied.size
        digest = hashlib.sha256()
        with open(source, "rb") as reader, open(target, "wb") as writer:
            while block := reader.read(1 << 20):
                digest.update(block)
                writer.write(block)
        self.hashes[relative] = digest.hexdigest()
        return target.stat().st_size


# --- building the site ----------------------------------------------------------------------------

class _Pages:
    """The site's templates with their shared context (config, wording, whether there is a cycle page)."""

    def __init__(self, config: Config, has_cycle: bool):
        self.config = config
        self.wording = config.templates.wording()
        self.has_cycle = has_cycle
        env = config.templates.environment(SITE_FOLDER, trim_blocks=True, lstrip_blocks=True)
        env.filters["fr"] = french_text
        env.filters["join_list"] = join_list
        env.globals["counted"] = counted
        env.globals["site_logo"] = ""
        env.globals["cycle_citation"] = ""
        env.globals["draft"] = None  # the PageSummary of a page's draft document, for its banner
        env.globals["search"] = config.publish.search
        env.globals["feed"] = FEED_FILE
        env.globals["search_page"] = SEARCH_PAGE
        env.globals["scripts"] = []  # the site's scripts a page loads
        self.env = env

    def render(self, name: str, *, root: str, **context: Any) -> str:
        """Render a site template; `root` is the relative way back to the site's root ('' or '../')."""
        return self.env.get_template(name).render(root=root, config=self.config, w=self.wording,
                                                  ws=self.wording["site"], has_cycle=self.has_cycle, **context)


def split_cover(body: str) -> tuple[str, str]:
    """The synthesis's fragment cut after its cover (its title, date, speakers: up to the first
    </header>), so that a page puts its player, downloads and links under the title; ('', body)
    for a fragment without one."""
    from markupsafe import Markup

    end = body.find("</header>")
    if end < 0:
        return Markup(""), Markup(body)
    end += len("</header>")
    return Markup(body[:end]), Markup(body[end:])


def _downloads(manifest: RenderManifest, folder: str, labels: dict[str, str], site: SiteFolder,
               units: dict[str, str]) -> list[Download]:
    downloads = []
    for fmt in DOCUMENT_FORMATS:
        name = manifest.files.get(fmt)
        if name:
            href = f"{folder}/{manifest.stem}.{fmt}"
            size = site.copy(manifest.file(name), href)
            downloads.append(Download(labels[fmt], href, fmt, size, file_size_text(size, units)))
    for chart in manifest.charts:
        site.copy(manifest.file(chart), f"{folder}/{Path(chart).name}")
    return downloads


def _media_file(config: Config, session: Session) -> Path | None:
    """The session's replay file, checked like every input (a regular file; a link leads inside
    the project), when it has one a browser plays; None otherwise, with a warning saying why."""
    if session.media is None:
        return None
    path = config.resolve(session.media)
    index = config.sessions.index(session)
    where = f"{config.where('sessions', index, 'media')}: sessions[{index}].media"
    try:
        limits.input_file(path, root=config.root)
    except (FileNotFoundError, IsADirectoryError) as exc:
        found = "is a folder, not a file" if isinstance(exc, IsADirectoryError) else "file not found"
        raise ConfigError(f"{where}: {found}: {session.media}. publish.media: copy publishes it with the site: "
                          "fix the path, or set publish.media: none.") from None
    except InputError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if path.suffix.lower() not in PLAYABLE:
        log.warning("%s: %s is not a file browsers play (%s): the site publishes no player for %s. Convert it to "
                    "MP3, MP4, OGG or WebM, or give its media_url.", where, session.media.name,
                    ", ".join(sorted(PLAYABLE)), session.id)
        return None
    return path


def _player(config: Config, session: Session, folder: str, stem: str, captions: str | None,
            site: SiteFolder, wording: dict[str, Any]) -> tuple[Player | None, Download | None]:
    """What the session's page plays: its replay copied into the site (publish.media: copy), else
    its media_url; and the replay's download, for a copy."""
    media = _media_file(config, session) if config.publish.media == "copy" else None
    if media is not None:
        suffix = media.suffix.lower()
        href = f"{folder}/{stem}{suffix}"
        size = site.copy_media(media, href)
        units = wording["site"]["size_units"]
        download = Download(wording["site"]["downloads"]["media"], href, suffix[1:], size,
                            file_size_text(size, units))
        return Player(href, PLAYABLE[suffix], captions), download
    if session.media_url:
        suffix = Path(urlsplit(session.media_url).path).suffix.lower()
        return Player(session.media_url, PLAYABLE.get(suffix, ""), captions), None
    return None, None


def _session_entry(published: PublishedSession, site: SiteFolder, config: Config) -> SessionEntry:
    """Copy one session's downloads and charts (and its replay) into the site and gather what
    its pages show."""
    from markupsafe import Markup

    wording = config.templates.wording()
    session, manifest = published.session, published.manifest
    folder = f"seances/{manifest.stem}"
    units = wording["site"]["size_units"]
    downloads = _downloads(manifest, folder, wording["site"]["downloads"], site, units)
    pdf = next((d for d in downloads if d.fmt == "pdf"), None)
    # The subtitles the render stage wrote from the reviewed transcript; the machine's captions
    # only for a manifest that has none.
    subtitles = manifest.file(manifest.files["vtt"]) if manifest.files.get("vtt") else published.subtitles
    captions = None
    if subtitles is not None and subtitles.is_file():
        captions = f"{folder}/{manifest.stem}.vtt"
        size = site.copy(subtitles, captions)
        downloads.append(Download(wording["site"]["downloads"]["vtt"], captions, "vtt", size,
                                  file_size_text(size, units)))
    player, replay = _player(config, session, folder, manifest.stem, captions, site, wording)
    if replay is not None:
        downloads.append(replay)
    body = Markup(manifest.file(manifest.fragment).read_text(encoding="utf-8"))  # our renderer's escaped HTML
    return SessionEntry(session=session, page=f"seances/{manifest.stem}.html", summary=manifest.page,
                        downloads=downloads, body=body, player=player, pdf=pdf,
                        approval_at=manifest.approval.at if manifest.approval.final else "")


def _feed(config: Config, entries: Sequence[SessionEntry], cycle: RenderManifest | None,
          cycle_downloads: Sequence[Download]) -> str:
    """The Atom feed of the syntheses approved: each session's, and the cycle's once final."""
    items = [FeedEntry(key=entry.session.id, title=f"{entry.label} · {entry.summary.title}",
                       approved_at=entry.approval_at, page=entry.page,
                       summary_points=[f"{p.text} ({p.speaker}, {p.timestamp})" if p.speaker else p.text
                                       for p in entry.summary.summary_points],
                       summary_text=entry.summary.description,
                       pdf=entry.pdf.href if entry.pdf else "", pdf_size=entry.pdf.size_bytes if entry.pdf else 0)
             for entry in entries if entry.approval_at]
    if cycle is not None and cycle.approval.final and cycle.approval.at:
        pdf = next((d for d in cycle_downloads if d.fmt == "pdf"), None)
        items.append(FeedEntry(key="cycle", title=cycle.page.label + " · " + cycle.page.title,
                               approved_at=cycle.approval.at, page=CYCLE_PAGE,
                               summary_text=cycle.page.description,
                               pdf=pdf.href if pdf else "", pdf_size=pdf.size_bytes if pdf else 0))
    options = config.publish
    return atom_feed(title=french_text(config.cycle.title), subtitle=french_text(config.cycle.subtitle),
                     author=french_text(config.cycle.organiser), entries=items,
                     identity=options.site_url or config.cycle.url or config.cycle.title, site_url=options.site_url)


def build_site(config: Config, sessions: Sequence[PublishedSession], cycle: RenderManifest | None,
               site: SiteFolder) -> tuple[list[str], list[str]]:
    """Write every page and file of the site into `site`; return the session and theme ids."""
    from markupsafe import Markup

    wording = config.templates.wording()
    pages = _Pages(config, has_cycle=cycle is not None)
    site.write_page(STYLESHEET, config.templates.read_text(f"{SITE_FOLDER}/{STYLESHEET}"))
    for script in SCRIPTS:
        site.write_page(script, config.templates.read_text(f"{SITE_FOLDER}/{script}"))
    logo = config.publication.logo
    if logo is not None:
        site.copy(config.resolve(logo), f"logo{logo.suffix.lower()}")
        pages.env.globals["site_logo"] = f"logo{logo.suffix.lower()}"
    entries = [_session_entry(s, site, config) for s in sessions]
    # Search needs pages to search: a site of no session has neither the form nor the page.
    search = config.publish.search and bool(entries)
    pages.env.globals["search"] = search

    themes: list[dict[str, Any]] = []
    for theme in config.themes:
        groups = [(entry, entry.excerpts_of(theme.id)) for entry in entries]
        themes.append({"theme": theme, "page": f"themes/{theme.id}.html", "groups": groups,
                       "excerpts": sum(len(items) for _, items in groups),
                       "passages": sum(entry.passages_of(theme.id) for entry in entries)})

    cycle_downloads: list[Download] = []
    if cycle is not None:
        cycle_downloads = _downloads(cycle, cycle.stem, wording["site"]["cycle_downloads"], site,
                                     wording["site"]["size_units"])
        body = Markup(cycle.file(cycle.fragment).read_text(encoding="utf-8"))
        site.write_page(CYCLE_PAGE, pages.render(
            "synthesis.html.j2", root="", body=split_cover(body), downloads=cycle_downloads,
            page_title=wording['site']['cycle_page_title'], current="cycle", entry=None, entries=entries,
            themes=themes, cycle_citation=cycle.page.citation, draft=cycle.page))

    for item in themes:
        site.write_page(item["page"], pages.render("theme.html.j2", root="../", theme=item["theme"],
                                                   groups=item["groups"], page_title=item["theme"].label,
                                                   current="themes"))
    for entry in entries:
        site.write_page(entry.page, pages.render(
            "synthesis.html.j2", root="../", body=split_cover(entry.body), downloads=entry.downloads,
            page_title=f"{entry.label} · {entry.summary.title}", current="seances", entry=entry,
            entries=entries, themes=themes, draft=entry.summary,
            scripts=["player.js"] if entry.player is not None else []))
    site.write_page("index.html", pages.render(
        "index.html.j2", root="", entries=entries, themes=themes, cycle_downloads=cycle_downloads,
        cycle_page=CYCLE_PAGE if cycle is not None else None, page_title=config.cycle.title, current="index",
        cycle_summary=cycle.page if cycle is not None else None))
    site.write_page(FEED_FILE, _feed(config, entries, cycle, cycle_downloads))
    if search:
        site.write_page(SEARCH_PAGE, pages.render("search.html.j2", root="", entries=entries, themes=themes,
                                                  page_title=wording["site"]["search_title"], current="search",
                                                  scripts=["search.js"]))
        build_search_index(site.root)
    return [entry.session.id for entry in entries], [t.id for t in config.themes]


# --- what publishing may replace ---------------------------------------------------------------

def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


UNKNOWN_SHOWN = 3  # unknown files named in the error; the count says how many more


@dataclass
class FolderContent:
    """An output folder read against its site.json: what publishing wrote and may replace, and
    what it did not write (or what was changed since), which it never touches."""

    unknown: list[str]  # entries Synthèse did not write (files, links, folders of someone else's)
    changed: list[str]  # files it wrote that were edited since
    kept: list[str]  # the topmost entries publish.keep names, carried over as they are
    manifest: SiteManifest | None = None  # the folder's site.json, when it holds a site


def _walk(folder: Path) -> list[tuple[str, Path]]:
    """Every entry under `folder` (files, links, folders), relative with '/', never following a
    link: a linked folder is one entry, whatever it leads to."""
    found = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        base = Path(current)
        for name in sorted(dirs) + sorted(files):
            path = base / name
            found.append((path.relative_to(folder).as_posix(), path))
    return found


class HashCache:
    """The sha256 of files already read in this publish, by path, inode, size and modification
    time: the folder is checked twice (before the build, and again before the swap), a large
    replay is read once."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        info = path.stat()
        key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
        if key not in self._known:
            self._known[key] = file_hash(path)
        return self._known[key]


def read_folder(folder: Path, manifest: SiteManifest, options: PublishOptions,
                hashes: HashCache | None = None) -> FolderContent:
    """Compare what `folder` holds with what `manifest` says publishing wrote there."""
    hash_of_file = hashes or file_hash
    ours = manifest.files
    our_folders = {parent.as_posix() for name in ours for parent in Path(name).parents} - {"."}
    content = FolderContent(unknown=[], changed=[], kept=[])
    for relative, path in _walk(folder):
        if options.kept(relative) or relative in KEPT_FILES:
            if not any(_inside(Path(relative), Path(k)) for k in content.kept):
                content.kept.append(relative)
        elif relative == SITE_MANIFEST and path.is_file() and not path.is_symlink():
            continue
        elif path.is_symlink() or not (path.is_file() or path.is_dir()):
            content.unknown.append(relative)
        elif path.is_dir():
            # A folder of the site, or one holding files (those are named themselves); an
            # empty folder of someone else's is theirs.
            if relative not in our_folders and not any(path.iterdir()):
                content.unknown.append(relative + "/")
        elif relative not in ours:
            content.unknown.append(relative)
        elif ours[relative] != SiteManifest.UNKNOWN_HASH and hash_of_file(path) != ours[relative]:
            content.changed.append(relative)
    content.unknown.sort()
    content.changed.sort()
    return content


def _names(paths: list[str]) -> str:
    # A name with a newline or a control character is quoted: it could fake a line of output.
    shown = ", ".join(p if p.isprintable() else repr(p) for p in paths[:UNKNOWN_SHOWN])
    return shown + (f" and {len(paths) - UNKNOWN_SHOWN} more" if len(paths) > UNKNOWN_SHOWN else "")


def _check_content(output_dir: Path, target: Path, options: PublishOptions,
                   hashes: HashCache | None = None) -> FolderContent:
    """What the existing output folder holds, after checking that publishing may replace it all
    but what publish.keep names; raise SyntheseError naming the first files it may not."""
    where = f"publish.output_dir {output_dir}"
    manifest_path = target / SITE_MANIFEST
    entries = [p for p in target.iterdir() if p.name not in KEPT_FILES and not options.kept(p.name)]
    if not entries:
        return read_folder(target, SiteManifest(), options)
    if not manifest_path.is_file() or manifest_path.is_symlink():
        found = f"its {SITE_MANIFEST} is a link" if manifest_path.is_symlink() else f"no {SITE_MANIFEST}"
        raise SyntheseError(f"{where} holds files that are not a site Synthèse published ({found}): "
                            "publishing would delete them. Empty it, or choose another folder.")
    try:
        manifest = SiteManifest.load(manifest_path)
    except SyntheseError as exc:
        raise SyntheseError(f"{where} holds a {SITE_MANIFEST} that cannot be read ({exc}), so what publishing wrote "
                            "there is unknown. Move the folder's files elsewhere, or choose another folder.") from None
    content = read_folder(target, manifest, options, hashes)
    content.manifest = manifest
    if content.unknown:
        count = len(content.unknown)
        them = "them" if count > 1 else "it"
        raise SyntheseError(
            f"{where} holds {count} file{'s' if count > 1 else ''} that Synthèse did not publish "
            f"({_names(content.unknown)}): publishing would delete {them}. Move {them} elsewhere, or list {them} "
            f"in publish.keep in config.yaml to carry {them} over into each new site (e.g. keep: [\"robots.txt\", "
            "\".well-known/\"]).")
    if content.changed:
        count = len(content.changed)
        raise SyntheseError(
            f"{where}: {_names(content.changed)} {'were' if count > 1 else 'was'} changed since Synthèse published "
            f"{'them' if count > 1 else 'it'}: publishing would overwrite the change. Move the changed "
            f"file{'s' if count > 1 else ''} elsewhere to keep {'them' if count > 1 else 'it'} (or delete "
            f"{'them' if count > 1 else 'it'}), then publish again.")
    if manifest.schema_ != SiteManifest.SCHEMA:
        log.debug("%s: a site of an earlier version, checked by file names only", manifest_path)
    return content


def check_output_dir(output_dir: Path, *, project_root: Path, protected: Sequence[Path],
                     options: PublishOptions | None = None, hashes: HashCache | None = None) -> Path:
    """The folder the site will replace (a symbolic link's target), after checking that it holds
    nothing but a previous site, unchanged, and what `options.keep` names; raise SyntheseError
    saying what to change otherwise.

    `protected` lists the project's own folders and files (transcripts/, config.yaml, replays…):
    the site may not be, contain or lie inside any of those folders, nor contain those files; nor
    may it be or contain the project's folder itself.
    """
    options = options or PublishOptions()
    target = output_dir.resolve()
    root = project_root.resolve()
    fix = "Set publish.output_dir in config.yaml to a folder of its own, such as 'outputs'."
    if _inside(root, target):
        raise SyntheseError(f"publish.output_dir {output_dir} is the project folder or contains it: publishing "
                            f"would replace config.yaml, the replays and the review files. {fix}")
    for path in protected:
        resolved = path.resolve()
        if _inside(resolved, target) or _inside(target, resolved):
            raise SyntheseError(f"publish.output_dir {output_dir} overlaps {path}, which belongs to the project: "
                                f"publishing would replace it. {fix}")
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise SyntheseError(f"publish.output_dir {output_dir} is a file, not a folder. {fix}")
        _check_content(output_dir, target, options, hashes)
        for folder in [target, *(p for p in target.rglob("*") if p.is_dir() and not p.is_symlink())]:
            if not folder.stat().st_mode & stat.S_IWUSR:
                raise SyntheseError(f"{folder} is read-only: the previous site cannot be replaced. Make it "
                                    f"writable (chmod -R u+w {target}) or choose another publish.output_dir.")
    return target


def _carry_over(target: Path, kept: Sequence[str], build_dir: Path, built: dict[str, str],
                options: PublishOptions) -> None:
    """Copy what publish.keep names from the previous site into the new one, as it is (content,
    mode, times; a link stays a link); refuse a kept path the site itself writes."""
    clash = sorted(name for name in built if options.kept(name))
    if clash:
        raise SyntheseError(f"publish.keep names {clash[0]}, which the site writes itself: remove that entry from "
                            "publish.keep in config.yaml (only files that are not the site's can be kept).")
    for relative in kept:
        top = target / relative
        inside = _walk(top) if top.is_dir() and not top.is_symlink() else []
        for path in [top, *(p for _, p in inside)]:
            if not (path.is_symlink() or path.is_file() or path.is_dir()):
                raise SyntheseError(f"publish.keep: {path} is not a file, a folder or a link (a named pipe, a socket "
                                    "or a device), so it cannot be carried over. Remove it, or take it out of "
                                    "publish.keep in config.yaml.")
    for relative in kept:
        source, copy = target / relative, build_dir / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, copy, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, copy, follow_symlinks=False)


# --- atomic swap -----------------------------------------------------------------------------------

def _remove_tree(folder: Path) -> None:
    """Remove a folder this module created, read-only parts included."""
    def make_writable_and_retry(function, path, _exc):
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)

    shutil.rmtree(folder, onerror=make_writable_and_retry)


def _leftovers(target: Path, options: PublishOptions) -> list[Path]:
    """Build and old-site folders a killed publish left beside the target: only ever folders
    this module made (a build marker inside, or a site whose every file its site.json lists)."""
    parent, name = target.parent, target.name
    found = [*parent.glob(f".{name}.tmp-*"), *parent.glob(f".{name}.old-*")]
    return [p for p in found if p.is_dir() and not p.is_symlink()
            and ((p / BUILD_MARKER).is_file() or _is_whole_site(p, options))]


def _is_whole_site(folder: Path, options: PublishOptions) -> bool:
    try:
        manifest = SiteManifest.load(folder / SITE_MANIFEST)
    except SyntheseError:
        return False
    content = read_folder(folder, manifest, options)
    return not content.unknown and not content.changed


def _restore_interrupted_swap(target: Path, options: PublishOptions) -> None:
    """A publish killed between the two renames of _swap_in left no site, its previous one beside
    the target: put that one back, so that what publish.keep carried stays."""
    if os.path.lexists(target):
        return
    olds = [p for p in _leftovers(target, options) if ".old-" in p.name and not (p / BUILD_MARKER).exists()]
    if olds:
        previous = max(olds, key=lambda p: p.stat().st_mtime)
        log.info("putting back %s, the site an interrupted publish had moved away", target)
        os.rename(previous, target)


def publish(config: Config, sessions: Sequence[PublishedSession], cycle: RenderManifest | None, *,
            output_dir: Path, protected: Sequence[Path] = (), inputs_hash: str = "") -> SiteManifest:
    """Build the whole site and swap it in place of `output_dir`; return its manifest.

    Nothing is changed when the output folder may not be replaced (see check_output_dir) or when
    the build fails: the previous site stays as it was and the temporary folder is removed.
    """
    options = config.publish
    _restore_interrupted_swap(output_dir.resolve(), options)
    hashes = HashCache()
    target = check_output_dir(output_dir, project_root=config.root, protected=protected, options=options,
                              hashes=hashes)
    # The site being replaced, checked unchanged: a replay copied into it is taken over as it is.
    previous_content = _check_content(output_dir, target, options, hashes) if target.is_dir() else None
    previous = PreviousSite(target, previous_content.manifest) \
        if previous_content is not None and previous_content.manifest is not None else None
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(target, options):  # a killed publish's folders; callers hold the workspace lock
        log.debug("removing %s left by an interrupted publish", leftover)
        _remove_tree(leftover)

    with _writing_in(target.parent):
        build_dir = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        with _writing_in(target.parent):
            (build_dir / BUILD_MARKER).touch()
            site = SiteFolder(build_dir, previous)
            session_ids, theme_ids = build_site(config, sessions, cycle, site)
            files = site.files()
            manifest = SiteManifest(inputs_hash=inputs_hash, options=options.model_dump(mode="json"),
                                    sessions=session_ids, themes=theme_ids, files=files,
                                    documents=_documents(sessions, cycle), media=site.media)
            manifest.save(site.path(SITE_MANIFEST))  # last: its presence means a complete site
            (build_dir / BUILD_MARKER).unlink()
            _make_readable(build_dir)
            # Checked again just before the swap: a file added to the folder during the build is
            # not deleted either.
            kept = _check_content(output_dir, target, options, hashes).kept if target.is_dir() else []
            _carry_over(target, kept, build_dir, files, options)
        _swap_in(build_dir, target)
    except BaseException:
        _remove_tree(build_dir)
        raise
    log.debug("site published in %s (%d files)", target, len(manifest.files))
    return manifest


def _documents(sessions: Sequence[PublishedSession], cycle: RenderManifest | None) -> dict[str, SiteDocument]:
    """Each published document's review state and what made it, for site.json."""
    documents = {s.session.id: SiteDocument(approval=s.manifest.approval, provenance=s.manifest.provenance)
                 for s in sessions}
    if cycle is not None:
        documents["cycle"] = SiteDocument(approval=cycle.approval, provenance=cycle.provenance)
    return documents


@contextlib.contextmanager
def _writing_in(folder: Path) -> Iterator[None]:
    """Report a full disk or a read-only file system met while the site is written on `folder`,
    where it is built and swapped in: the error of a copy names its source, that of a page the
    temporary build folder, neither of which is the one to free space on."""
    try:
        yield
    except (OSError, StorageError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        if isinstance(cause, OSError) and cause.errno in (*DISK_FULL, *READ_ONLY):
            message = describe_os_error(OSError(cause.errno, cause.strerror, str(folder)))
            raise StorageError(f"publishing the site: {message}") from exc
        raise


def _make_readable(folder: Path) -> None:
    """Temporary files and folders are created private (0600/0700); a published site is for
    every reader, including a web server running as another user."""
    os.chmod(folder, 0o755)
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _swap_in(build_dir: Path, target: Path) -> None:
    """Rename the built site into place; the old site is renamed away first, then removed."""
    old_dir = None
    if target.exists():
        old_dir = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old_dir)
    try:
        os.rename(build_dir, target)
    except BaseException:
        if old_dir is not None:
            os.rename(old_dir, target)  # put the previous site back
        raise
    if old_dir is not None:
        _remove_tree(old_dir)
