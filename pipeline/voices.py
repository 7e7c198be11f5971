"""Voice profiles across the cycle (`voices.remember: true` in config.yaml; off by default).

When staff name a voice of a session (the review page, or `speakers:` in the review file), the
voice's centroids (the diarization's voice prints, kept in the transcript's diarization record)
are stored under the name in `voices.json` beside config.yaml (`learn`). In the cycle's other
sessions not approved yet, voices that match a profile are labelled with its name (`recognise`,
core/voiceprints.match_voices), marked « reconnu » on the review page until staff confirm it
(written to `speakers:`) or reject it (`rejected_names:`, so it is never given to that voice
again). The names recognised are an input of the tag stage's hash (stages.tag_inputs_hash): a new
profile re-tags the sessions where it names a voice, no transcription needed. `forget` deletes a
person's profile and the centroids of their voice in the transcripts.

Voice prints that identify people are biometric data: nothing here is published (publishing
copies only rendered documents), and with `voices.remember` off nothing is stored or applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from .core.artefacts import Diarization, Recognised, Transcript
from .core.config import Config, Session
from .core.errors import ArtefactError, SyntheseError
from .core.review_file import Review, load_review
from .core.storage import read_json
from .core.voiceprints import (
    ProfilePrint,
    VoiceProfile,
    now,
    prints_of,
    read_profiles,
    recognise_voices,
    same_name,
    write_profiles,
)
from .workspace import Workspace, voices_file

log = logging.getLogger(__name__)

NO_PRINTS = "no_prints"  # why a session's voices cannot be recognised: transcribed without voice prints
APPROVED = "approved"  # the session is approved: its names are those its review file gives


def recognition_allowed(review: Review) -> bool:
    """Whether recognition may still name the session's voices: not once the session is
    approved (its documents then say what people checked). Approval is recorded in the review
    file as `approved:`; a review file without it, or a version of Synthèse without approval,
    leaves every session open."""
    return getattr(review, "approved", None) is None


def session_diarization(transcript: Path) -> Diarization | None:
    """The diarization record of a transcript, read without checking its thousands of words."""
    data = read_json(transcript)
    record = data.get("diarization") if isinstance(data, dict) else None
    if record is None:
        return None
    try:
        return Diarization.model_validate(record)
    except ValidationError as exc:
        raise ArtefactError(f"{transcript}: diarization: {exc.errors()[0]['msg']}. Re-run the transcribe stage "
                            "(`synthese run --force SESSION`).") from None


def named_with(review: Review, recognised: dict[str, Recognised]) -> Review:
    """The review with the voices recognised named as if staff had named them, so that the names
    travel like theirs (core/review_file.revise_transcript); staff's own names win."""
    if not recognised:
        return review
    return replace(review, speakers={**{label: r.name for label, r in recognised.items()}, **review.speakers})


# --- recognition ---------------------------------------------------------------------------------

@dataclass
class Recognition:
    """The voices of a session recognised by a profile, or why none can be."""

    recognised: dict[str, Recognised] = field(default_factory=dict)
    note: str = ""  # NO_PRINTS or APPROVED when the session's voices cannot be recognised
    threshold: float | None = None  # the same-voice threshold used


def recognise(config: Config, session: Session | None, transcript: Path | Transcript, review: Review) -> Recognition:
    """The session's voices that match a voice profile of the cycle (nothing when
    `voices.remember` is off, when there is no profile, or the session is approved).
    `transcript`: its file, or the transcript already loaded."""
    if not config.voices.remember or session is None:
        return Recognition()
    if not recognition_allowed(review):
        return Recognition(note=APPROVED)
    if isinstance(transcript, Transcript):
        diarization = transcript.diarization
    else:
        diarization = session_diarization(transcript) if transcript.is_file() else None
    if diarization is None or not diarization.speakers_found:
        return Recognition()
    if not diarization.voices or diarization.same_voice_cosine is None:
        return Recognition(note=NO_PRINTS)
    found = recognise_voices(diarization, read_profiles(voices_file(config)), review, config.voices.exclude)
    return Recognition(found, threshold=diarization.same_voice_cosine)


def recognised_names(config: Config, session: Session | None, transcript: Path, review_path: Path) -> dict[str, str]:
    """label -> name of the voices recognised: what the tag stage's hash counts."""
    if not config.voices.remember or session is None:
        return {}
    found = recognise(config, session, transcript, load_review(review_path)).recognised
    return {label: r.name for label, r in sorted(found.items())}


def note_used(config: Config, names: list[str]) -> None:
    """Record that these profiles named voices today (`last_used`), writing voices.json only
    when a date changes."""
    if not names or not config.voices.remember:
        return
    path = voices_file(config)
    profiles = read_profiles(path)
    today = now()
    changed = False
    for profile in profiles.profiles:
        if any(same_name(profile.name, n) for n in names) and profile.last_used[:10] != today[:10]:
            profile.last_used = today
            changed = True
    if changed:
        write_profiles(path, profiles)


# --- learning from the voices staff named ----------------------------------------------------------

