"""Audio in: any audio or video file decoded to 16 kHz mono float32, checked whole, cut in blocks.

Decoding is streamed (PyAV): memory holds one chunk of a second, never the recording, and
`audio_blocks` regroups the chunks into blocks of a few minutes cut in a quiet moment. A file cut
short or damaged is an InputError that says so, found by `check_audio` before the long work.
`levelled` lifts quiet passages for the voice-activity detector.
"""

from __future__ import annotations

import ctypes
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import limits
from ..core.errors import InputError
from ..core.typography import timestamp

SAMPLE_RATE = 16_000
SILENT_PEAK = 1e-4  # -80 dBFS: below this everywhere, the file holds no sound (real quiet replays peak near -48)
# Levelling for the voice-activity detector (see `levelled`).
LEVEL_TARGET_RMS = 0.1  # loudness of 100 ms of ordinary speech in a well-recorded replay
LEVEL_MAX_GAIN = 30.0  # +30 dB at most: lifts a voice recorded at -55 dBFS, not the hiss of silence
LEVEL_WINDOW_S = 2.0  # the gain follows the loudest 100 ms within this distance


def _ogg_ending_problem(path: Path) -> str | None:
    """Why an Ogg file looks cut short, or None. FFmpeg decodes a truncated Ogg silently, but a
    complete one ends with a whole page carrying the end-of-stream flag."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, size - 70_000))  # a page is at most 65,307 bytes
        tail = handle.read()
    start = tail.rfind(b"OggS")
    if start < 0 or len(tail) - start < 27:
        return "no complete Ogg page at its end"
    header_type, segment_count = tail[start + 5], tail[start + 26]
    lacing = tail[start + 27:start + 27 + segment_count]
    page_end = start + 27 + segment_count + sum(lacing)
    if len(lacing) < segment_count or page_end > len(tail):
        return "its last Ogg page is cut off"
    if not header_type & 0x04:
        return "it has no end-of-stream mark"
    return None


def _open_media(path: Path):
    """The PyAV container of a replay and its audio stream, or an InputError saying what is wrong."""
    import av

    if not path.is_file():
        raise InputError(f"{path}: file not found. Check the path.")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty (0 bytes). Copy or export the recording again.")
    not_media = InputError(
        f"{path.name}: not an audio or video file, or a damaged one (no decoder can read it). Check "
        "that it is the replay, or convert it to .mp3, .m4a, .ogg, .wav or .mp4."
    )
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise not_media from None
    if not container.streams.audio:
        is_video = bool(container.streams.video)
        container.close()
        if is_video:
            raise InputError(f"{path.name}: the video has no audio track. Export the replay with its sound.")
        raise not_media
    return container, container.streams.audio[0]


def decode_audio(path: Path) -> Generator[np.ndarray, None, int]:
    """The sound of any audio or video file as 16 kHz mono float32 chunks, decoded as they are
    read: memory holds one chunk, never the recording (four hours would be 0.9 GB). Returns the
    number of damaged packets skipped.

    A file that is cut short or damaged raises InputError after its last chunk; `check_audio`
    runs this once before the long work so that the error comes first.
    """
    import av

    path = Path(path)
    container, stream = _open_media(path)
    declared_s = container.duration / 1_000_000 if container.duration else None
    if declared_s is not None and declared_s > limits.MAX_SESSION_SECONDS:
        container.close()
        limits.check_session_duration(path.name, declared_s, f"the recording lasts {timestamp(declared_s)}")
    # Frames of one second: per-frame overhead would otherwise dominate (an MP3 frame is 72 ms).
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE, frame_size=SAMPLE_RATE)
    decoded, bad_packets = 0, 0
    with container:
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    bad_packets += 1  # an isolated damaged packet is skipped, as players do
                    continue
                for frame in frames:
                    for resampled in resampler.resample(frame):
                        samples = resampled.to_ndarray().reshape(-1)
                        decoded += len(samples)
                        yield samples
            for resampled in resampler.resample(None):
                samples = resampled.to_ndarray().reshape(-1)
                decoded += len(samples)
                yield samples
        except av.error.FFmpegError as exc:
            raise InputError(f"{path.name}: the file is truncated or corrupt ({exc}). "
                             "Download or export the recording again.") from None
    decoded_s = decoded / SAMPLE_RATE
    problem: str | None
    if decoded == 0:
        problem = "no sound could be decoded"
    elif bad_packets > 10:
        problem = f"{bad_packets} damaged packets"
    elif declared_s and decoded_s < declared_s * 0.98 - 0.5:
        problem = f"the sound stops at {decoded_s:.1f} s of {declared_s:.1f} s"
    else:
        problem = _ending_problem(path)
    if problem:
        raise InputError(f"{path.name}: the file is truncated or corrupt ({problem}). "
                         "Download or export the recording again.")
    return bad_packets


@dataclass(frozen=True)
class AudioCheck:
    samples: int  # at 16 kHz
    peak: float  # loudest absolute sample
    damaged_packets: int = 0  # skipped, as players do: a few milliseconds of sound each

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


def check_audio(path: Path) -> AudioCheck:
    """Decode the whole file once, keeping nothing: its exact length and loudest sample, or the
    InputError that would otherwise come at the end of a long transcription (a recording longer
    than limits.MAX_SESSION_SECONDS included). Decoding is cheap next to Whisper: an hour of Ogg
    Vorbis takes about 11 s on 2 cores."""
    samples, peak = 0, 0.0
    chunks = decode_audio(path)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration as end:
            return AudioCheck(samples, peak, damaged_packets=end.value)
        samples += len(chunk)
        if samples > limits.MAX_SESSION_SECONDS * SAMPLE_RATE:  # a file that declares no duration
            chunks.close()
            limits.check_session_duration(path.name, samples / SAMPLE_RATE,
                                          f"the recording lasts more than {timestamp(samples / SAMPLE_RATE)}")
        if len(chunk):
            peak = max(peak, float(np.abs(chunk).max()))


def load_audio(path: Path, *, max_s: float | None = None) -> np.ndarray:
    """The file's sound as one 16 kHz mono float32 array (only its first max_s seconds if given):
    for short clips. Long replays go through `audio_blocks`, which never holds them whole."""
    chunks, length = [], 0
    for chunk in decode_audio(path):
        chunks.append(chunk)
        length += len(chunk)
        if max_s is not None and length >= max_s * SAMPLE_RATE:
            break  # closes the decoder: the rest of the file is not read
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return audio if max_s is None else audio[: int(max_s * SAMPLE_RATE)]


def _quiet_cut(audio: np.ndarray, target: int, search: int) -> int:
    """Index of the middle of the quietest 100 ms in audio[target - search:target]."""
    frame = SAMPLE_RATE // 10
    window = audio[target - search:target]
    energy = np.square(window[: len(window) // frame * frame].reshape(-1, frame)).mean(axis=1)
    return target - search + int(np.argmin(energy)) * frame + frame // 2


def audio_blocks(chunks: Iterable[np.ndarray], block_s: float, start: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """Regroup decoded chunks into blocks of about block_s seconds, each cut at the quietest
    100 ms of the 5 s (at most half a block) before its target length, so that no word is split
    between blocks. A block is cut only when a quarter of a block is left after it, so the last
    one is never a short remainder that Whisper would hear as a batch of its own. Yields (index
    of the block's first sample, block); the samples before `start` are skipped. Memory holds
    at most one block and a quarter."""
    frame = SAMPLE_RATE // 10
    block = max(int(block_s * SAMPLE_RATE), 2 * frame)
    search = max(frame, min(5 * SAMPLE_RATE, block // 2) // frame * frame)
    held = max(search, block // 4)
    pending: list[np.ndarray] = []
    pending_samples, position, begin = 0, 0, start
    for chunk in chunks:
        if position + len(chunk) <= start:
            position += len(chunk)
            continue
        if position < start:
            chunk, position = chunk[start - position:], start
        pending.append(chunk)
        pending_samples += len(chunk)
        position += len(chunk)
        while pending_samples > block + held:
            audio = np.concatenate(pending)
            cut = _quiet_cut(audio, block, search)
            yield begin, audio[:cut]
            begin += cut
            pending, pending_samples = [audio[cut:]], len(audio) - cut
    if pending_samples:
        yield begin, np.concatenate(pending)


def _wav_ending_problem(path: Path) -> str | None:
    """Why a WAV file looks cut short, or None: its header says how long the sound is."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(12)
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return "it has no sound data"
            chunk_id, chunk_size = header[:4], int.from_bytes(header[4:], "little")
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF mean "unknown length" (a recording that was streamed).
                if chunk_size not in (0, 0xFFFFFFFF) and handle.tell() + chunk_size > size:
                    return f"{size - handle.tell()} of {chunk_size} bytes of sound"
                return None
            handle.seek(chunk_size + chunk_size % 2, 1)


def _ending_problem(path: Path) -> str | None:
    """Formats whose truncation FFmpeg does not report: check their ending ourselves."""
    with open(path, "rb") as handle:
        magic = handle.read(12)
    if magic[:4] == b"OggS":
        return _ogg_ending_problem(path)
    if magic[:4] == b"RIFF" and magic[8:12] == b"WAVE":
        return _wav_ending_problem(path)
    return None


def levelled(audio: np.ndarray) -> np.ndarray:
    """The audio with quiet passages brought up to the loudness of ordinary speech, for the
    voice-activity detector only (Whisper hears the original).

    Silero's detector keeps a state across the recording: after minutes of loud speech it
    missed a whole quiet clip (peak -54 dBFS) that it finds when the clip is heard alone. The
    gain follows the loudest 100 ms within 2 s on each side, never attenuates, and stops at
    +30 dB, so silence stays silence and speech keeps its envelope.
    """
    frame = SAMPLE_RATE // 10
    frames = len(audio) // frame
    if frames == 0:
        return audio
    rms = np.sqrt(np.square(audio[: frames * frame].reshape(-1, frame), dtype=np.float64).mean(axis=1))
    reach = int(LEVEL_WINDOW_S * 10)
    padded = np.pad(rms, (reach, reach), mode="edge")
    envelope = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1)
    gain = np.clip(LEVEL_TARGET_RMS / np.maximum(envelope, 1e-9), 1.0, LEVEL_MAX_GAIN).astype(np.float32)
    if np.all(gain == 1.0):
        return audio
    per_sample = np.repeat(gain, frame)
    per_sample = np.pad(per_sample, (0, len(audio) - len(per_sample)), mode="edge")
    return audio * per_sample


def release_free_memory() -> None:
    """Hand the memory freed by the last block back to the system (glibc only; elsewhere a no-op).

    Each block briefly needs hundreds of MB (the voice-activity model runs on the whole block at
    once); glibc keeps much of it after it is freed, and what it kept crept up block after
    block. Trimming after each block brings the process back to the size of the loaded model.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
