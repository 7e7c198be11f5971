"""The review page (`synthese review`), without a browser: its answers to requests, what it
writes to the review file, and what it refuses.

The workspace is the sample session: its replay (transcripts/seance-introductive/*.ogg) and a
transcript of it with word times and probabilities, as Whisper base gives them
(tests/data/review_sample.transcript.json), cut into two voices "Intervenant 1" and
"Intervenant 2" as diarization would label them.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, SAMPLE_MEDIA, repository_config

from synthese.core.artefacts import Segment, Tags, Transcript
from synthese.core.config import load_config
from synthese.core.glossary import glossary_path, load_glossary
from synthese.core.review_file import parse_review
from synthese.review.app import ReviewApp
from synthese.review.edits import version_of
from synthese.stages import stage
from synthese.workspace import Workspace

DATA = Path(__file__).resolve().parent / "data"
SESSION = "seance-introductive"
HOST = "127.0.0.1:8765"


def review_workspace(root: Path, transcript: Transcript | None = None, *,
                     formats: list[str] | None = None) -> Workspace:
    """The sample session in a folder of its own: config.yaml, its replay and its transcript
    (transcription up to date, so nothing runs Whisper); tagging and rendering still to do
    (in `formats`, when given: the HTML alone spares a test the PDF's seconds)."""
    data = repository_config()
    if formats is not None:
        data.setdefault("render", {})["formats"] = formats
    session = next(s for s in data["sessions"] if s["id"] == SESSION)
    session["media"] = "seance-introductive.ogg"
    session["speakers"].append({"name": "Claire Dubreuil", "role": "Sociologue", "organisation": "Université"})
    data["sessions"] = [session]
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copy(SAMPLE_MEDIA, root / "seance-introductive.ogg")
    ws = Workspace(load_config(root / "config.yaml"))
    put_transcript(ws, transcript or Transcript.load(DATA / "review_sample.transcript.json"))
    if _TAGGER_WORK:
        # The tagger's work on this transcript, as an earlier test's first job left it: the cache
        # checks its key, so a workspace whose transcript or settings differ tags anew.
        ws.paths(ws.config.session(SESSION)).tagger_cache.write_bytes(_TAGGER_WORK[-1])
    return ws


_TAGGER_WORK: list[bytes] = []  # the tagger cache of the sample's first tagging in this process


def put_transcript(ws: Workspace, transcript: Transcript) -> None:
    """Save a transcript as the transcription stage would (up to date with the replay)."""
    session = ws.config.session(SESSION)
    paths = ws.paths(session)
    paths.folder.mkdir(parents=True, exist_ok=True)
    transcript.inputs_hash = stage("transcribe").inputs_hash(ws, session)
    transcript.save(paths.transcript)


def prepared_app(ws: Workspace) -> ReviewApp:
    """The page's application, its first background job (tag and render) done."""
    app = ReviewApp(ws.config, ws.config.session(SESSION), token="jeton-de-test")
    app.allow("127.0.0.1", 8765)
    wait_for_jobs(app)
    cache = app.paths.tagger_cache
    if not _TAGGER_WORK and cache.is_file():
        _TAGGER_WORK.append(cache.read_bytes())
    return app


def wait_for_jobs(app: ReviewApp, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = app.jobs.snapshot()
        if jobs["running"] is None and not jobs["queued"]:
            return jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs still running: {app.jobs.snapshot()}")


def call(app: ReviewApp, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         token: str | None = "jeton-de-test") -> tuple[int, dict[str, str], bytes]:
    """One request to the WSGI application, as waitress would hand it."""
    raw = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": HOST,
               "wsgi.input": io.BytesIO(raw),
               "CONTENT_LENGTH": str(len(raw)), "CONTENT_TYPE": "application/json" if body is not None else ""}
    if token is not None and method == "POST":
        environ["HTTP_X_SYNTHESE_TOKEN"] = token
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: dict[str, Any] = {}

    def start_response(status, response_headers):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    content = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], content


def action(app: ReviewApp, **body: Any) -> tuple[int, dict[str, Any]]:
    version = body.pop("version", None) or version_of(app.paths.review.read_bytes())
    if "passage" in body and "key" not in body:  # the page sends the key it shows with the passage id
        view = app.state().passage_view(body["passage"])
        body["key"] = view.passage.key if view else ""
    status, _, content = call(app, "POST", "/api/action", {"version": version, **body})
    return status, json.loads(content)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ws = review_workspace(tmp_path_factory.mktemp("review"))
    app = prepared_app(ws)
    yield app
    app.close()


