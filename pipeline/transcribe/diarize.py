"""Who spoke when: speaker turns of a replay, offline, in numpy, and speakers for its segments.

Speech is found by the Silero VAD that faster-whisper ships; windows of 1.5 s every 0.75 s
inside speech each get a voice print (`speaker_embedding.py`); the windows are grouped by
spectral clustering. When the number of voices is not given, it is estimated by the normalised
maximum eigengap (NME-SC, Park et al., 2019), and a group with less than a few seconds of speech
is merged into the nearest one (a cough, a laugh, a word over another voice is not a speaker).
Labels are "Intervenant 1", "Intervenant 2", ... in order of first appearance: the software never
puts a name on a voice; people map labels to names.

The recording is decoded block by block and never held whole: only the voice prints are kept
(four hours are about 19,000 windows, 15–20 MB). Clustering cost grows with the cube of the
window count, so at most `MAX_CLUSTER_WINDOWS` are clustered, spread evenly over the recording;
the others take the nearest group's centre.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.artefacts import Segment, Word
from .speaker_embedding import SAMPLE_RATE, SpeakerEncoder, load_encoder, single_threaded_blas

log = logging.getLogger(__name__)

DEFAULT_LABEL = "Intervenant {n}"
DEFAULT_MODEL = "campplus"
BLOCK_S = 120.0  # audio decoded and searched for speech at once
MAX_CLUSTER_WINDOWS = 1000  # eigen-decompositions of n x n cost n^3: beyond this, subsample
EMBED_BATCH = 64  # windows embedded at once: bounds the activations in memory
MAX_CENTROIDS = 3  # centroids kept per voice, from different moments of the recording
MIN_CENTROID_WINDOWS = 8  # windows (6 s of speech) that make a centroid


@dataclass(frozen=True)
class DiarizeSettings:
    """How diarization is done; recorded in every result."""

    model: str = DEFAULT_MODEL
    window_s: float = 1.5
    hop_s: float = 0.75
    min_speaker_s: float = 4.0  # a voice heard for less than this is merged into the nearest
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 300
    vad_pad_ms: int = 100
    max_cluster_windows: int = MAX_CLUSTER_WINDOWS
    same_speaker_cosine: float | None = None  # centres closer than this are one voice; None: the model's
    shared_frames: bool = True  # consecutive windows share the network's work (models that allow it)
    chunk_windows: int = 16  # windows computed together in that case (about 13 s): bounds memory

    @property
    def same_voice_cosine(self) -> float:
        """Group centres closer than this are one voice split in two: the setting, else the model's."""
        return self.same_speaker_cosine or SAME_SPEAKER_COSINE.get(self.model, 1.0)


# Centres of two groups closer than this (cosine) are one voice split in two. Set between the
# closest centres of two different voices (0.63) and of one voice forced into two groups (0.87)
# on two multi-voice benchmark sessions, the sample session and two FLEURS speakers; checked on
# the other sessions (different voices at most 0.66) and FLEURS speakers (one voice split: at
# least 0.77). GE2E leaves no such margin (0.86 against 0.85-0.94): its estimate is less reliable.
SAME_SPEAKER_COSINE = {"campplus": 0.75, "ge2e": 0.87}


@dataclass
class SpeakerTurn:
    start: float  # seconds from the start of the recording
    end: float
    speaker: str


@dataclass
class VoiceCentroid:
    """The mean voice print (unit length) of one voice over a stretch of the recording."""

    start: float
    end: float
    vector: np.ndarray


@dataclass
class Voice:
    """A voice found: its label, its speech (seconds) and a few centroids of its voice prints."""

    label: str
    seconds: float
    centroids: list[VoiceCentroid]


@dataclass
class DiarizationResult:
    turns: list[SpeakerTurn]
    speakers_found: int
    requested: int | None  # the number of voices asked for, None when estimated
    windows: int  # voice prints computed
    seconds_of_speech: float
    options: dict[str, Any] = field(default_factory=dict)
    # Voices the estimate finds, also when a number was requested: when the two differ, the
    # speakers declared for the session are probably not the voices heard.
    estimated_speakers: int | None = None
    voices: list[Voice] = field(default_factory=list)  # in label order

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- speech and windows ---------------------------------------------------------------------

