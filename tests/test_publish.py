"""Stage 4, publish: the site in outputs/ for a fixture workspace of rendered sessions.

The fixture workspace holds real artefacts: transcripts and tags (from tests/data), VTT
subtitles, and each session rendered by the render stage (PDF, DOCX, HTML, charts, the site's
fragment and page summary), so the site is built exactly as after `synthese run`.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from synthese.core.artefacts import RenderManifest, Tags, Transcript
from synthese.core.config import load_config
from synthese.core.errors import SyntheseError
from synthese.publish import publishing as publish
from synthese.publish.publishing import SITE_MANIFEST, file_size_text
from synthese.stages import CycleRun, SessionRun, publish_workspace
from synthese.transcribe.importers import parse_vtt
from synthese.workspace import Workspace

DATA = Path(__file__).resolve().parent / "data"

# Rendered sessions: (id, number, date, title, replay address). seance-3's title carries markup
# characters, which must reach the page as text.
RENDERED = [
    ("seance-2", 2, "2022-03-17", "Sobriété, matérialité et infrastructures",
     "https://www.urbanisme-puca.gouv.fr/replays/apres-la-smart-city/seance-2"),
    ("seance-3", 3, "2022-04-14", "Données & <capteurs> : la ville mesurée",
     "https://www.youtube.com/watch?v=abc123"),
]
NOT_RENDERED = "seance-4"


def _vtt(transcript: Transcript) -> str:
    def clock(seconds: float) -> str:
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"

    cues = [f"{clock(s.start)} --> {clock(s.end)}\n<v {s.speaker or 'Inconnu'}>{s.text}" for s in transcript.segments]
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def _write_rendered_session(ws: Workspace, session_id: str, *, transcript: Transcript | None = None,
                            approval=None) -> None:
    """The artefacts of stages 1 to 3 for one session, as `synthese run` leaves them (the sample
    transcript unless another is given; `approval`: the review state its tags record)."""
    session = ws.config.session(session_id)
    paths = ws.paths(session)
    paths.folder.mkdir(parents=True, exist_ok=True)
    transcript = transcript or Transcript.load(DATA / "render_sample.transcript.json")
    tags = Tags.load(DATA / "render_sample.tags.json").model_copy(
        update={"session_id": session_id, "transcript": paths.transcript.name})
    if approval is not None:
        tags.review.approval = approval
    transcript.save(paths.transcript)
    tags.save(paths.tags)
    for subtitles in (paths.subtitles, ws.root / f"{session_id}.vtt"):  # output, source
        subtitles.write_text(_vtt(transcript), encoding="utf-8")
    SessionRun(ws, session).run_stage("render")


def make_workspace(root: Path, *, rendered: tuple[str, ...] = ("seance-2", "seance-3"),
                   publish: dict | None = None, sessions: dict[str, dict] | None = None) -> Workspace:
    """A config.yaml with two rendered sessions and one that has not been run yet; `publish`:
    settings of config.yaml's publish section, `sessions`: keys added to a session's entry."""
    config = yaml.safe_load((DATA / "render_config.yaml").read_text(encoding="utf-8"))
    template = config["sessions"][0]
    config["sessions"] = []
    config["publish"] = {**config.get("publish", {}), **(publish or {})}
    for session_id, number, date, title, replay in RENDERED:
        config["sessions"].append({**template, "id": session_id, "number": number, "date": date,
                                   "title": title, "replay_url": replay, "transcript": f"{session_id}.vtt",
                                   **(sessions or {}).get(session_id, {})})
    config["sessions"].append({"id": NOT_RENDERED, "number": 4, "title": "Séance à venir",
                               "transcript": f"{NOT_RENDERED}.vtt"})
    (root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ws = Workspace(load_config(root / "config.yaml"))
    for session_id in rendered:
        _write_rendered_session(ws, session_id)
    (root / "outputs").mkdir()
    (root / "outputs" / ".gitkeep").write_text("")
    return ws


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Workspace, Path]:
    ws = make_workspace(tmp_path_factory.mktemp("workspace"))
    publish_workspace(ws)
    return ws, ws.outputs_dir


class PageParser(html.parser.HTMLParser):
    """What the checks need from a page: its links, ids, headings and <html lang>."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.id_list: list[str] = []
        self.resources: list[str] = []  # what the browser loads by itself: images, stylesheets
        self.headings: list[int] = []
        self.lang: str | None = None
        self.link_texts: dict[str, list[str]] = {}  # href -> the text of each link to it
        self._open_link: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if "id" in attrs:
            self.ids.add(attrs["id"])
            self.id_list.append(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag in ("img", "script", "iframe", "video", "audio", "source") and attrs.get("src"):
            self.resources.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.resources.append(attrs["href"])
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        if tag == "a" and attrs.get("href"):
            self._open_link = attrs["href"]
            self.link_texts.setdefault(self._open_link, []).append("")

    def handle_endtag(self, tag):
        if tag == "a":
            self._open_link = None

    def handle_data(self, data):
        if self._open_link:
            self.link_texts[self._open_link][-1] += data


def parse(page: Path) -> PageParser:
    parser = PageParser()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the site -------------------------------------------------------------------------------------

def test_site_has_every_page(site):
    ws, outputs = site
    assert outputs == ws.outputs_dir
    pages = sorted(str(p.relative_to(outputs)) for p in outputs.rglob("*.html"))
    assert pages == sorted([
        "index.html", "synthese-du-cycle.html", "cycle/cycle.html", "recherche.html",
        "seances/seance-2.html", "seances/seance-2/seance-2.html",
        "seances/seance-3.html", "seances/seance-3/seance-3.html",
        *(f"themes/{t.id}.html" for t in ws.config.themes),
    ])
    css = (outputs / "style.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css  # no web font, no remote image
    # The placeholder kept in version control survives the swap.
    assert (outputs / ".gitkeep").is_file()


def test_every_local_link_resolves(site):
    _, outputs = site
    checked = 0
    for page in outputs.rglob("*.html"):
        parsed = parse(page)
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            if parts.scheme == "data" and page.parent.parent.name in ("seances", outputs.name):
                continue  # an image inside a standalone HTML download
            assert not parts.scheme and not parts.netloc, f"{page.name}: non-relative link {link}"
            assert not link.startswith("/"), f"{page.name}: absolute path {link} breaks file://"
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_relative_to(outputs.resolve()), f"{page.name}: {link} leaves the site"
            assert target.is_file(), f"{page.relative_to(outputs)}: broken link {link}"
            if parts.fragment and target.suffix == ".html":
                assert parts.fragment in parse(target).ids, f"{page.name}: no #{parts.fragment} in {target.name}"
            checked += 1
    assert checked > 100


def test_pages_are_french_with_one_h1_and_ordered_headings(site):
    _, outputs = site
    site_pages = [p for p in outputs.rglob("*.html") if p.parent.name not in ("cycle",) and
                  p.parent.parent.name != "seances"]  # downloads are the renderer's documents
    assert len(site_pages) == 5 + 6
    for page in site_pages:
        parsed = parse(page)
        name = page.relative_to(outputs)
        assert parsed.lang == "fr", name
        assert parsed.headings.count(1) == 1, name
        assert parsed.headings[0] == 1, name
        for before, after in zip(parsed.headings, parsed.headings[1:]):
            assert after <= before + 1, f"{name}: h{before} followed by h{after}"
        text = page.read_text(encoding="utf-8")
        for landmark in ("<header", "<nav", "<main", "<footer", ">Aller au contenu</a>"):
            assert landmark in text, f"{name}: no {landmark}"
        # No script but the site's own (the search page's, a player's) and nothing fetched from
        # elsewhere (protocol-relative or absolute resources).
        scripts = [link for link in parsed.resources if link.endswith(".js")]
        assert text.count("<script") == len(scripts) and all(s.removeprefix("../") in ("search.js", "player.js")
                                                               for s in scripts), name
        assert '="//' not in text
        assert not any(link.startswith("http") for link in parsed.resources), name
        assert len(parsed.id_list) == len(set(parsed.id_list)), f"{name}: duplicate ids"


def test_index_lists_the_rendered_sessions_with_downloads(site):
    ws, outputs = site
    index = (outputs / "index.html").read_text(encoding="utf-8")
    parsed = parse(outputs / "index.html")
    assert "<h1>Après la smart city</h1>" in index
    assert "Séance 2" in index and "17 mars 2022" in index and "14 avril 2022" in index
    assert "Claire Dubreuil (Sociologue, Université de Villeneuve)" in index
    assert "Données &amp; &lt;capteurs&gt;\u00a0: la ville mesurée" in index  # data, escaped
    assert "<capteurs>" not in index
    assert "Séance à venir" not in index  # not rendered: not published
    assert parsed.link_texts["https://www.urbanisme-puca.gouv.fr/replays/apres-la-smart-city/seance-2"] == [
        "Revoir la séance séance 2 (site externe)"]
    # Main themes: the three with most passages in the tags, linked to their pages.
    assert parsed.link_texts["themes/sobriete.html"] == ["Sobriété"] * 3  # two sessions and the theme list
    for session_id, *_ in RENDERED:
        source_dir = ws.paths(ws.config.session(session_id)).render_dir
        for fmt, name in (("pdf", "PDF"), ("docx", "DOCX"), ("html", "HTML")):
            href = f"seances/{session_id}/{session_id}.{fmt}"
            copied = outputs / href
            assert copied.read_bytes() == (source_dir / f"{session_id}.{fmt}").read_bytes()
            [text] = parsed.link_texts[href]
            assert text.endswith(f" ({name}, {file_size_text(copied.stat().st_size)})")
        vtt = f"seances/{session_id}/{session_id}.vtt"
        assert (outputs / vtt).read_text(encoding="utf-8").startswith("WEBVTT")
        assert parsed.link_texts[vtt] == [
            f"Sous-titres de la séance ({'VTT'}, {file_size_text((outputs / vtt).stat().st_size)})"]
    for fmt in ws.config.render.formats:
        assert f"cycle/cycle.{fmt}" in parsed.link_texts
    assert (outputs / "cycle" / "cycle.pdf").read_bytes().startswith(b"%PDF")


def test_main_themes_are_those_with_most_passages(site):
    from synthese.core.artefacts import Passage, ThemeTag
    from synthese.render import rendering as render

    ws, outputs = site
    themes = [["gouvernance", "societes"], ["societes"], ["societes", "sobriete"], ["gouvernance"], []]
    tags = Tags.load(DATA / "render_sample.tags.json").model_copy(update={"passages": [
        Passage(id=f"p{i}", key=f"p{i}", start=0, end=1, text="x", themes=[ThemeTag(id=t, score=1) for t in ids])
        for i, ids in enumerate(themes)]})
    counts = [(t.id, t.passages) for t in render._theme_counts(ws.config, [tags])]
    # Most passages first; ties keep the codebook's order; absent themes last with 0.
    assert counts == [("societes", 3), ("gouvernance", 2), ("sobriete", 1), ("instrumentation", 0),
                      ("entreprises", 0), ("vulnerabilites", 0)]


def test_theme_page_gathers_excerpts_across_sessions(site):
    _, outputs = site
    page = (outputs / "themes" / "sobriete.html").read_text(encoding="utf-8")
    parsed = parse(outputs / "themes" / "sobriete.html")
    assert "<h1>Sobriété</h1>" in page
    assert "Les enjeux environnementaux du numérique" in page
    # Three excerpts per session (tags' excerpts for sobriete: p002, p003, p004), from both sessions.
    assert page.count('<figure class="site-excerpt">') == 6
    assert "../seances/seance-2.html#sobriete-p002" in parsed.links
    assert "../seances/seance-3.html#sobriete-p002" in parsed.links
    # Replay links start at the excerpt: a media fragment, or ?t= for YouTube.
    replay = [link for link in parsed.links if link.startswith("https://www.urbanisme-puca.gouv.fr/")]
    assert replay and all("#t=" in link for link in replay)
    assert any(link.startswith("https://www.youtube.com/watch?v=abc123&t=") for link in parsed.links)
    assert "Réécouter à 00:" in page


def test_session_page_embeds_the_synthesis_with_its_charts(site):
    _, outputs = site
    page = (outputs / "seances" / "seance-2.html").read_text(encoding="utf-8")
    parsed = parse(outputs / "seances" / "seance-2.html")
    assert parsed.headings.count(1) == 1
    assert "Sobriété, matérialité et infrastructures" in page
    charts = [link for link in parsed.links if link.endswith(".png")]
    assert charts and all(link.startswith("seance-2/") for link in charts)
    assert 'alt="' in page and "<table" in page  # charts have alt text and their numbers as tables


def test_site_manifest_records_the_inputs(site):
    ws, outputs = site
    manifest = json.loads((outputs / SITE_MANIFEST).read_text(encoding="utf-8"))
    rendered = [ws.config.session(session_id) for session_id, *_ in RENDERED]
    assert manifest["schema"] == "synthese.site/3"
    assert manifest["inputs_hash"] == CycleRun(ws, rendered).publish_hash()
    assert manifest["sessions"] == ["seance-2", "seance-3"]
    # Readable by any reader of the site (temporary files are created private).
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in outputs.rglob("*"))
    assert "index.html" in manifest["files"] and "themes/sobriete.html" in manifest["files"]
    # Every file but site.json, with its sha256: what the next publish may replace.
    assert set(manifest["files"]) == {p.relative_to(outputs).as_posix() for p in outputs.rglob("*")
                                      if p.is_file()} - {"site.json", ".gitkeep"}
    assert manifest["files"]["style.css"] == hashlib.sha256((outputs / "style.css").read_bytes()).hexdigest()
    assert CycleRun(ws).publish_state() == "done"


def test_file_size_text():
    assert file_size_text(0) == "0\u00a0octet"
    assert file_size_text(812) == "812\u00a0octets"
    assert file_size_text(245_123) == "245\u00a0Ko"
    assert file_size_text(1_000) == "1\u00a0Ko"
    assert file_size_text(1_234_567) == "1,2\u00a0Mo"
    assert file_size_text(3_000_000) == "3\u00a0Mo"


def test_writing_outside_the_site_folder_is_refused(tmp_path):
    folder = publish.SiteFolder(tmp_path / "site")
    with pytest.raises(SyntheseError, match="outside the site folder"):
        folder.path("../escape.html")
    assert folder.path("themes/a.html") == (tmp_path / "site" / "themes" / "a.html").resolve()


# --- atomic publication ------------------------------------------------------------------------------

@pytest.mark.slow
def test_failed_build_leaves_the_previous_site_untouched(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path)
    publish_workspace(ws)
    outputs = ws.outputs_dir
    before = snapshot(outputs)
    assert "index.html" in before
    real_render = publish._Pages.render

    def broken_theme_pages(self, name, **context):
        if name == "theme.html.j2":
            # The downloads and the cycle page are written by now: the build is half-way.
            assert any(tmp_path.glob(".outputs.tmp-*/seances/seance-3/seance-3.pdf"))
            raise RuntimeError("disk full")
        return real_render(self, name, **context)

    monkeypatch.setattr(publish._Pages, "render", broken_theme_pages)
    (ws.root / "config.yaml").write_text((ws.root / "config.yaml").read_text().replace(
        "Sociologue", "Sociologue urbaine"), encoding="utf-8")
    ws = Workspace(load_config(ws.root / "config.yaml"))
    for session in ws.config.sessions[:2]:
        SessionRun(ws, session).run_stage("render")
    with pytest.raises(RuntimeError, match="disk full"):
        publish_workspace(ws)
    assert snapshot(outputs) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".outputs")) == []