def learn(ws: Workspace, session: Session) -> bool:
    """Bring voices.json in step with the voices named in the session's review file: the
    centroids of each named voice stored under its name (replacing those this session gave
    before), those of a voice no longer named so taken out, a profile left without prints
    deleted. Returns whether voices.json changed. Nothing when `voices.remember` is off, for a
    name of `voices.exclude`, or for a voice without centroids."""
    config = ws.config
    paths = ws.paths(session)
    if not config.voices.remember or not paths.transcript.is_file():
        return False
    review = load_review(paths.review)
    diarization = session_diarization(paths.transcript)
    voices = {v.label: v for v in diarization.voices if v.centroids} if diarization else {}
    model = diarization.model if diarization else ""
    excluded = config.voices.exclude
    wanted: dict[str, list[ProfilePrint]] = {}  # name as first written -> this session's prints
    for label, name in review.speakers.items():
        if label not in voices or any(same_name(name, n) for n in excluded):
            continue
        key = next((k for k in wanted if same_name(k, name)), name)
        wanted.setdefault(key, []).extend(prints_of(session.id, voices[label], model))
    path = voices_file(config)
    profiles = read_profiles(path)
    changed = False
    stamp = now()
    for profile in profiles.profiles:
        written_as = next((k for k in wanted if same_name(k, profile.name)), None)
        ours = wanted.pop(written_as) if written_as is not None else []
        if any(same_name(profile.name, n) for n in excluded):
            new = []
        else:
            # This session's prints replaced where they were, so that learning again changes nothing.
            others = [p for p in profile.prints if p.session != session.id]
            at = sum(1 for p in profile.prints[:next((i for i, p in enumerate(profile.prints) if p.session == session.id),
                                                     len(profile.prints))] if p.session != session.id)
            new = others[:at] + ours + others[at:]
        if new != profile.prints:
            profile.prints = new
            profile.last_used = stamp
            changed = True
    for name, prints in wanted.items():
        profiles.profiles.append(VoiceProfile(name=name, created=stamp, last_used=stamp, prints=prints))
        changed = True
    if changed:
        write_profiles(path, profiles)
        log.info("%s: voice profiles updated in %s", session.id, path.name)
    return changed


def learn_all(ws: Workspace) -> None:
    """`learn` for every session of config.yaml (a session whose files cannot be read is left
    to its own run, which reports it)."""
    if not ws.config.voices.remember:
        return
    for session in ws.config.sessions:
        try:
            learn(ws, session)
        except SyntheseError as exc:
            log.debug("%s: voices not learned: %s", session.id, exc)


# --- `synthese voices` -------------------------------------------------------------------------------

@dataclass
class ProfileSummary:
    name: str
    sessions: list[str]  # where staff named the voice (the prints' sessions)
    recognised_in: list[str]  # where the last tagging recognised it
    prints: int
    created: str
    last_used: str


def _recognised_in(ws: Workspace) -> dict[str, list[tuple[str, str]]]:
    """Session id -> (label, name) of the voices its tags name by recognition."""
    found: dict[str, list[tuple[str, str]]] = {}
    for session in ws.config.sessions:
        path = ws.paths(session).tags
        try:
            data = read_json(path) if path.is_file() else {}
        except SyntheseError:
            continue
        recognised = (data.get("review") or {}).get("recognised") or {} if isinstance(data, dict) else {}
        found[session.id] = [(str(label), str(r.get("name", ""))) for label, r in recognised.items()
                             if isinstance(r, dict)]
    return found


def summaries(ws: Workspace) -> list[ProfileSummary]:
    """The profiles of voices.json, with where each was named and recognised."""
    profiles = read_profiles(voices_file(ws.config))
    recognised = _recognised_in(ws)
    return [ProfileSummary(p.name, p.sessions,
                           [s for s, pairs in recognised.items() if any(same_name(n, p.name) for _, n in pairs)],
                           len(p.prints), p.created, p.last_used)
            for p in sorted(profiles.profiles, key=lambda p: p.name.casefold())]


@dataclass
class Forgotten:
    name: str
    prints: int  # deleted from voices.json
    sessions: list[str]  # the sessions those prints came from
    cleared: list[str]  # sessions whose transcript lost the centroids of the voice
    retag: list[str]  # sessions whose tags still name a voice so by recognition: tagged again at the next run


def forget(ws: Workspace, name: str) -> Forgotten:
    """Delete a person's voice prints everywhere they are stored: their profile in voices.json,
    and the centroids of the voices named so (review file) or recognised so (tags) in the
    transcripts, so that nothing can learn them again. The names in review files and documents
    stay (they are not voice prints); the sessions that named a voice by recognition are tagged
    again at the next run. Call under the workspace lock."""
    path = voices_file(ws.config)
    profiles = read_profiles(path)
    profile = profiles.profile(name)
    recognised = _recognised_in(ws)
    cleared, retag = [], []
    for session in ws.config.sessions:
        paths = ws.paths(session)
        labels = {label for label, n in recognised.get(session.id, []) if same_name(n, name)}
        if labels:
            retag.append(session.id)
        try:
            labels |= {label for label, n in load_review(paths.review).speakers.items() if same_name(n, name)}
        except SyntheseError as exc:
            log.warning("%s: %s: voices named in it cannot be read, so their voice prints stay in the transcript; "
                        "fix it and run `synthese voices forget` again", session.id, exc)
        if not labels or not paths.transcript.is_file():
            continue
        transcript = Transcript.load(paths.transcript)
        voices = transcript.diarization.voices if transcript.diarization else []
        touched = [v for v in voices if v.label in labels and v.centroids]
        if touched:
            for voice in touched:
                voice.centroids = []
            transcript.save(paths.transcript)
            cleared.append(session.id)
    if profile is None and not cleared:
        known = ", ".join(p.name for p in profiles.profiles) or "none"
        raise SyntheseError(f"{path.name}: no voice profile named {name!r} (profiles: {known}), and no transcript "
                            "keeps a voice named so. Check the spelling with `synthese voices`.")
    if profile is not None:
        profiles.profiles.remove(profile)
        write_profiles(path, profiles)
    return Forgotten(profile.name if profile else name, len(profile.prints) if profile else 0,
                     profile.sessions if profile else [], cleared, retag)