def speech_regions(audio: np.ndarray, settings: DiarizeSettings) -> list[tuple[int, int]]:
    """(start, end) sample indices of the speech in a 16 kHz block (Silero VAD)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) < SAMPLE_RATE // 10:
        return []
    options = VadOptions(threshold=settings.vad_threshold, min_silence_duration_ms=settings.vad_min_silence_ms,
                         speech_pad_ms=settings.vad_pad_ms, min_speech_duration_ms=150)
    return [(int(r["start"]), int(r["end"])) for r in get_speech_timestamps(audio, options)]


def window_starts(start: int, end: int, window: int, hop: int) -> list[int]:
    """Starts of the windows covering [start, end): every hop, the last one ending at `end`; one
    window centred on a region shorter than a window."""
    if end - start <= window:
        return [start + (end - start) // 2 - window // 2]
    starts = list(range(start, end - window + 1, hop))
    if starts[-1] + window < end:
        starts.append(end - window)
    return starts


@dataclass
class _Windows:
    """The voice prints of a recording and where they lie (seconds)."""

    embeddings: list[np.ndarray] = field(default_factory=list)
    centres: list[float] = field(default_factory=list)
    regions: list[tuple[float, float]] = field(default_factory=list)
    region_of: list[int] = field(default_factory=list)  # index in regions of each window

    def stacked(self) -> np.ndarray:
        return np.concatenate(self.embeddings) if self.embeddings else np.zeros((0, 1), np.float32)


def _embed_blocks(blocks: Iterable[tuple[int, np.ndarray]], encoder: SpeakerEncoder, settings: DiarizeSettings,
                  progress: Callable[[float], None] | None) -> _Windows:
    from .audio import release_free_memory

    window = int(round(settings.window_s * SAMPLE_RATE))
    hop = int(round(settings.hop_s * SAMPLE_RATE))
    found = _Windows()
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            found.embeddings.append(encoder.embed(np.stack(pending)))
            pending.clear()

    # An encoder that shares its frames between overlapping windows (CamppEncoder) embeds them by stretch.
    embed_chunk = getattr(encoder, "embed_chunk", None) if settings.shared_frames else None
    for offset, block in blocks:
        for start, end in speech_regions(block, settings):
            found.regions.append(((offset + start) / SAMPLE_RATE, (offset + end) / SAMPLE_RATE))
            spans = []
            for first in window_starts(start, end, window, hop):
                # A window near the block's edge is shifted inside it, or padded if the block is short.
                first = min(max(first, 0), max(len(block) - window, 0))
                spans.append((first, first + window))
                centre = first + window // 2
                found.centres.append((offset + min(max(centre, start), end)) / SAMPLE_RATE)
                found.region_of.append(len(found.regions) - 1)
            if len(block) < window:
                block = np.pad(block, (0, window - len(block)))
            if embed_chunk is not None:
                for i in range(0, len(spans), settings.chunk_windows):
                    found.embeddings.append(embed_chunk(block, spans[i: i + settings.chunk_windows]))
                continue
            for a, b in spans:
                pending.append(block[a:b])
                if len(pending) >= EMBED_BATCH:
                    flush()
        flush()
        release_free_memory()  # the temporaries of each chunk differ in size: glibc keeps them otherwise
        if progress is not None:
            progress((offset + len(block)) / SAMPLE_RATE)
    return found


# --- clustering -----------------------------------------------------------------------------

def _laplacian(affinity: np.ndarray) -> np.ndarray:
    return np.diag(affinity.sum(axis=1)) - affinity


def _pruned_affinity(similarity: np.ndarray, neighbours: int) -> np.ndarray:
    """Each row keeps its `neighbours` most similar windows (as 1, the rest 0), symmetrised."""
    order = np.argsort(-similarity, axis=1)[:, :neighbours]
    binary = np.zeros_like(similarity)
    np.put_along_axis(binary, order, 1.0, axis=1)
    return 0.5 * (binary + binary.T)


def _spectra(similarity: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The Laplacian's eigenvalues at each pruning level NME-SC tries: (level, eigenvalues).
    Computed once per clustering, as they serve both the estimate and a given number of voices;
    the affinities themselves are not kept (a few MB each), only rebuilt for the level chosen."""
    n = len(similarity)
    top = max(2, n // 4)
    levels = np.unique(np.linspace(1, top, min(top, 24)).astype(int))
    return [(int(p), np.linalg.eigvalsh(_laplacian(_pruned_affinity(similarity, int(p))))) for p in levels]


def _estimate(similarity: np.ndarray, max_speakers: int, given: int | None = None,
              spectra: list[tuple[int, np.ndarray]] | None = None) -> tuple[int, np.ndarray]:
    """NME-SC: for each pruning level p, the largest eigengap of the Laplacian among the first
    max_speakers, normalised by the largest eigenvalue; the level that minimises p / gap wins,
    and its eigengap gives the number of voices. With a given number of voices, the gap after
    that many eigenvalues is the one measured, so the pruning chosen is the one that separates
    that many groups best. Returns (count, affinity)."""
    n = len(similarity)
    best: tuple[float, int, int] | None = None
    for p, values in spectra if spectra is not None else _spectra(similarity):
        gaps = np.diff(values[: max_speakers + 1])
        if gaps.size == 0:
            continue
        k = min(given, gaps.size) if given else int(np.argmax(gaps)) + 1
        gap = gaps[k - 1] / (values[-1] + 1e-10)
        ratio = (p / n) / (gap + 1e-10)
        if best is None or ratio < best[0]:
            best = (ratio, k, p)
    if best is None:
        return 1, np.ones_like(similarity)
    return best[1], _pruned_affinity(similarity, best[2])


def _kmeans(points: np.ndarray, k: int, seed: int = 0, restarts: int = 8, iterations: int = 60) -> np.ndarray:
    """Labels of k-means (k-means++ start, best of a few restarts): deterministic for a seed."""
    rng = np.random.default_rng(seed)
    n = len(points)
    best_labels, best_cost = np.zeros(n, int), np.inf
    for _ in range(restarts):
        centres = [points[rng.integers(n)]]
        for _ in range(1, k):
            distance = np.min([np.sum((points - c) ** 2, axis=1) for c in centres], axis=0)
            total = distance.sum()
            index = rng.choice(n, p=distance / total) if total > 0 else rng.integers(n)
            centres.append(points[index])
        centre_array = np.array(centres)
        for _ in range(iterations):
            distances = ((points[:, None, :] - centre_array[None]) ** 2).sum(axis=2)
            labels = distances.argmin(axis=1)
            moved = np.array([points[labels == j].mean(axis=0) if np.any(labels == j) else centre_array[j]
                              for j in range(k)])
            if np.allclose(moved, centre_array):
                break
            centre_array = moved
        cost = float(((points - centre_array[labels]) ** 2).sum())
        if cost < best_cost:
            best_labels, best_cost = labels, cost
    return best_labels


def spectral_labels(embeddings: np.ndarray, num_speakers: int | None, max_speakers: int,
                    spectra: list[tuple[int, np.ndarray]] | None = None) -> np.ndarray:
    """A group index for each voice print (rows of unit length): spectral clustering, the number
    of groups given or estimated (NME-SC). `spectra`: those of these voice prints (_spectra),
    when already computed."""
    n = len(embeddings)
    if n < 2 or num_speakers == 1:
        return np.zeros(n, int)
    similarity = np.clip(embeddings @ embeddings.T, -1.0, 1.0)
    estimated, affinity = _estimate(similarity, max(1, min(max(max_speakers, num_speakers or 0), n - 1)),
                                    num_speakers, spectra)
    k = min(num_speakers, n) if num_speakers else estimated
    if k <= 1:
        return np.zeros(n, int)
    values, vectors = np.linalg.eigh(_laplacian(affinity))
    return _kmeans(vectors[:, :k], k)


def _centres(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group ids present, unit-length centre of each)."""
    ids = np.unique(labels)
    centres = np.array([embeddings[labels == g].mean(axis=0) for g in ids])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-10)
    return ids, centres


def _merge_groups(embeddings: np.ndarray, labels: np.ndarray, hop_s: float, min_speaker_s: float,
                  same_cosine: float) -> np.ndarray:
    """Merge, one pair at a time, a group heard for less than min_speaker_s into the nearest
    group, and two groups whose centres are closer than same_cosine (one voice split in two)."""
    labels = labels.copy()
    while True:
        ids, centres = _centres(embeddings, labels)
        if len(ids) < 2:
            return labels
        sizes = np.array([np.sum(labels == g) for g in ids])
        similarity = centres @ centres.T
        np.fill_diagonal(similarity, -np.inf)
        smallest = int(np.argmin(sizes))
        if sizes[smallest] * hop_s < min_speaker_s:
            source, target = smallest, int(np.argmax(similarity[smallest]))
        else:
            a, b = (int(i) for i in np.unravel_index(int(np.argmax(similarity)), similarity.shape))
            if similarity[a, b] < same_cosine:
                return labels
            source, target = (a, b) if sizes[a] < sizes[b] else (b, a)
        labels[labels == ids[source]] = ids[target]


def _estimated_labels(embeddings: np.ndarray, max_speakers: int, hop_s: float,
                      settings: DiarizeSettings, spectra: list[tuple[int, np.ndarray]] | None = None) -> np.ndarray:
    """Groups with their number estimated: NME-SC, then the merging of groups too short to be a
    speaker or too close to another to be a different voice."""
    labels = spectral_labels(embeddings, None, max_speakers, spectra)
    return _merge_groups(embeddings, labels, hop_s, settings.min_speaker_s, settings.same_voice_cosine)


def cluster_windows(embeddings: np.ndarray, num_speakers: int | None, max_speakers: int,
                    settings: DiarizeSettings) -> tuple[np.ndarray, int]:
    """A group index for every window, and the number of voices the estimate finds (the same
    as the groups when num_speakers is None; compared with a given number, it tells whether the
    recording seems to hold more or fewer voices). At most settings.max_cluster_windows windows,
    spread evenly, are clustered; every window then takes its nearest group centre."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, int), 0
    if n > settings.max_cluster_windows:
        chosen = np.unique(np.linspace(0, n - 1, settings.max_cluster_windows).round().astype(int))
    else:
        chosen = np.arange(n)
    sample = embeddings[chosen]
    # The sample stands for n windows: scale the speech each of its windows represents.
    hop_s = settings.hop_s * n / len(chosen)
    # The estimate is made even when the number is given (it is reported); both use the same
    # spectra, the most costly part of the clustering.
    spectra = _spectra(np.clip(sample @ sample.T, -1.0, 1.0)) if len(sample) >= 2 else None
    estimated = _estimated_labels(sample, max_speakers, hop_s, settings, spectra)
    if num_speakers is None:
        labels = estimated
    else:
        # The declared number of voices, except that groups which are one voice split in two
        # (centres closer than any two different voices come) are joined again: a speaker
        # declared for the cover who never speaks must not cut another's speech into random
        # turns. Short groups are kept: a declared speaker may say only a few words.
        labels = spectral_labels(sample, num_speakers, max_speakers, spectra)
        labels = _merge_groups(sample, labels, hop_s, 0.0, settings.same_voice_cosine)
    ids, centres = _centres(sample, labels)
    estimated_count = len(np.unique(estimated))
    if len(ids) == 1:
        return np.zeros(n, int), estimated_count
    full = np.empty(n, int)
    full[chosen] = labels
    rest = np.setdiff1d(np.arange(n), chosen)
    if rest.size:
        full[rest] = ids[np.argmax(embeddings[rest] @ centres.T, axis=1)]
    return full, estimated_count


def _smooth(labels: np.ndarray, region_of: np.ndarray) -> np.ndarray:
    """A window whose two neighbours in the same speech region agree with each other, but not
    with it, takes their label: one window alone is too short to be a turn."""
    out = labels.copy()
    for i in range(1, len(labels) - 1):
        if (region_of[i - 1] == region_of[i] == region_of[i + 1] and labels[i - 1] == labels[i + 1]
                and labels[i] != labels[i - 1]):
            out[i] = labels[i - 1]
    return out


def _turns(found: _Windows, labels: np.ndarray, label_format: str) -> tuple[list[SpeakerTurn], dict[int, str]]:
    """Turns from labelled windows: within a speech region, a change of speaker lies halfway
    between the centres of the two windows; speakers are numbered by first appearance (returned:
    the turns, and the label of each group)."""
    names: dict[int, str] = {}
    turns: list[SpeakerTurn] = []
    centres = np.asarray(found.centres)
    region_of = np.asarray(found.region_of)
    # Windows are in time order, so each region's windows are one run of region_of.
    bounds = np.searchsorted(region_of, np.arange(len(found.regions) + 1))
    for region_index, (region_start, region_end) in enumerate(found.regions):
        members = np.arange(bounds[region_index], bounds[region_index + 1])
        if members.size == 0:
            continue
        start = region_start
        for position, window in enumerate(members):
            last = position == len(members) - 1
            if not last and labels[members[position + 1]] == labels[window]:
                continue
            end = region_end if last else (centres[window] + centres[members[position + 1]]) / 2
            group = int(labels[window])
            if group not in names:
                names[group] = label_format.format(n=len(names) + 1)
            if end > start:
                turns.append(SpeakerTurn(round(start, 3), round(end, 3), names[group]))
            start = end
    return turns, names


def voice_centroids(embeddings: np.ndarray, labels: np.ndarray, found: _Windows, names: dict[int, str],
                    settings: DiarizeSettings) -> list[Voice]:
    """Each voice's centroids: its windows in time order cut into up to MAX_CENTROIDS runs of
    at least MIN_CENTROID_WINDOWS windows (different moments of the session), the normalised
    mean of each. Windows next to a change of voice are left out where enough remain: they may
    hold the end of the other voice."""
    region_of = np.asarray(found.region_of)
    centres = np.asarray(found.centres)
    # changed[i]: window i has another voice than window i - 1 of the same speech region.
    changed = np.r_[False, (labels[1:] != labels[:-1]) & (region_of[1:] == region_of[:-1])]
    inside = ~(changed | np.r_[changed[1:], False])
    voices = []
    for group, label in sorted(names.items(), key=lambda item: _label_order(item[1])):
        members = np.flatnonzero(labels == group)
        clean = members[inside[members]]
        chosen = clean if len(clean) >= MIN_CENTROID_WINDOWS else members
        count = max(1, min(MAX_CENTROIDS, len(chosen) // MIN_CENTROID_WINDOWS))
        centroids = []
        for run in np.array_split(chosen, count):
            if run.size == 0:
                continue
            mean = embeddings[run].mean(axis=0)
            mean /= max(float(np.linalg.norm(mean)), 1e-10)
            centroids.append(VoiceCentroid(round(max(0.0, float(centres[run[0]]) - settings.window_s / 2), 3),
                                           round(float(centres[run[-1]]) + settings.window_s / 2, 3),
                                           mean.astype(np.float32)))
        voices.append(Voice(label, round(len(members) * settings.hop_s, 1), centroids))
    return voices


def _label_order(label: str) -> tuple[int, str]:
    digits = "".join(c for c in label if c.isdigit())
    return (int(digits) if digits else 0, label)


def _diarize_windows(found: _Windows, num_speakers: int | None, max_speakers: int, settings: DiarizeSettings,
                     label_format: str) -> DiarizationResult:
    embeddings = found.stacked()
    labels, estimated = cluster_windows(embeddings, num_speakers, max_speakers, settings)
    labels = _smooth(labels, np.asarray(found.region_of))
    turns, names = _turns(found, labels, label_format)
    count = len(names)
    speech_s = sum(end - start for start, end in found.regions)
    options = {**asdict(settings), "max_speakers": max_speakers,
               "same_speaker_cosine": settings.same_voice_cosine}
    log.info("voices: %d (%s; %d windows, %.0f s of speech)", count,
             "as requested" if num_speakers else "estimated", len(embeddings), speech_s)
    voices = voice_centroids(embeddings, labels, found, names, settings) if count else []
    return DiarizationResult(turns, count, num_speakers, len(embeddings), round(speech_s, 3), options, estimated,
                             voices)


def _check_counts(num_speakers: int | None, max_speakers: int) -> None:
    if num_speakers is not None and num_speakers < 1:
        raise ValueError(f"num_speakers must be at least 1 or None, not {num_speakers}")
    if max_speakers < 1:
        raise ValueError(f"max_speakers must be at least 1, not {max_speakers}")


def diarize_file(path: Path, *, num_speakers: int | None, max_speakers: int = 8,
                 progress: Callable[[float], None] | None = None, label_format: str = DEFAULT_LABEL,
                 settings: DiarizeSettings | None = None) -> DiarizationResult:
    """Speaker turns of a recording, decoded block by block (memory holds one block and the voice
    prints). num_speakers: the number of voices when known (e.g. the speakers declared for the
    session), None to estimate it, up to max_speakers. progress, if given, is called after each
    block with the seconds of audio done. Raises InputError for an unreadable file, ModelError
    when the speaker model is not installed."""
    from .audio import audio_blocks, decode_audio

    _check_counts(num_speakers, max_speakers)
    settings = settings or DiarizeSettings()
    encoder = load_encoder(settings.model)
    with single_threaded_blas():
        found = _embed_blocks(audio_blocks(decode_audio(Path(path)), BLOCK_S), encoder, settings, progress)
        return _diarize_windows(found, num_speakers, max_speakers, settings, label_format)


def diarize_audio(samples: np.ndarray, *, num_speakers: int | None, max_speakers: int = 8,
                  label_format: str = DEFAULT_LABEL, settings: DiarizeSettings | None = None) -> DiarizationResult:
    """Speaker turns of a short 16 kHz mono float32 clip held in memory (tests, excerpts)."""
    _check_counts(num_speakers, max_speakers)
    settings = settings or DiarizeSettings()
    encoder = load_encoder(settings.model)
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    blocks: Iterator[tuple[int, np.ndarray]] = iter([(0, samples)])
    with single_threaded_blas():
        found = _embed_blocks(blocks, encoder, settings, None)
        return _diarize_windows(found, num_speakers, max_speakers, settings, label_format)


# --- speakers of transcript segments ------------------------------------------------------------

def _speaker_at(start: float, end: float, turns: list[SpeakerTurn], starts: np.ndarray) -> str | None:
    """The speaker of the turn overlapping [start, end] the most, or of the nearest turn."""
    if not turns:
        return None
    overlap: dict[str, float] = {}
    first = max(0, int(np.searchsorted(starts, start, side="right")) - 1)
    for turn in turns[first:]:
        if turn.start >= end:
            break
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda name: overlap[name])
    # In a pause: the nearer of the turns just before and just after (turns do not overlap).
    middle = (start + end) / 2
    around = turns[max(0, first - 1): first + 2]
    nearest = min(around, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
    return nearest.speaker


def _split_text(text: str, words: list[Word], cuts: list[int]) -> list[str]:
    """The segment's text cut before the words at `cuts`. When the text has one token per word
    (the usual case), the text's own tokens are kept; otherwise the words' texts are joined."""
    tokens = text.split()
    bounds = [0, *cuts, len(words)]
    if len(tokens) == len(words):
        return [" ".join(tokens[a:b]) for a, b in zip(bounds, bounds[1:])]
    return [" ".join(" ".join(w.text for w in words[a:b]).split()) for a, b in zip(bounds, bounds[1:])]


def assign_speakers(segments: list[Segment], turns: list[SpeakerTurn]) -> list[Segment]:
    """Each transcript segment with the speaker of the turn it overlaps most. A segment with word
    times in which the speaker changes is split at the word where the change happens, so that no
    segment spans two speakers; each word gets its speaker too. Segments that already name a
    speaker (voice tags of an imported transcript) are kept as they are. Returns new segments;
    their ids are left to the caller to renumber."""
    ordered = sorted(turns, key=lambda t: t.start)
    starts = np.array([t.start for t in ordered])
    out: list[Segment] = []
    for segment in segments:
        if segment.speaker or not ordered:
            out.append(segment.model_copy())
            continue
        words = segment.words
        if not words:
            out.append(segment.model_copy(update={"speaker": _speaker_at(segment.start, segment.end, ordered, starts)}))
            continue
        speakers = [_speaker_at(w.start, w.end, ordered, starts) for w in words]
        labelled = [w.model_copy(update={"speaker": s}) for w, s in zip(words, speakers)]
        cuts = [i for i in range(1, len(words)) if speakers[i] != speakers[i - 1]]
        if not cuts:
            out.append(segment.model_copy(update={"speaker": speakers[0], "words": labelled}))
            continue
        texts = _split_text(segment.text, words, cuts)
        bounds = [0, *cuts, len(words)]
        for piece, (a, b) in enumerate(zip(bounds, bounds[1:])):
            start = segment.start if piece == 0 else words[a].start
            end = segment.end if b == len(words) else words[b - 1].end
            out.append(segment.model_copy(update={"start": round(start, 3), "end": round(max(end, start), 3),
                                                  "text": texts[piece], "speaker": speakers[a], "words": labelled[a:b]}))
    return out
