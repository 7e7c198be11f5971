"""Stage 4, publish: the readers' site in outputs/, built from the rendered sessions.

The site is plain HTML and CSS (no script, no external resource, relative links only), so it
works from file:// as well as from any static server:

    index.html                     the cycle, its sessions (with downloads) and its themes
    seances/<id>.html              each session's synthesis, in the site's layout
    seances/<id>/                  its downloads (PDF, DOCX, HTML, VTT subtitles) and charts
    themes/<theme-id>.html         the excerpts of one theme, across the sessions
    synthese-du-cycle.html         the cycle's synthesis, in the site's layout
    cycle/                         its downloads (cycle.pdf, .docx, .html) and charts
    style.css, site.json           the stylesheet and the manifest (schema synthese.site/1)

The whole site is built in a temporary folder beside outputs/ and swapped in at the end, so a
reader never sees a half-written site and a failed build leaves the previous one untouched.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.artefacts import artefact, read_json, write_json, write_text
from pipeline.config import Config, Session
from pipeline.errors import SyntheseError
from pipeline.typography import NBSP, duration_text, french_date, french_text, join_list, timestamp
from pipeline.workspace import TEMPLATES_DIR, Workspace

__all__ = ["SITE_MANIFEST", "SCHEMA", "publish_site", "file_size_text"]

log = logging.getLogger(__name__)

SITE_MANIFEST = "site.json"
SCHEMA = "synthese.site/1"
SITE_TEMPLATES = TEMPLATES_DIR / "site"
STYLESHEET = "style.css"
CYCLE_PAGE = "synthese-du-cycle.html"
MAIN_THEMES_PER_SESSION = 3

FORMAT_NAMES = {"pdf": "PDF", "docx": "DOCX", "html": "HTML", "vtt": "VTT"}
FORMAT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "vtt": "text/vtt",
}
DOWNLOAD_LABELS = {
    "pdf": "Synthèse",
    "docx": "Synthèse modifiable",
    "html": "Synthèse, page autonome",
    "vtt": "Sous-titres de la séance",
}


# --- what the pages show ------------------------------------------------------------------------

@dataclass
class Download:
    """A file readers can download; its link text states the format and the size."""
    label: str
    href: str  # relative to the site's root
    fmt: str
    size_bytes: int

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES[self.fmt]

    @property
    def mime_type(self) -> str:
        return FORMAT_TYPES[self.fmt]

    @property
    def details(self) -> str:
        """« PDF, 245 Ko »."""
        return f"{self.format_name}, {file_size_text(self.size_bytes)}"


@dataclass
class ThemeCount:
    id: str
    label: str
    passages: int


@dataclass
class SiteExcerpt:
    text: str
    speaker: str
    start_s: float
    timestamp: str
    session_href: str  # the excerpt in the session's synthesis, relative to the site's root
    replay_href: str | None


@dataclass
class SessionEntry:
    session: Session
    label: str  # 'Séance 2'
    date: str  # '17 mars 2022'
    page: str  # 'seances/<id>.html'
    speakers: list[str]
    theme_counts: list[ThemeCount]  # every codebook theme, most present first
    downloads: list[Download]
    duration: str  # '1 h 02 min 05 s'
    body: str = ""  # the synthesis as an HTML fragment, from pipeline.render
    excerpts: dict[str, list[SiteExcerpt]] = field(default_factory=dict)  # theme id -> excerpts

    @property
    def main_themes(self) -> list[ThemeCount]:
        """The themes with the most passages (at most three, none that is absent)."""
        return [t for t in self.theme_counts if t.passages][:MAIN_THEMES_PER_SESSION]

    def passages_of(self, theme_id: str) -> int:
        return next((t.passages for t in self.theme_counts if t.id == theme_id), 0)


def file_size_text(size_bytes: int) -> str:
    """A file size the French way, for download links: '812 octets', '245 Ko', '1,2 Mo'.

    Units are powers of 1000 (ko, Mo) as the SI defines them; Ko is written with a capital as on
    French public sites. A non-breaking space keeps the number with its unit.
    """
    if size_bytes < 1000:
        return f"{size_bytes}{NBSP}octet{'s' if size_bytes > 1 else ''}"
    if size_bytes < 1_000_000:
        return f"{max(1, round(size_bytes / 1000))}{NBSP}Ko"
    megabytes = size_bytes / 1_000_000
    text = f"{megabytes:.1f}".replace(".", ",").removesuffix(",0")
    return f"{text}{NBSP}Mo"


def _speaker_line(speaker) -> str:
    details = ", ".join(part for part in (speaker.role, speaker.organisation) if part)
    return f"{speaker.name} ({details})" if details else speaker.name


def _session_label(session: Session) -> str:
    return f"Séance {session.number}" if session.number is not None else "Séance"


def _theme_counts(config: Config, tags: dict[str, Any]) -> list[ThemeCount]:
    """Every codebook theme with the number of passages tagged with it, most present first
    (ties keep the codebook's order)."""
    counts: Counter[str] = Counter()
    for passage in tags.get("passages", []):
        for theme in {t.get("id") for t in passage.get("themes", [])}:
            counts[theme] += 1
    themes = [ThemeCount(t.id, t.label, counts.get(t.id, 0)) for t in config.themes]
    return sorted(themes, key=lambda t: -t.passages)


# --- a build folder that cannot be escaped ---------------------------------------------------

class SiteFolder:
    """The temporary folder the site is built in; every path written is checked to stay inside."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def path(self, relative: str) -> Path:
        target = (self.root / relative).resolve()
        # Names come from session and theme ids, which config validation restricts to
        # [a-z0-9_-]; this check holds even if that ever changes.
        if not target.is_relative_to(self.root) or target == self.root:
            raise SyntheseError(f"refusing to write {relative!r} outside the site folder {self.root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def folder(self, relative: str) -> Path:
        """A sub-folder of the site, created, for a stage that writes several files there."""
        folder = self.path(relative)
        folder.mkdir(exist_ok=True)
        return folder

    def files(self) -> list[str]:
        """Every file written so far, as paths relative to the site's root."""
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def write_page(self, relative: str, html: str) -> None:
        write_text(self.path(relative), html)

    def copy(self, source: Path, relative: str) -> int:
        """Copy a file into the site; return its size in bytes."""
        target = self.path(relative)
        shutil.copyfile(source, target)
        return target.stat().st_size


# --- templates ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # Autoescape everything: titles, names and transcript text are data, never markup.
    env = Environment(loader=FileSystemLoader(str(SITE_TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fr"] = french_text
    env.filters["join_list"] = join_list
    return env


def _render_page(name: str, *, root: str, **context: Any) -> str:
    """Render a site template; `root` is the relative way back to the site's root ('' or '../').
    `context` holds `config`, `has_cycle` (whether the menu links to the cycle's synthesis),
    `page_title` and `current` (the menu entry of the page) plus the page's own values."""
    return _environment().get_template(name).render(root=root, **context)


# --- building the site ----------------------------------------------------------------------------

def _session_entry(ws: Workspace, session: Session, site: SiteFolder) -> SessionEntry:
    """Copy one session's downloads and charts into the site and gather what its pages show."""
    from markupsafe import Markup

    from pipeline.document import build_document, load_wording, replay_link
    from pipeline.render import load_session_inputs, render_html_body

    config, paths = ws.config, ws.paths(session)
    manifest = read_json(paths.render, "synthese.render/")
    tags, transcript = load_session_inputs(paths.tags)
    folder = f"seances/{session.id}"

    def rendered_file(name: str) -> Path:
        source = paths.render_dir / Path(name).name  # a name beside the manifest, never elsewhere
        if not source.is_file():
            raise SyntheseError(f"{source}: rendered file missing. Run `synthese run --force {session.id}`.")
        return source

    downloads = []
    for fmt in ("pdf", "docx", "html"):
        name = manifest.get("files", {}).get(fmt)
        if name:
            size = site.copy(rendered_file(name), f"{folder}/{session.id}.{fmt}")
            downloads.append(Download(DOWNLOAD_LABELS[fmt], f"{folder}/{session.id}.{fmt}", fmt, size))
    subtitles = paths.folder / f"{paths.stem}.vtt"
    if subtitles.is_file():
        size = site.copy(subtitles, f"{folder}/{session.id}.vtt")
        downloads.append(Download(DOWNLOAD_LABELS["vtt"], f"{folder}/{session.id}.vtt", "vtt", size))

    # The synthesis itself, as the renderer lays it out, with its charts next to the downloads
    # (where the standalone HTML download finds them too).
    doc = build_document(tags, transcript, session, config, stem=session.id)
    body = Markup(render_html_body(doc, asset_prefix=f"{session.id}/"))  # our renderer's escaped HTML
    for name in sorted({*manifest.get("charts", []), *(chart.image for chart in doc.charts)}):
        site.copy(rendered_file(name), f"{folder}/{Path(name).name}")
    anchors = {f"{chapter.id}-{excerpt.anchor}" for chapter in doc.chapters for excerpt in chapter.excerpts}

    passages = {p.get("id"): p for p in tags.get("passages", [])}
    excerpts: dict[str, list[SiteExcerpt]] = {}
    for theme in config.themes:
        chosen = [passages[pid] for pid in tags.get("excerpts", {}).get(theme.id, []) if pid in passages]
        excerpts[theme.id] = []
        for passage in chosen:
            start_s = float(passage.get("start", 0.0))
            anchor = f"{theme.id}-{passage.get('id')}"
            excerpts[theme.id].append(SiteExcerpt(
                text=passage.get("text", ""),
                speaker=passage.get("speaker") or load_wording()["unknown_speaker"],
                start_s=start_s,
                timestamp=timestamp(start_s),
                session_href=f"seances/{session.id}.html" + (f"#{anchor}" if anchor in anchors else ""),
                replay_href=replay_link(session.replay_url, start_s),
            ))

    return SessionEntry(
        session=session,
        label=_session_label(session),
        date=french_date(session.date),
        page=f"seances/{session.id}.html",
        speakers=[_speaker_line(s) for s in session.speakers],
        theme_counts=_theme_counts(config, tags),
        downloads=downloads,
        duration=duration_text(float(tags.get("duration_s") or 0.0)) if tags.get("duration_s") else "",
        body=body,
        excerpts=excerpts,
    )


def _cycle_synthesis(ws: Workspace, rendered: list[Session], site: SiteFolder) -> tuple[list[Download], str]:
    """Render the cycle's synthesis into the site's cycle/ folder; return its downloads and its
    content as an HTML fragment for the cycle page."""
    from markupsafe import Markup

    from pipeline.document import build_cycle_document
    from pipeline.render import load_session_inputs, render_cycle, render_html_body

    config = ws.config
    out_dir = site.folder("cycle")
    targets = render_cycle(config, [(s, ws.paths(s).tags) for s in rendered], out_dir=out_dir,
                           formats=list(config.render.formats))
    downloads = [
        Download({"pdf": "Synthèse du cycle", "docx": "Synthèse du cycle modifiable",
                  "html": "Synthèse du cycle, page autonome"}[fmt],
                 f"cycle/{path.name}", fmt, path.stat().st_size)
        for fmt, path in sorted(targets.items(), key=lambda item: list(FORMAT_NAMES).index(item[0]))
    ]
    inputs = [(s, *load_session_inputs(ws.paths(s).tags)) for s in rendered]
    doc = build_cycle_document(config, inputs, stem="cycle")
    return downloads, Markup(render_html_body(doc, asset_prefix="cycle/"))


def _theme_pages(config: Config, entries: list[SessionEntry], site: SiteFolder,
                 has_cycle: bool) -> list[dict[str, Any]]:
    """One page per codebook theme, gathering its excerpts session after session."""
    summaries = []
    for theme in config.themes:
        groups = [(entry, entry.excerpts.get(theme.id, [])) for entry in entries]
        total = sum(len(items) for _, items in groups)
        passages = sum(entry.passages_of(theme.id) for entry in entries)
        page = f"themes/{theme.id}.html"
        site.write_page(page, _render_page(
            "theme.html.j2", root="../", config=config, theme=theme, groups=groups, excerpts_total=total,
            page_title=theme.label, current="themes", has_cycle=has_cycle,
        ))
        summaries.append({"theme": theme, "page": page, "excerpts": total, "passages": passages})
    return summaries


def build_site(ws: Workspace, rendered: list[Session], site: SiteFolder) -> dict[str, Any]:
    """Write every page and file of the site into `site`; return the manifest's payload."""
    config = ws.config
    site.write_page(STYLESHEET, (SITE_TEMPLATES / STYLESHEET).read_text(encoding="utf-8"))

    entries = [_session_entry(ws, session, site) for session in rendered]

    cycle_downloads: list[Download] = []
    if rendered:
        cycle_downloads, cycle_body = _cycle_synthesis(ws, rendered, site)
        site.write_page(CYCLE_PAGE, _render_page(
            "synthesis.html.j2", root="", config=config, body=cycle_body, downloads=cycle_downloads,
            page_title=f"Synthèse du cycle · {config.cycle.title}", current="cycle", entry=None, has_cycle=True,
        ))

    has_cycle = bool(rendered)
    themes = _theme_pages(config, entries, site, has_cycle)
    for entry in entries:
        site.write_page(entry.page, _render_page(
            "synthesis.html.j2", root="../", config=config, body=entry.body, downloads=entry.downloads,
            page_title=f"{entry.label} · {entry.session.title}", current="seances", entry=entry, has_cycle=has_cycle,
        ))
    site.write_page("index.html", _render_page(
        "index.html.j2", root="", config=config, entries=entries, themes=themes,
        cycle_downloads=cycle_downloads, cycle_page=CYCLE_PAGE if rendered else None,
        page_title=config.cycle.title, current="index", has_cycle=has_cycle,
    ))
    return {
        "sessions": [entry.session.id for entry in entries],
        "themes": [t.id for t in config.themes],
        "files": site.files(),
    }


# --- atomic swap -----------------------------------------------------------------------------------

def _leftover_folders(outputs_dir: Path) -> list[Path]:
    parent, name = outputs_dir.parent, outputs_dir.name
    return [*parent.glob(f".{name}.tmp-*"), *parent.glob(f".{name}.old-*")]


def publish_site(ws: Workspace, rendered: list[Session]) -> Path:
    """Build the whole site for the rendered sessions and swap it in place of outputs/.

    The site is built in `.outputs.tmp-<random>` beside outputs/, then the old outputs/ is renamed
    away, the new one renamed in and the old one removed. If the build fails, the previous
    outputs/ is left as it was and the temporary folder is removed. Returns the outputs folder.
    """
    outputs_dir = ws.outputs_dir
    parent = outputs_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    # A killed publish may have left its folders behind; only ever called under the workspace lock.
    for leftover in _leftover_folders(outputs_dir):
        log.debug("removing %s left by an interrupted publish", leftover)
        shutil.rmtree(leftover, ignore_errors=True)

    build_dir = Path(tempfile.mkdtemp(dir=parent, prefix=f".{outputs_dir.name}.tmp-"))
    try:
        site = SiteFolder(build_dir)
        payload = build_site(ws, rendered, site)
        # Keep the placeholder that keeps an empty outputs/ in version control.
        if (outputs_dir / ".gitkeep").is_file():
            shutil.copyfile(outputs_dir / ".gitkeep", build_dir / ".gitkeep")
        manifest = artefact(SCHEMA, ws.publish_hash(rendered), ws.config.publish.model_dump(mode="json"),
                            **payload)
        write_json(site.path(SITE_MANIFEST), manifest)  # last: its presence means a complete site
        _make_readable(build_dir)
        _swap_in(build_dir, outputs_dir)
    except BaseException:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise
    log.debug("site published in %s (%d files)", outputs_dir, len(payload["files"]))
    return outputs_dir


def _make_readable(folder: Path) -> None:
    """Temporary files and folders are created private (0600/0700); a published site is for
    every reader, including a web server running as another user."""
    os.chmod(folder, 0o755)
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _swap_in(build_dir: Path, outputs_dir: Path) -> None:
    """Rename the built site into place; the old site is renamed away first, then removed."""
    old_dir = None
    if outputs_dir.exists() or outputs_dir.is_symlink():
        old_dir = outputs_dir.parent / f".{outputs_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(outputs_dir, old_dir)
    try:
        os.rename(build_dir, outputs_dir)
    except BaseException:
        if old_dir is not None:
            os.rename(old_dir, outputs_dir)  # put the previous site back
        raise
    if old_dir is not None:
        shutil.rmtree(old_dir, ignore_errors=True)
