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
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import SAMPLE_MEDIA, repository_config
from synthese.artefacts import Segment, Tags, Transcript
from synthese.config import load_config
from synthese.review import parse_review
from synthese.review_app import ReviewApp
from synthese.review_edits import version_of
from synthese.workspace import Workspace

DATA = Path(__file__).resolve().parent / "data"
SESSION = "seance-introductive"
HOST = "127.0.0.1:8765"


def review_workspace(root: Path, transcript: Transcript | None = None) -> Workspace:
    """The sample session in a folder of its own: config.yaml, its replay and its transcript
    (transcription up to date, so nothing runs Whisper); tagging and rendering still to do."""
    data = repository_config()
    session = next(s for s in data["sessions"] if s["id"] == SESSION)
    session["media"] = "seance-introductive.ogg"
    session["speakers"].append({"name": "Claire Dubreuil", "role": "Sociologue", "organisation": "Université"})
    data["sessions"] = [session]
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copy(SAMPLE_MEDIA, root / "seance-introductive.ogg")
    ws = Workspace(load_config(root / "config.yaml"))
    put_transcript(ws, transcript or Transcript.load(DATA / "review_sample.transcript.json"))
    return ws


def put_transcript(ws: Workspace, transcript: Transcript) -> None:
    """Save a transcript as the transcription stage would (up to date with the replay)."""
    session = ws.config.session(SESSION)
    paths = ws.paths(session)
    paths.folder.mkdir(parents=True, exist_ok=True)
    transcript.inputs_hash = ws.transcribe_hash(session)
    transcript.save(paths.transcript)


def prepared_app(ws: Workspace) -> ReviewApp:
    """The page's application, its first background job (tag and render) done."""
    app = ReviewApp(ws.config, ws.config.session(SESSION), token="jeton-de-test")
    app.allow("127.0.0.1", 8765)
    wait_for_jobs(app)
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
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": HOST, "wsgi.input": io.BytesIO(raw),
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