@pytest.mark.parametrize("failing", ["copy", "page"])
def test_a_full_disk_names_the_folder_the_site_is_written_in(tmp_path, monkeypatch, failing):
    """A copy's error names its source (a document in transcripts/), a page's the temporary build
    folder: the message names the folder of the site, on the disk to free."""
    import errno

    (tmp_path / "projet").mkdir()
    ws = make_workspace(tmp_path / "projet", rendered=("seance-2",))
    web = tmp_path / "www"
    web.mkdir()
    ws = with_publish(ws, output_dir=str(web / "site"))

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_build = publish.build_site

    def build_on_a_full_disk(*args):  # the documents are rendered by then: only the site fails
        monkeypatch.setattr(os, "sendfile" if failing == "copy" else "fsync", disk_full)
        return real_build(*args)

    monkeypatch.setattr(publish, "build_site", build_on_a_full_disk)
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert str(error.value) == (f"publishing the site: no space left on the disk in {web} (`df -h {web}` shows it). "
                                "Free some space, then run the same command again: finished stages are kept.")
    assert list(web.iterdir()) == []


def test_leftovers_of_a_killed_publish_are_removed_and_only_those(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    dead = tmp_path / ".outputs.tmp-dead"
    dead.mkdir()
    (dead / publish.BUILD_MARKER).touch()
    (dead / "index.html").write_text("half")
    old = tmp_path / ".outputs.old-dead"
    (old / "sub").mkdir(parents=True)
    (old / "sub" / "page.html").write_text("old")
    (old / SITE_MANIFEST).write_text(json.dumps({"schema": "synthese.site/3", "files": {
        "sub/page.html": hashlib.sha256(b"old").hexdigest()}}))
    os.chmod(old / "sub", 0o555)  # a read-only part does not stop the clean-up
    someone_elses = tmp_path / ".outputs.old-notes"  # the same name pattern, not made by Synthèse
    someone_elses.mkdir()
    (someone_elses / "notes.txt").write_text("mine")
    copied = tmp_path / ".outputs.old-copy"  # ... even with a site.json copied in
    copied.mkdir()
    (copied / "notes.txt").write_text("mine too")
    (copied / SITE_MANIFEST).write_text(json.dumps({"schema": "synthese.site/2", "files": ["index.html"]}))
    publish_workspace(ws)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".outputs")) == [
        ".outputs.old-copy", ".outputs.old-notes"]
    assert (someone_elses / "notes.txt").read_text() == "mine"
    assert (copied / "notes.txt").read_text() == "mine too"
    index = (tmp_path / "outputs" / "index.html").read_text(encoding="utf-8")
    assert "Aucune séance n’a encore été publiée." in index


