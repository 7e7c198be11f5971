"""Voice profiles: the voice prints of people staff named, and how a session's voices match them.

A profile holds, under a person's name, the centroids of their voice prints (the speaker model's
embeddings, never audio) from each session where staff named their voice, with the session, the
voice's label there and the stretch of the recording each centroid comes from. Profiles are
biometric data: they live in `voices.json` beside config.yaml, only when `voices.remember` is on,
and are never published (pipeline/voices.py writes and applies them).

Matching compares group centres as diarization does: the normalised mean of a voice's centroids
against the normalised mean of a profile's prints (cosine). Names are given by one assignment
over the session (Hungarian, on the similarities): one name per voice, one voice per name. A
pair is kept only at or above the diarization's own same-voice threshold (two centres that
close are one voice) and with a clear margin (MIN_MARGIN) over both the voice's next closest
profile and the profile's next closest voice of the session; otherwise the voice keeps its label.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import ConfigDict, Field, ValidationError

from .artefacts import Diarization, Recognised, Record, VoiceCentroids
from .errors import SyntheseError
from .review_file import Review
from .storage import read_json, write_text

VOICES_SCHEMA = "synthese.voices/1"
# How much closer the chosen pair must be than the next candidate, on either side. On the
# multi-voice benchmark sessions (bench/bench_voices.py), a voice and its own profile: 0.84 or
# more; another person's: at most 0.66; every right name led the next by 0.32 or more.
MIN_MARGIN = 0.10
NOTICE = ("Voice prints of people named in the cycle's sessions: biometric data. Never published, never "
          "copied out of this folder. Delete a person's with `synthese voices forget NAME`.")


class VoicesFileError(SyntheseError):
    """voices.json cannot be read."""


class ProfilePrint(Record):
    """One centroid of a named voice, and where it comes from."""

    session: str
    label: str  # the voice's label in that session's transcript
    start: float
    end: float
    model: str  # the speaker model whose space the vector is in
    vector: list[float]


class VoiceProfile(Record):
    name: str
    created: str
    last_used: str  # when it last named a voice: learned from a session, or recognised in one
    prints: list[ProfilePrint] = []

    @property
    def sessions(self) -> list[str]:
        """The sessions its prints come from, in the order they were learned."""
        return list(dict.fromkeys(p.session for p in self.prints))

    def vector(self, model: str) -> np.ndarray | None:
        """The normalised mean of its prints in that model's space, None without any."""
        return mean_vector([p.vector for p in self.prints if p.model == model])


class VoiceProfiles(Record):
    """The content of voices.json."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    schema_: str = Field(default=VOICES_SCHEMA, alias="schema")
    notice: str = NOTICE
    profiles: list[VoiceProfile] = []

    def profile(self, name: str) -> VoiceProfile | None:
        wanted = _fold(name)
        return next((p for p in self.profiles if _fold(p.name) == wanted), None)


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def same_name(a: str, b: str) -> bool:
    """Whether two names written by people are the same (case and spaces aside)."""
    return _fold(a) == _fold(b)


def now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def read_profiles(path: Path) -> VoiceProfiles:
    """The profiles of voices.json; none when the file does not exist. A broken file is an
    error saying how to rebuild it."""
    if not path.exists():
        return VoiceProfiles()
    fix = (f"Fix it, or delete {path.name}: the profiles are made again from the voices named in the review "
           "files at the next run.")
    try:
        data = read_json(path)
    except SyntheseError as exc:
        raise VoicesFileError(f"{exc} {fix}") from None
    if not isinstance(data, dict) or data.get("schema") != VOICES_SCHEMA:
        raise VoicesFileError(f"{path}: not a voice profiles file (expected \"schema\": \"{VOICES_SCHEMA}\"). {fix}")
    try:
        return VoiceProfiles.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise VoicesFileError(f"{path}: {where}: {error['msg']}. {fix}") from None


def write_profiles(path: Path, profiles: VoiceProfiles) -> None:
    """voices.json, atomically; profiles without prints are left out, and the file is deleted
    when none is left."""
    kept = profiles.model_copy(update={"profiles": [p for p in profiles.profiles if p.prints]})
    if not kept.profiles:
        path.unlink(missing_ok=True)
        return
    write_text(path, kept.model_dump_json(by_alias=True, indent=1) + "\n")


# --- vectors ---------------------------------------------------------------------------------------

def mean_vector(vectors: Sequence[Sequence[float]]) -> np.ndarray | None:
    """The normalised mean of unit vectors (a group centre), None when there are none."""
    if not vectors:
        return None
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 1e-10 else None


def voice_vectors(voices: Sequence[VoiceCentroids]) -> dict[str, np.ndarray]:
    """Each voice's centre from its centroids (voices without centroids left out)."""
    found = {v.label: mean_vector([c.vector for c in v.centroids]) for v in voices}
    return {label: vector for label, vector in found.items() if vector is not None}