def test_the_page_shows_the_session_word_by_word_with_times(page):
    status, headers, content = call(page, "GET", "/")
    assert status == 200
    html = content.decode()
    assert "script-src 'self'" in headers["Content-Security-Policy"] and "unsafe-inline" not in \
        headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert '<html lang="fr">' in html and 'name="synthese-jeton" content="jeton-de-test"' in html
    state = page.state()
    assert state.passages and state.chapters and state.voices
    assert [v.label for v in state.voices] == ["Intervenant 1", "Intervenant 2"]
    words = [t for v in state.passages for t in v.tokens]
    # Every word of the transcript is shown once, in order, with its time.
    transcript = Transcript.load(page.paths.transcript)
    assert [t.text for t in words] == transcript.text.split()
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert any(t.low for t in words) and 'class="m incertain"' in html
    first = state.passages[1]
    assert f'data-t="{first.passage.start}"' in html
    assert '<source src="/media" type="audio/ogg">' in html


def test_the_replay_is_served_by_byte_ranges(page):
    size = SAMPLE_MEDIA.stat().st_size
    status, headers, content = call(page, "GET", "/media", headers={"Range": "bytes=100-199"})
    assert status == 206 and headers["Content-Range"] == f"bytes 100-199/{size}" and headers["Accept-Ranges"] == "bytes"
    assert content == SAMPLE_MEDIA.read_bytes()[100:200]
    status, headers, content = call(page, "GET", "/media", headers={"Range": "bytes=-10"})
    assert status == 206 and content == SAMPLE_MEDIA.read_bytes()[-10:]
    status, headers, _ = call(page, "GET", "/media", headers={"Range": f"bytes={size}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}"
    status, headers, content = call(page, "GET", "/media")
    assert status == 200 and len(content) == size


@pytest.mark.parametrize("path", [
    "/preview/../seance-introductive.tags.json", "/preview/..%2fseance-introductive.review.yaml",
    "/preview/seance-introductive.tags.json", "/preview//etc/passwd", "/static/../review.fr.yaml",
    "/static/review.js/../../wording.fr.yaml", "/media/../config.yaml", "/media/seance-introductive.ogg",
    "/fragment/../page", "/config.yaml", "/../config.yaml", "/preview/.seance-introductive.pdf.part",
])
def test_only_the_sessions_own_files_are_served(page, path):
    status, _, content = call(page, "GET", path)
    assert status == 404
    assert b"cycle:" not in content and b"segments" not in content


def test_the_rendered_documents_are_served_for_the_preview(page):
    manifest = page._render_manifest()
    status, headers, content = call(page, "GET", f"/preview/{manifest.files['html']}")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    status, headers, content = call(page, "GET", f"/preview/{manifest.files['pdf']}")
    assert status == 200 and content.startswith(b"%PDF")


@pytest.mark.parametrize("headers, token, expected", [
    ({}, None, 403),  # no token
    ({}, "un-autre-jeton", 403),
    ({"Origin": "http://evil.example"}, "jeton-de-test", 403),
    ({"Sec-Fetch-Site": "cross-site"}, "jeton-de-test", 403),
    ({"Host": "evil.example:8765"}, "jeton-de-test", 403),  # a DNS name rebound to 127.0.0.1
])
def test_a_change_without_the_pages_token_or_from_elsewhere_is_refused(page, headers, token, expected):
    before = page.paths.review.read_bytes()
    body = {"version": version_of(before), "action": "speaker", "label": "Intervenant 1", "name": "Pirate"}
    status, _, content = call(page, "POST", "/api/action", body, headers=headers, token=token)
    assert status == expected
    assert json.loads(content)["error"].startswith(("Requête refusée", "Adresse refusée"))
    assert page.paths.review.read_bytes() == before
    status, _, _ = call(page, "POST", "/api/publish", {}, headers=headers, token=token)
    assert status == expected and page.jobs.snapshot()["queued"] == []


def test_reading_from_another_host_name_is_refused(page):
    status, _, content = call(page, "GET", "/", headers={"Host": "attacker.example"})
    assert status == 403 and b"jeton-de-test" not in content
    assert json.loads(content)["error"].startswith("Adresse refusée")


def test_a_stale_version_is_refused_and_the_file_kept(page):
    before = page.paths.review.read_bytes()
    status, answer = action(page, version="0" * 32, action="speaker", label="Intervenant 1", name="X")
    assert status == 409 and answer["error"].startswith("Le fichier de relecture a changé")
    assert answer["version"] == version_of(before)
    assert page.paths.review.read_bytes() == before


def test_a_review_file_that_is_a_link_is_never_written_through(page, tmp_path):
    review = page.paths.review
    own = tmp_path / "mes-decisions.yaml"
    own.write_bytes(review.read_bytes())
    saved = review.read_bytes()
    review.unlink()
    review.symlink_to(own)
    try:
        status, answer = action(page, action="speaker", label="Intervenant 1", name="Zoé")
        assert status == 409 and answer["error"].startswith("Rien n’a été enregistré\u00a0: ")
        assert "is a symbolic link" in answer["error"]
        assert own.read_bytes() == saved and review.is_symlink()
    finally:
        review.unlink()
        review.write_bytes(saved)


def test_a_version_that_is_not_ascii_or_a_body_nested_too_deep_is_refused_not_a_crash(page):
    before = page.paths.review.read_bytes()
    status, answer = action(page, version="é" * 32, action="speaker", label="Intervenant 1", name="X")
    assert status == 409 and answer["error"].startswith("Le fichier de relecture a changé")
    body = b'{"version": "x", "action": ' + b"[" * 120_000 + b"]" * 120_000 + b"}"  # 240 KB
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/action", "HTTP_HOST": HOST,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/json", "HTTP_X_SYNTHESE_TOKEN": "jeton-de-test"}
    statuses: list[str] = []
    content = b"".join(page(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith("400 ") and "JSON illisible" in json.loads(content)["error"]
    assert page.paths.review.read_bytes() == before


# --- actions: each one written at once, in the review file ------------------------------------------------

@pytest.fixture
def fresh(tmp_path):
    app = prepared_app(review_workspace(tmp_path / "review", formats=["html"]))
    yield app
    app.close()


def review_of(app: ReviewApp):
    return parse_review(app.paths.review.read_text(encoding="utf-8"), "r")


def test_each_action_is_written_at_once_and_shows_after_the_refresh(fresh):
    app = fresh
    keys = {p.id: p.key for p in Tags.load(app.paths.tags).passages}
    status, answer = action(app, action="theme", passage="p005", theme="entreprises", decision="reject")
    assert status == 200 and answer["message"] == "Enregistré."
    assert answer["version"] == version_of(app.paths.review.read_bytes())
    status, _ = action(app, action="theme", passage="p003", theme="instrumentation", decision="add")
    status, _ = action(app, action="excerpt", passage="p005", theme="gouvernance", decision="pin", sentences=[0, 2])
    assert status == 200
    status, _ = action(app, action="speaker", label="Intervenant 2", name="Claire Dubreuil")
    assert status == 200
    review = review_of(app)
    assert [(d.kind, d.passage, d.theme, d.sentences) for d in review.decisions] == [
        ("reject", keys["p005"], "entreprises", ()),
        ("add", keys["p003"], "instrumentation", ()),
        ("pin", keys["p005"], "gouvernance", (0, 2)),
    ]
    assert review.speakers == {"Intervenant 2": "Claire Dubreuil"}
    wait_for_jobs(app)
    tags = Tags.load(app.paths.tags)
    p005 = tags.passage("p005")
    assert "entreprises" not in {t.id for t in p005.themes}
    assert p005.speaker == "Claire Dubreuil"
    assert tags.passage("p003").theme("instrumentation").source == "review"
    shortened = next(q for q in tags.excerpts["gouvernance"] if q.passage == "p005")
    assert shortened.text == f"{p005.sentences[0].text} […] {p005.sentences[2].text}"
    state = app.state()
    assert [(t.id, t.decision) for t in state.passage_view("p005").rejected] == [("entreprises", "reject")]
    html = call(app, "GET", "/fragment/passages")[2].decode()
    assert "Annuler la décision sur Écosystème d’entreprises" in html
    # A passage id the page shows for another passage than the one now numbered so: refused.
    status, answer = action(app, action="theme", passage="p005", key=keys["p003"],
                            theme="sobriete", decision="reject")
    assert status == 409 and len(review_of(app).decisions) == 3
    # Undo: the decision leaves the file.
    status, _ = action(app, action="theme", passage="p005", theme="entreprises", decision="")
    assert status == 200 and [d.kind for d in review_of(app).decisions] == ["add", "pin"]


def test_a_corrected_passage_becomes_anchored_corrections(fresh):
    app = fresh
    view = app.state().passage_view("p001")
    before = view.text
    assert "du veux-binaire." in before
    status, answer = action(app, action="correct", passage="p001", before=before,
                            after=before.replace("du veux-binaire.", "du webinaire."))
    assert status == 200, answer
    view = app.state().passage_view("p004")
    after = view.text.replace("de gare et fait de serre,", "de gaz à effet de serre,")
    status, answer = action(app, action="correct", passage="p004", before=view.text, after=after)
    assert status == 200, answer
    # A word said several times in its segment: anchored to the words around it.
    view = app.state().passage_view("p006")
    assert view.text.count("Séance") >= 3
    after = view.text.replace("Séance. Séance 2,", "Séance. Réunion 2,", 1)
    status, answer = action(app, action="correct", passage="p006", before=view.text, after=after)
    assert status == 200, answer
    corrections = [(c.original, c.corrected) for c in review_of(app).corrections]
    assert corrections[:2] == [("veux-binaire.", "webinaire."), ("gare et fait", "gaz à effet")]
    assert corrections[2] == ("Séance. Séance", "Séance. Réunion")  # the words before it make it one
    state = app.state()
    assert state.orphaned == []
    assert "du webinaire." in state.passage_view("p001").text
    assert "de gaz à effet de serre," in state.passage_view("p004").text
    assert state.passage_view("p006").text == after
    assert [(t.text, t.original) for t in state.passage_view("p001").tokens if t.corrected] == [
        ("webinaire.", "veux-binaire.")]
    # Punctuation is corrected too: a comma removed is taken with the word after it.
    view = state.passage_view("p003")
    comma = next(i for i, w in enumerate(view.text.split()) if w.endswith(",") and i + 1 < len(view.text.split()))
    wanted = view.text.split()
    wanted[comma] = wanted[comma].rstrip(",")
    status, answer = action(app, action="correct", passage="p003", before=view.text, after=" ".join(wanted))
    assert status == 200, answer
    assert app.state().passage_view("p003").text == " ".join(wanted)
    # The text must be the one shown.
    status, answer = action(app, action="correct", passage="p003", before="un autre texte", after="x")
    assert status == 409 and "a changé depuis l’affichage" in answer["error"]


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_control_characters_sent_by_the_page_never_reach_the_file_or_the_documents(fresh):
    app = fresh
    status, _ = action(app, action="speaker", label="Intervenant 2", name="Claire\x00 \x1b[31mDubreuil\x07")
    assert status == 200
    view = app.state().passage_view("p001")
    after = view.text.replace("du veux-binaire.", "du web\x1b[2Jinaire\x07.")
    status, answer = action(app, action="correct", passage="p001", before=view.text, after=after)
    assert status == 200, answer
    text = app.paths.review.read_text(encoding="utf-8")
    assert not CONTROL.search(text) and "\\e" not in text and "\\a" not in text
    review = review_of(app)
    assert review.speakers == {"Intervenant 2": "Claire [31mDubreuil"}
    assert [(c.original, c.corrected) for c in review.corrections] == [("veux-binaire.", "web[2Jinaire.")]
    # A search, a replacement, a glossary entry and an approval name: cleaned the same way.
    status, _, content = call(app, "GET", "/api/find?q=en%07%20JEU%1b")
    found = json.loads(content)
    assert status == 200 and found["query"] == "en JEU" and found["count"] == 3
    status, answer = action(app, action="replace", find="en\x00 jeu", replace="en\x1bjeux",
                            occurrences=[found["occurrences"][0]["index"]])
    assert status == 200, answer
    assert review_of(app).corrections[-1].corrected.startswith("enjeux")
    glossary = glossary_path(app.config.root)
    status, _, content = call(app, "POST", "/api/action", {"action": "glossary", "heard": "smart\x00 cité\x07",
                                                           "written": "smart\x1b[1m city", "glossary_version": version_of(b"")})
    assert status == 200, content
    assert [(e.heard, e.written) for e in load_glossary(glossary)] == [("smart cité", "smart[1m city")]
    status, answer = action(app, action="approve", by="Léa\x1b[0m Dupont\x07")
    assert status == 200, answer
    assert review_of(app).approved.by == "Léa[0m Dupont"
    for path in (app.paths.review, glossary):
        assert not CONTROL.search(path.read_text(encoding="utf-8").replace("\n", "")), path.name
    wait_for_jobs(app)
    written = [p for p in app.paths.render_dir.iterdir() if p.suffix in (".html", ".vtt")]
    assert written
    for path in written:
        content = path.read_text(encoding="utf-8")
        assert not CONTROL.search(content.replace("\n", "").replace("\t", "")), path.name
    assert "Claire [31mDubreuil" in (app.paths.render_dir / f"{SESSION}.vtt").read_text(encoding="utf-8")


def test_free_text_across_two_segments_an_inaudible_stretch_and_their_undo(fresh):
    app = fresh
    original = app.paths.review.read_text(encoding="utf-8")
    view = app.state().passage_view("p004")
    segments = {view.tokens[i].segment for i in range(len(view.tokens))}
    assert len(segments) >= 2
    wanted = view.text.replace("de gare et fait de serre, économie d'informations",
                               "de gaz à effet de serre. Économie de l'information")
    status, answer = action(app, action="correct", passage="p004", before=view.text, after=wanted)
    assert status == 200, answer
    undo_id = answer["id"]
    state = app.state()
    assert state.passage_view("p004").text == wanted and state.orphaned == []
    # Behind the scenes the sentence now ends its segment, and the next one opens with it.
    texts = [s.text for s in state.revised.segments]
    assert any(t.endswith("de gaz à effet de serre.") for t in texts)
    assert any(t.startswith("Économie de l'information") for t in texts)
    written = app.paths.review.read_text(encoding="utf-8")
    # Readable: each stretch that changed, where it was said, as transcribed and as said (the
    # first runs over two segments of the recogniser).
    assert written.endswith(
        'corrections:\n'
        '  - {at: "00:01:33", original: "serre, économie d\'informations", corrected: "serre. Économie de l\'information"}\n'
        '  - {at: "00:01:32", original: "gare et fait", corrected: "gaz à effet"}\n'
        'confirm: []\naccept: []\nreject: []\nadd: []\npin: []\nexclude: []\n'
        'key_messages: []\npresentations: {}\nquestions: []\n')
    # A stretch marked inaudible: written as such, shown as such.
    view = state.passage_view("p002")
    marked = view.text.replace("de plus grand en plus l'heure,", "[inaudible],")
    status, answer = action(app, action="correct", passage="p002", before=view.text, after=marked)
    assert status == 200, answer
    review = review_of(app)
    assert [c.kind for c in review.corrections] == ["replace", "replace", "inaudible"]
    assert review.corrections[-1].original == "de plus grand en plus l'heure,"
    assert "[inaudible]," in app.state().passage_view("p002").text
    # Undo removes the entries: the review file is as it was.
    status, answer = action(app, action="undo", id=answer["id"])
    assert status == 200
    status, answer = action(app, action="undo", id=undo_id)
    assert status == 200 and app.paths.review.read_text(encoding="utf-8") == original
    status, answer = action(app, action="undo", id=undo_id)
    assert status == 409


def test_find_and_replace_three_occurrences_and_the_history(fresh):
    app = fresh
    status, _, content = call(app, "GET", "/api/find?q=en%20JEU")
    found = json.loads(content)
    assert status == 200 and found["count"] == 3
    assert [o["words"] for o in found["occurrences"]] == ["en jeu,", "en jeu", "En jeu,"]
    status, answer = action(app, action="replace", find="en jeu", replace="enjeux",
                            occurrences=[o["index"] for o in found["occurrences"]])
    assert status == 200, answer
    text = app.state().revised.text
    assert "en jeu" not in text.lower() and "productive, enjeux, attendu" in text
    assert "De quels enjeux parlons-nous" in text and "Enjeux, a identifié" in text  # a capital kept
    assert len(review_of(app).corrections) == 3
    history = app.state().history
    assert len(history) == 3 and all(h.applied for h in history)
    # One taken back from the history: the file no longer has it, the words are as transcribed.
    first = history[-1]
    status, answer = action(app, action="remove_correction", number=first.number, original=first.original,
                            corrected=first.corrected)
    assert status == 200, answer
    assert len(review_of(app).corrections) == 2 and "productive, en jeu, attendu" in app.state().revised.text


def test_a_glossary_entry_applies_to_the_cycle_and_its_effect_is_said(fresh):

    app = fresh
    path = glossary_path(app.config.root)
    assert not path.exists()
    status, answer = call(app, "POST", "/api/action", {"action": "glossary", "heard": "veux-binaire",
                                                       "written": "webinaire", "glossary_version": version_of(b"")})[::2]
    answer = json.loads(answer)
    assert status == 200, answer
    assert [(e.heard, e.written) for e in load_glossary(path)] == [("veux-binaire", "webinaire")]
    assert path.read_text(encoding="utf-8").startswith("# Glossaire du cycle")
    state = app.state()
    assert "du webinaire." in state.passage_view("p001").text
    assert [(g.heard, g.count) for g in state.glossary] == [("veux-binaire", 1)]
    jobs = wait_for_jobs(app)
    assert jobs["error"] == ""
    assert "webinaire" in Tags.load(app.paths.tags).passages[0].text
    effect = json.loads(call(app, "GET", "/api/state")[2])["effect"]
    assert effect["id"] == answer["id"] and effect["undo"] is True and effect["message"]
    # A theme rejected: the effect names it and the passage.
    view = app.state().passage_view("p005")
    theme = view.themes[0]
    status, answer = action(app, action="theme", passage="p005", theme=theme.id, decision="reject")
    wait_for_jobs(app)
    state = json.loads(call(app, "GET", "/api/state")[2])
    assert state["effect"]["id"] == answer["id"] and state["unpublished"] is True
    assert f"Thème « {theme.label} » retiré du passage {view.passage.key[:8]}".replace(" ", "") in \
        state["effect"]["message"].replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    # A restarted server's page: the refusal says why.
    status, _, content = call(app, "POST", "/api/action", {"version": "x", "action": "speaker"}, token="ancien")
    assert status == 403 and json.loads(content)["reason"] == "token"


def test_an_outside_edit_is_noticed_and_never_overwritten(fresh):
    app = fresh
    seen = version_of(app.paths.review.read_bytes())  # the version the open page holds
    hand = app.paths.review.read_text(encoding="utf-8") + "# une note ajoutée à la main\n"
    app.paths.review.write_text(hand, encoding="utf-8")
    state = json.loads(call(app, "GET", "/api/state")[2])
    assert state["version"] != seen and state["review_error"] is None  # the page's poll sees it
    wait_for_jobs(app)  # and the preview follows the file
    assert Tags.load(app.paths.tags).inputs_hash == stage("tag").inputs_hash(app.ws, app.session)
    status, answer = action(app, version=seen, action="speaker", label="Intervenant 1", name="Zoé")
    assert status == 409 and answer["error"].startswith("Le fichier de relecture a changé")
    assert app.paths.review.read_text(encoding="utf-8") == hand
    # Reloaded, the page holds the new version and saves over it, keeping the note.
    status, _ = action(app, version=state["version"], action="speaker", label="Intervenant 1", name="Zoé")
    assert status == 200 and app.paths.review.read_text(encoding="utf-8").endswith("# une note ajoutée à la main\n")


def test_a_second_tab_saving_a_stale_version_is_refused(fresh):
    app = fresh
    opened = version_of(app.paths.review.read_bytes())  # both tabs opened the page on this version
    status, _ = action(app, version=opened, action="speaker", label="Intervenant 1", name="Tab Un")
    assert status == 200
    first = app.paths.review.read_bytes()
    status, answer = action(app, version=opened, action="speaker", label="Intervenant 1", name="Tab Deux")
    assert status == 409
    assert app.paths.review.read_bytes() == first and review_of(app).speakers == {"Intervenant 1": "Tab Un"}


def test_a_malformed_review_file_is_reported_with_its_line_and_never_written(fresh):
    app = fresh
    broken = app.paths.review.read_text(encoding="utf-8").replace("reject: []", "reject: [{passage: \"x\", theme: y")
    app.paths.review.write_text(broken, encoding="utf-8")
    html = call(app, "GET", "/")[2].decode()
    line = broken.splitlines().index('reject: [{passage: "x", theme: y') + 1
    assert f"line {line + 1}: YAML syntax error" in html or f"line {line}: YAML syntax error" in html
    assert "Le fichier de relecture ne se lit pas" in html
    state = json.loads(call(app, "GET", "/api/state")[2])
    assert "YAML syntax error" in state["review_error"]
    status, answer = action(app, action="speaker", label="Intervenant 1", name="Zoé")
    assert status == 422 and "YAML syntax error" in answer["error"]
    assert app.paths.review.read_text(encoding="utf-8") == broken


def test_nothing_is_written_while_another_command_holds_the_workspace(fresh):
    app = fresh
    before = app.paths.review.read_bytes()
    with Workspace(app.config).lock():  # as `synthese run` would, from another process
        status, answer = action(app, action="speaker", label="Intervenant 1", name="Zoé")
    assert status == 423 and answer["error"].startswith("Une autre commande synthese travaille")
    assert app.paths.review.read_bytes() == before
    assert action(app, action="speaker", label="Intervenant 1", name="Zoé")[0] == 200


@pytest.mark.slow
def test_a_correction_whose_words_are_gone_after_a_new_transcription_is_reported(fresh):
    app = fresh
    view = app.state().passage_view("p001")
    status, _ = action(app, action="correct", passage="p001", before=view.text,
                       after=view.text.replace("du veux-binaire.", "du webinaire."))
    assert status == 200
    wait_for_jobs(app)
    # The replay is transcribed again (a better model): the misheard words are no longer there.
    transcript = Transcript.load(app.paths.transcript)
    transcript.segments[0].text = transcript.segments[0].text.replace("veux-binaire", "webinaire")
    transcript.segments[0].words = []
    put_transcript(app.ws, transcript)
    message = ('correction "veux-binaire." -> "webinaire." at 00:00:03 (line 40): words not found near that time')
    state = app.state()
    expected = message.replace("line 40", f"line {_line(app, 'veux-binaire')}")
    assert [m for m in state.orphaned if m.startswith("correction")] == [expected]
    assert "Décisions du fichier qui ne s’appliquent plus" in call(app, "GET", "/fragment/avis")[2].decode()
    call(app, "POST", "/api/refresh", {})
    wait_for_jobs(app)
    tags = Tags.load(app.paths.tags)
    assert any(m.startswith('correction "veux-binaire."') for m in tags.review.orphaned)
    assert "veux-binaire" in app.paths.review.read_text(encoding="utf-8")  # kept in the file, not dropped


def _line(app: ReviewApp, text: str) -> int:
    return next(i for i, line in enumerate(app.paths.review.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_hostile_text_in_a_transcript_is_shown_as_text(tmp_path):
    hostile = '<script>window.pwned=1</script> <img src=x onerror="window.pwned=2"> & {{ 7*7 }} "guillemets"'
    transcript = Transcript.load(DATA / "review_sample.transcript.json")
    first = transcript.segments[0]
    transcript.segments[0] = Segment(id=0, start=first.start, end=first.end, speaker='<b onclick="x()">Voix</b>',
                                     text=f"{hostile} {first.text}")
    app = prepared_app(review_workspace(tmp_path / "review", transcript))
    try:
        html = call(app, "GET", "/")[2].decode()
        assert "<script>window.pwned" not in html and "<img src=x" not in html and '<b onclick' not in html
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
        assert "{{ 7*7 }}" in html and "49" not in html.split("pwned")[1][:200]
        assert 'value="&lt;b onclick=&#34;x()&#34;&gt;Voix&lt;/b&gt;"' in html
        status, _ = action(app, action="speaker", label='<b onclick="x()">Voix</b>', name="<i>Nom</i>")
        assert status == 200 and review_of(app).speakers == {'<b onclick="x()">Voix</b>': "<i>Nom</i>"}
        assert "&lt;i&gt;Nom&lt;/i&gt;" in call(app, "GET", "/fragment/voix")[2].decode()
    finally:
        app.close()


def test_synthese_review_serves_the_page_and_a_killed_server_loses_nothing_acknowledged(tmp_path):
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    ws = review_workspace(tmp_path / "review")
    process = subprocess.Popen([sys.executable, "-m", "synthese", "--config", str(ws.config.path), "review",
                                "--no-browser"], stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            found = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        assert url, "the command did not say where the page is"
        html = urllib.request.urlopen(url, timeout=30).read().decode()
        token = re.search(r'name="synthese-jeton" content="([^"]+)"', html).group(1)
        version = re.search(r'name="synthese-version" content="([^"]+)"', html).group(1)
        request = urllib.request.Request(
            url + "api/action", method="POST",
            data=json.dumps({"version": version, "action": "speaker", "label": "Intervenant 1",
                             "name": "Léa Dupont"}).encode(),
            headers={"Content-Type": "application/json", "X-Synthese-Token": token, "Origin": url.rstrip("/")})
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
        assert answer["message"] == "Enregistré."
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    path = ws.paths(ws.config.session(SESSION)).review
    assert parse_review(path.read_text(encoding="utf-8"), "r").speakers == {"Intervenant 1": "Léa Dupont"}
    assert version_of(path.read_bytes()) == answer["version"]


def test_synthese_review_names_the_sessions_when_it_cannot_choose(tmp_path, cli):
    ws = review_workspace(tmp_path / "review")
    result = cli("--config", str(ws.config.path), "review", "seance-inconnue", "--no-browser")
    assert result.returncode == 1 and result.stderr.startswith("Error: ")
    assert "seance-inconnue" in result.stderr


# --- words and their times -------------------------------------------------------------------------------

def test_words_take_the_recognisers_times_and_without_them_play_from_their_segment():
    from synthese.core.artefacts import Word
    from synthese.core.review_file import Review, revise
    from synthese.review.view import shown_tokens

    # Whisper's words do not always split at spaces: "C" + "'est" make one shown word.
    segment = Segment(start=10, end=14, text="C'est enceinte productive,", words=[
        Word(start=10.0, end=10.2, text="C", p=0.38), Word(start=10.2, end=10.3, text="'est", p=0.99),
        Word(start=10.3, end=11.0, text="enceinte", p=0.65), Word(start=11.0, end=12.0, text="productive,", p=0.4)])
    transcript = Transcript(source={"file": "s.ogg", "sha256": "0", "kind": "audio"}, segments=[segment])
    tokens = shown_tokens(revise(transcript, Review()))
    assert [(t.text, t.start, t.end, t.p, t.low, t.seek) for t in tokens] == [
        ("C'est", 10.0, 10.3, 0.38, True, 10.0), ("enceinte", 10.3, 11.0, 0.65, False, 10.3),
        ("productive,", 11.0, 12.0, 0.4, True, 11.0)]
    # A correction's words take the times of those they replace, are not "uncertain", and say
    # what was transcribed.
    review = parse_review('corrections:\n  - {at: "00:00:10", original: "enceinte productive,", '
                          'corrected: "introductive,"}\n', "r")
    tokens = shown_tokens(revise(transcript, review))
    assert [(t.text, t.corrected, t.low, t.segment, t.position, t.original) for t in tokens] == [
        ("C'est", False, True, 0, 0, ""), ("introductive,", True, False, 0, 1, "enceinte productive,")]
    assert (tokens[1].start, tokens[1].end) == (10.3, 12.0)
    # No word times: times spread over the segment for the highlight, played from its start.
    plain = Transcript(source={"file": "s.ogg", "sha256": "0", "kind": "audio"},
                       segments=[Segment(start=20, end=30, text="un deux trois quatre")])
    tokens = shown_tokens(revise(plain, Review()))
    assert [t.seek for t in tokens] == [20, 20, 20, 20]
    assert [t.start for t in tokens] == sorted(t.start for t in tokens) and tokens[-1].start > 25


def test_speech_left_untranscribed_is_listed_to_listen_to(tmp_path):
    from synthese.core.artefacts import Gap

    transcript = Transcript.load(DATA / "review_sample.transcript.json")
    transcript.gaps = [Gap(start=83.25, end=104.0, reason="no_speech_decoded"),
                       Gap(start=130.0, end=133.5, reason="other_language")]
    app = ReviewApp(review_workspace(tmp_path / "review", transcript).config,
                    load_config(tmp_path / "review" / "config.yaml").session(SESSION), token="jeton-de-test")
    app.allow("127.0.0.1", 8765)
    try:
        html = call(app, "GET", "/")[2].decode()
        notices = html.split('id="avis"')[1].split("</section>")[0]
        assert "hidden" not in notices.split(">")[0]
        assert "Parole non transcrite" in notices
        assert 'data-t="83.25"' in notices and "00:01:23–00:01:44" in notices
        assert 'data-t="130.0"' in notices and "(une autre langue)" in notices
    finally:
        app.close()


def test_every_reason_a_quote_is_held_back_is_worded_for_the_reviewer():
    from typing import get_args

    from synthese.core.artefacts import HeldQuote

    reasons = get_args(get_args(HeldQuote.model_fields["reasons"].annotation)[0])
    assert set(reasons) == {"unsure", "gap", "repeated"}
    wording = load_config(REPO / "config.yaml").templates.wording()["review_page"]
    assert all(wording.get(f"held_reason_{reason}") for reason in reasons)


def test_quotes_held_back_are_listed_with_why_and_a_confirmation_lets_them_be_quoted(tmp_path):
    # The recogniser unsure of a word of the sentence the Sobriété chapter would quote
    # (« La transition numérique n'est pas la transition écologique. »): that quote waits.
    transcript = Transcript.load(DATA / "review_sample.transcript.json")
    unsure = [(s.id, i) for s in transcript.segments for i, w in enumerate(s.words)
              if w.text == "écologique." and 19.0 < w.start < 24.0]
    assert len(unsure) == 1
    segment_id, index = unsure[0]
    segment = transcript.segments[segment_id]
    segment.words[index] = segment.words[index].model_copy(update={"p": 0.2})
    app = prepared_app(review_workspace(tmp_path / "review", transcript, formats=["html"]))
    try:
        state = app.state()
        assert state.held, "the chapter's quote holds a word the recogniser was unsure of"
        held = state.held[0]
        assert held.reasons == ["unsure"] and held.unsure
        html = call(app, "GET", "/fragment/avis")[2].decode()
        assert "Extraits en attente de vérification" in html and f"« {held.unsure[0]} »" in html
        assert 'data-action="confirm"' in html and f'href="#passage-{held.passage.id}"' in html
        status, _ = action(app, action="confirm", passage=held.passage.id, sentences=[len(held.passage.sentences)])
        assert status == 400 and review_of(app).confirmations == []
        status, _ = action(app, action="confirm", passage=held.passage.id, sentences=held.sentences)
        assert status == 200
        assert [(c.passage, list(c.sentences)) for c in review_of(app).confirmations] == [(held.passage.key,
                                                                                           held.sentences)]
        wait_for_jobs(app)
        tags = Tags.load(app.paths.tags)
        assert not any(h.passage == held.passage.id and h.doubtful == held.sentences for h in tags.held)
        quoted = {(q.passage, i) for quotes in tags.excerpts.values() for q in quotes for i in q.sentences}
        assert {(held.passage.id, i) for i in held.sentences} <= quoted
    finally:
        app.close()


def test_an_unforeseen_failure_of_a_job_is_said_on_the_page_with_what_to_do(tmp_path, monkeypatch):
    ws = review_workspace(tmp_path / "review")
    app = ReviewApp(ws.config, ws.config.session(SESSION), token="jeton-de-test")
    try:
        wait_for_jobs(app)

        def broken(kind, job):
            raise RuntimeError("disque introuvable")

        monkeypatch.setattr(app, "run_job", broken)
        app.jobs.request("refresh")
        jobs = wait_for_jobs(app)
        assert "unexpected RuntimeError: disque introuvable" in jobs["error"]
        assert "--debug" in jobs["error"] and "report it" in jobs["error"]
    finally:
        app.close()