# --- what publishing may replace ---------------------------------------------------------------------

def with_output_dir(ws: Workspace, output_dir: str) -> Workspace:
    text = (ws.root / "config.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    config["publish"] = {"output_dir": output_dir}
    (ws.root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Workspace(load_config(ws.root / "config.yaml"))


@pytest.mark.parametrize("output_dir", [".", "transcripts", "transcripts/site", "..", "{root}", "{parent}"])
def test_publishing_never_replaces_the_project(tmp_path, output_dir):
    project = tmp_path / "cycle"
    project.mkdir()
    ws = make_workspace(project, rendered=())
    ws = with_output_dir(ws, output_dir.format(root=project, parent=tmp_path))
    before = snapshot(tmp_path)
    with pytest.raises(SyntheseError, match=r"^publish.output_dir .* (is the project folder or contains it|overlaps)"):
        publish_workspace(ws)
    assert snapshot(tmp_path) == before


def test_publishing_never_replaces_a_folder_it_did_not_create(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    elsewhere = tmp_path / "documents"
    elsewhere.mkdir()
    (elsewhere / "rapport.odt").write_text("précieux")
    ws = with_output_dir(ws, str(elsewhere))
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert str(error.value) == (f"publish.output_dir {elsewhere} holds files that are not a site Synthèse published "
                                "(no site.json): publishing would delete them. Empty it, or choose another folder.")
    assert (elsewhere / "rapport.odt").read_text() == "précieux"
    # An empty folder, or a previous site, may be replaced.
    (elsewhere / "rapport.odt").unlink()
    publish_workspace(ws)
    assert (elsewhere / SITE_MANIFEST).is_file()
    publish_workspace(ws)
    assert (elsewhere / "index.html").is_file()


def test_a_symlinked_output_folder_is_published_into_and_kept(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    web_root = tmp_path / "www" / "synthese"
    web_root.mkdir(parents=True)
    shutil.rmtree(ws.outputs_dir)
    ws.outputs_dir.symlink_to(web_root, target_is_directory=True)
    publish_workspace(ws)
    publish_workspace(ws)
    assert ws.outputs_dir.is_symlink() and ws.outputs_dir.resolve() == web_root.resolve()
    assert (web_root / "index.html").is_file() and (web_root / SITE_MANIFEST).is_file()
    leftovers = [p.name for p in [*tmp_path.iterdir(), *web_root.parent.iterdir()] if ".old-" in p.name or ".tmp-" in p.name]
    assert leftovers == []


def with_publish(ws: Workspace, **options) -> Workspace:
    config = yaml.safe_load((ws.root / "config.yaml").read_text(encoding="utf-8"))
    config["publish"] = {**config.get("publish", {}), **options}
    (ws.root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Workspace(load_config(ws.root / "config.yaml"))


def add_files(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def test_publishing_never_deletes_a_file_added_to_the_site(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    add_files(ws.outputs_dir, {"robots.txt": "User-agent: *\n", ".well-known/acme-challenge/x": "token",
                               "seances/notes.txt": "à moi", "zz/a": "1", "zz/b": "2"})
    (ws.outputs_dir / "vide").mkdir()  # an empty folder of someone else's is theirs too
    before = snapshot(tmp_path)
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert str(error.value) == (
        f"publish.output_dir {ws.outputs_dir} holds 6 files that Synthèse did not publish (.well-known/acme-challenge/x, "
        "robots.txt, seances/notes.txt and 3 more): publishing would delete them. Move them elsewhere, or list them in "
        'publish.keep in config.yaml to carry them over into each new site (e.g. keep: ["robots.txt", ".well-known/"]).')
    assert snapshot(tmp_path) == before
    assert (ws.outputs_dir / "vide").is_dir()


def test_a_file_name_that_could_fake_a_line_of_output_is_quoted(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    (ws.outputs_dir / "x\nError: all good").write_text("")
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert "\n" not in str(error.value)
    assert "holds 1 file that Synthèse did not publish ('x\\nError: all good'): publishing would delete it. " \
           "Move it elsewhere, or list it in publish.keep in config.yaml to carry it over" in str(error.value)


def test_publishing_never_overwrites_a_file_edited_since(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    index = ws.outputs_dir / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("</h1>", " (corrigé à la main)</h1>"), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert str(error.value) == (f"publish.output_dir {ws.outputs_dir}: index.html was changed since Synthèse published "
                                "it: publishing would overwrite the change. Move the changed file elsewhere to keep it "
                                "(or delete it), then publish again.")
    assert snapshot(tmp_path) == before
    index.unlink()  # a file of the site that was deleted is simply written again
    publish_workspace(ws)
    assert "corrigé à la main" not in index.read_text(encoding="utf-8")


def test_publish_keep_carries_files_over_untouched(tmp_path):
    ws = with_publish(make_workspace(tmp_path, rendered=()), keep=["robots.txt", ".well-known/", "seances/extra.pdf"])
    publish_workspace(ws)
    outputs = ws.outputs_dir
    add_files(outputs, {"robots.txt": "User-agent: *\n", ".well-known/acme-challenge/x": "token",
                        "seances/extra.pdf": "%PDF"})
    os.chmod(outputs / "robots.txt", 0o600)
    os.utime(outputs / "robots.txt", (1_000_000_000, 1_000_000_000))
    (outputs / ".well-known" / "link").symlink_to("acme-challenge/x")
    for _ in range(2):
        publish_workspace(ws)
        assert (outputs / "robots.txt").read_text() == "User-agent: *\n"
        assert (outputs / "robots.txt").stat().st_mode & 0o777 == 0o600
        assert (outputs / "robots.txt").stat().st_mtime == 1_000_000_000
        assert (outputs / ".well-known" / "acme-challenge" / "x").read_text() == "token"
        assert os.readlink(outputs / ".well-known" / "link") == "acme-challenge/x"
        assert (outputs / "seances" / "extra.pdf").read_text() == "%PDF"
        listed = json.loads((outputs / SITE_MANIFEST).read_text(encoding="utf-8"))["files"]
        assert "index.html" in listed and not [name for name in listed if "robots" in name or "well-known" in name
                                               or "extra" in name]
    assert (outputs / ".gitkeep").is_file()  # the placeholder of make_workspace, kept as always
    os.mkfifo(outputs / ".well-known" / "pipe")
    with pytest.raises(SyntheseError, match=r"^publish.keep: .*/.well-known/pipe is not a file, a folder or a link"):
        publish_workspace(ws)
    assert (outputs / "robots.txt").read_text() == "User-agent: *\n"


def test_publish_keep_cannot_name_a_file_of_the_site(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    ws = with_publish(ws, keep=["index.html"])
    before = snapshot(tmp_path)
    with pytest.raises(SyntheseError, match=r"^publish.keep names index.html, which the site writes itself: remove"):
        publish_workspace(ws)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("entry", ["../secret", "/etc/", "a/../../b", "~/x", "", "site.json", "a\\b"])
def test_publish_keep_takes_paths_inside_the_folder_only(tmp_path, entry):
    ws = make_workspace(tmp_path, rendered=())
    with pytest.raises(SyntheseError, match=r"config.yaml, line \d+: publish.keep: keep entry"):
        with_publish(ws, keep=[entry])


def test_a_web_root_behind_a_link_keeps_its_own_files(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    web_root = tmp_path / "www"
    web_root.mkdir()
    shutil.rmtree(ws.outputs_dir)
    ws.outputs_dir.symlink_to(web_root, target_is_directory=True)
    publish_workspace(ws)
    (web_root / "contact.php").write_text("<?php mail(); ?>")
    with pytest.raises(SyntheseError, match=r"holds 1 file that Synthèse did not publish \(contact.php\)"):
        publish_workspace(ws)
    assert (web_root / "contact.php").read_text() == "<?php mail(); ?>"
    ws = with_publish(ws, keep=["contact.php"])
    publish_workspace(ws)
    assert (web_root / "contact.php").read_text() == "<?php mail(); ?>" and (web_root / "index.html").is_file()
    assert ws.outputs_dir.is_symlink()


def test_a_link_inside_the_site_is_not_ours(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    elsewhere = tmp_path / "elsewhere"
    add_files(elsewhere, {"a.txt": "x"})
    (ws.outputs_dir / "themes" / "lien").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(SyntheseError, match=r"did not publish \(themes/lien\)"):
        publish_workspace(ws)
    assert (ws.outputs_dir / "themes" / "lien").is_symlink() and (elsewhere / "a.txt").read_text() == "x"


@pytest.mark.parametrize("schema", ["synthese.site/2", "synthese.site/3"])
def test_a_copied_site_json_does_not_make_a_folder_ours(tmp_path, schema):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    documents = tmp_path / "documents"
    add_files(documents, {"rapport.odt": "précieux", "index.html": "mon index"})
    manifest = json.loads((ws.outputs_dir / SITE_MANIFEST).read_text(encoding="utf-8"))
    if schema == "synthese.site/2":
        manifest.update(schema=schema, files=sorted(manifest["files"]))
    (documents / SITE_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    ws = with_publish(ws, output_dir=str(documents))
    before = snapshot(documents)
    with pytest.raises(SyntheseError, match=r"did not publish \(rapport.odt\)"):
        publish_workspace(ws)
    assert snapshot(documents) == before
    if schema == "synthese.site/3":  # their index.html is not the one the manifest's hash names
        (documents / "rapport.odt").unlink()
        with pytest.raises(SyntheseError, match=r"index.html was changed since Synthèse published it"):
            publish_workspace(ws)
        assert (documents / "index.html").read_text() == "mon index"


def test_a_site_published_before_hashes_is_replaced_when_it_holds_only_its_files(tmp_path):
    """A site.json of synthese.site/2 lists the files without their hashes: the site is replaced
    when every file there is one it lists, and refused as soon as anything else is."""
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    site_json = ws.outputs_dir / SITE_MANIFEST
    manifest = json.loads(site_json.read_text(encoding="utf-8"))
    manifest.update(schema="synthese.site/2", files=sorted(manifest["files"]))
    site_json.write_text(json.dumps(manifest), encoding="utf-8")
    add_files(ws.outputs_dir, {"robots.txt": "x"})
    with pytest.raises(SyntheseError, match=r"did not publish \(robots.txt\)"):
        publish_workspace(ws)
    (ws.outputs_dir / "robots.txt").unlink()
    publish_workspace(ws)
    assert json.loads(site_json.read_text(encoding="utf-8"))["schema"] == "synthese.site/3"


def test_a_file_added_during_the_build_is_not_deleted(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    real_build = publish.build_site

    def build_while_someone_writes(config, sessions, cycle, site):
        (ws.outputs_dir / "late.txt").write_text("written meanwhile")
        return real_build(config, sessions, cycle, site)

    monkeypatch.setattr(publish, "build_site", build_while_someone_writes)
    with pytest.raises(SyntheseError, match=r"did not publish \(late.txt\)"):
        publish_workspace(ws)
    assert (ws.outputs_dir / "late.txt").read_text() == "written meanwhile"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".outputs")]


def test_a_publish_killed_between_its_two_renames_gets_its_site_back(tmp_path):
    ws = with_publish(make_workspace(tmp_path, rendered=()), keep=["robots.txt"])
    publish_workspace(ws)
    add_files(ws.outputs_dir, {"robots.txt": "kept"})
    os.rename(ws.outputs_dir, tmp_path / ".outputs.old-12345678")  # killed right after the first rename
    publish_workspace(ws)
    assert (ws.outputs_dir / "robots.txt").read_text() == "kept" and (ws.outputs_dir / "index.html").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".outputs")]


def test_a_read_only_site_is_reported_not_replaced(tmp_path):
    ws = make_workspace(tmp_path, rendered=())
    publish_workspace(ws)
    os.chmod(ws.outputs_dir / "themes", 0o555)
    try:
        before = snapshot(ws.outputs_dir)
        with pytest.raises(SyntheseError, match=r"themes is read-only: the previous site cannot be replaced. "
                                                r"Make it writable \(chmod -R u\+w"):
            publish_workspace(ws)
        assert snapshot(ws.outputs_dir) == before
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".outputs")]
    finally:
        os.chmod(ws.outputs_dir / "themes", 0o755)


def test_publish_refuses_documents_rendered_with_other_settings(tmp_path):
    ws = make_workspace(tmp_path, rendered=("seance-2",))
    (ws.root / "config.yaml").write_text((ws.root / "config.yaml").read_text().replace(
        "Sobriété, matérialité et infrastructures", "Sobriété et infrastructures"), encoding="utf-8")
    ws = Workspace(load_config(ws.root / "config.yaml"))
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert str(error.value).startswith("session(s) seance-2: the documents are out of date")
    assert "Run `synthese run`" in str(error.value)
    assert not (ws.outputs_dir / SITE_MANIFEST).exists()


@pytest.mark.slow
def test_the_site_subtitles_are_those_of_the_reviewed_transcript(tmp_path):
    """The render stage writes the readers' subtitles from the transcript as reviewed (words
    corrected, voices named); publishing copies those, not the machine's captions."""
    ws = make_workspace(tmp_path, rendered=())
    session = ws.config.session("seance-2")
    paths = ws.paths(session)
    paths.folder.mkdir(parents=True)
    transcript = Transcript.load(DATA / "render_sample.transcript.json")
    transcript.save(paths.transcript)
    paths.subtitles.write_text(_vtt(transcript), encoding="utf-8")
    paths.review.write_text('speakers:\n  François Ménard: François Ménard-Relu\ncorrections:\n'
                            '  - {at: "00:00:05", original: "bienvenue", corrected: "bienvenue-corrigée"}\n',
                            encoding="utf-8")
    tags = Tags.load(DATA / "render_sample.tags.json")
    tags = tags.model_copy(update={"session_id": "seance-2", "transcript": paths.transcript.name,
                                   "review": tags.review.model_copy(update={"file": paths.review.name})})
    tags.save(paths.tags)
    manifest = RenderManifest.load(SessionRun(ws, session).run_stage("render"))
    assert manifest.files["vtt"] == "seance-2.vtt"
    publish_workspace(ws)
    published_path = ws.outputs_dir / "seances" / "seance-2" / "seance-2.vtt"
    published = published_path.read_text(encoding="utf-8")
    said = " ".join(cue.text for cue in parse_vtt(published_path).segments)  # cues wrap at 42 characters
    assert "bienvenue-corrigée dans cette deuxième séance" in said
    assert "<v François Ménard-Relu>" in published and "<v François Ménard>" not in published
    assert "bienvenue dans" in paths.subtitles.read_text(encoding="utf-8")  # the machine's, untouched