def assignment(score: np.ndarray) -> list[tuple[int, int]]:
    """Rows paired with columns so that the total score is the highest, each row and each
    column at most once (Hungarian method, O(n^3)). Returns (row, column) pairs."""
    rows, columns = score.shape
    if rows == 0 or columns == 0:
        return []
    if rows > columns:
        return [(r, c) for c, r in assignment(score.T)]
    cost = -np.asarray(score, dtype=np.float64)
    u, v = np.zeros(rows + 1), np.zeros(columns + 1)
    owner, way = np.zeros(columns + 1, int), np.zeros(columns + 1, int)  # owner[j]: row (1-based) of column j
    for row in range(1, rows + 1):
        owner[0], column = row, 0
        lowest, used = np.full(columns + 1, np.inf), np.zeros(columns + 1, bool)
        while True:
            used[column] = True
            current, delta, next_column = owner[column], np.inf, 0
            for j in range(1, columns + 1):
                if not used[j]:
                    reduced = cost[current - 1, j - 1] - u[current] - v[j]
                    if reduced < lowest[j]:
                        lowest[j], way[j] = reduced, column
                    if lowest[j] < delta:
                        delta, next_column = lowest[j], j
            for j in range(columns + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    lowest[j] -= delta
            column = next_column
            if owner[column] == 0:
                break
        while column:
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    return [(int(owner[j]) - 1, j - 1) for j in range(1, columns + 1) if owner[j]]


def match_voices(voices: Mapping[str, np.ndarray], profiles: Mapping[str, np.ndarray], *, threshold: float,
                 margin: float = MIN_MARGIN, named: Collection[str] = (), taken: Collection[str] = (),
                 rejected: Collection[tuple[str, str]] = ()) -> dict[str, Recognised]:
    """The names a session's voices are recognised by: label -> Recognised.

    `voices`: each voice's centre (label -> unit vector); `profiles`: each profile's (name ->
    unit vector), in the same model's space. Voices in `named` (named by staff) and names in
    `taken` (given by staff to a voice of the session) are not assigned, and no voice gets a
    name it was rejected for (`rejected`: (label, name) pairs); all still count as competitors
    for the margin, so that a voice between two people is never named."""
    labels, names = list(voices), list(profiles)
    if not labels or not names:
        return {}
    similarity = np.array([voices[label] for label in labels]) @ np.array([profiles[name] for name in names]).T
    named_set, refused = set(named), {(label, _fold(name)) for label, name in rejected}
    taken_folded = {_fold(n) for n in taken}
    allowed = np.array([[similarity[i, j] >= threshold and label not in named_set
                         and _fold(name) not in taken_folded and (label, _fold(name)) not in refused
                         for j, name in enumerate(names)] for i, label in enumerate(labels)])
    if not allowed.any():
        return {}
    # Pairs not allowed can still be assigned by the method (it pairs as many as it can): they
    # weigh less than any allowed pair, and are dropped after.
    score = np.where(allowed, similarity, similarity - 10.0)
    found: dict[str, Recognised] = {}
    for i, j in assignment(score):
        if not allowed[i, j]:
            continue
        rivals = [*np.delete(similarity[i], j), *np.delete(similarity[:, j], i)]
        lead = float(similarity[i, j] - max(rivals, default=-1.0))
        if lead >= margin:
            found[labels[i]] = Recognised(name=names[j], similarity=round(float(similarity[i, j]), 3),
                                          margin=round(min(lead, 2.0), 3))
    return found


def prints_of(session_id: str, voice: VoiceCentroids, model: str) -> list[ProfilePrint]:
    """A session's voice as a profile keeps it: its centroids, and where they come from."""
    return [ProfilePrint(session=session_id, label=voice.label, start=c.start, end=c.end, model=model,
                         vector=c.vector) for c in voice.centroids]


def recognise_voices(diarization: Diarization, profiles: VoiceProfiles, review: Review,
                     excluded: Collection[str] = ()) -> dict[str, Recognised]:
    """The voices of a session's diarization record that match a profile (match_voices, at the
    diarization's own same-voice threshold), given what its review file says: voices named and
    names given by staff are left as they are, rejected names never given again. Profiles of
    `excluded` names are not used. Nothing without centroids or a recorded threshold."""
    if not diarization.voices or diarization.same_voice_cosine is None:
        return {}
    vectors = {p.name: v for p in profiles.profiles
               if not any(same_name(p.name, n) for n in excluded) and (v := p.vector(diarization.model)) is not None}
    return match_voices(voice_vectors(diarization.voices), vectors, threshold=diarization.same_voice_cosine,
                        named=set(review.speakers), taken=set(review.speakers.values()),
                        rejected=[(label, name) for label, names in review.rejected_names.items() for name in names])
