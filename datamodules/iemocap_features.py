"""IEMOCAP read per utterance: the raw release (log-mel of each utterance wav, a sentence embedding of its
transcript, optional visual frame features) and Foal-Net's lists with precomputed frame features (one ``.npy``
per utterance). Sequences are truncated or zero-padded to the caps, masks mark the real steps.

Foal-Net (ASolitaryMan/Foal-Net 781849f, `dataloader.py`) reads ``<utt_id> <wav path> <label>`` lines from
``session<K>_{train,valid}.scp`` and one ``<visual root>/session0<K>/<name>.npy`` (T, 768) per utterance, K being
the fifth character of the utterance id; it cuts the video to 180 frames and the audio to 6 s before WavLM-large.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emobench.datamodules import extractors
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError
from emobench.datamodules.iemocap_release import (
    CODES,
    select,
    session_of,
    speakers_of,
    transcripts,
    utterances,
)
from emobench.datamodules.validate import nonfinite_features

log = logging.getLogger(__name__)

SPILL_BYTES = 1 << 30  # feature arrays above this size are built in a memory-mapped file, not in RAM


def feature_buffer(shape: tuple[int, ...], spill_dir: Path, limit: int = SPILL_BYTES) -> np.ndarray:
    """Zeroed float32 array of `shape`; above `limit` bytes a memory map of a temporary file in `spill_dir` whose
    name is removed at once (POSIX keeps the data until the map is closed), so that e.g. the Foal-Net layout's
    6.8 GB of WavLM frames need not fit in memory while they are read and cached."""
    if int(np.prod(shape)) * 4 <= limit:
        return np.zeros(shape, np.float32)
    spill_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=spill_dir, prefix="iemocap-", suffix=".npy")
    os.close(handle)
    array = np.lib.format.open_memmap(name, mode="w+", dtype=np.float32, shape=shape)
    try:
        os.unlink(name)
    except OSError:  # Windows cannot remove a mapped file; it stays until the map is closed
        pass
    return array


def frames_path(folder: Path, utterance_id: str) -> Path:
    """``<folder>/session0<K>/<utt_id>.npy``, K = the fifth character of the id (Foal-Net's naming)."""
    return folder / f"session0{utterance_id[4]}" / f"{utterance_id}.npy"


def load_frames(path: Path, dim: int) -> np.ndarray:
    """(T, dim) float32 frames from one `.npy` (never unpickled), T >= 1, or an error naming the file."""
    if not path.is_file():
        raise DatasetNotFoundError(
            f"{path} not found: every utterance needs one (T, {dim}) .npy at <folder>/session0<K>/<utt_id>.npy. "
            "Make sure the feature folder is complete (one file per utterance of the lists).")
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as err:  # ValueError (pickled object array), OSError / EOFError (truncated)
        raise DatasetFormatError(
            f"{path} could not be read as a .npy array ({type(err).__name__}: {err}). The file is probably "
            "truncated or corrupt, or holds pickled objects, which are never loaded. Make sure it is a plain "
            f"float (T, {dim}) array saved with numpy.save.") from err
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != dim or x.shape[0] < 1 or x.dtype.kind not in "fiu":
        found = f"shape {x.shape} dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DatasetFormatError(f"{path} holds {found}, expected a numeric (T, {dim}) array with T >= 1 frames. "
                                 "Make sure the folder holds the features of this modality.")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, which the check reports
        return x.astype(np.float32, copy=False)


def fill_frames(folder: Path, ids: Sequence[str], dim: int, steps: int, modality: str, nonfinite: str,
                spill_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, steps, dim) features and (N, steps) masks from one `.npy` per utterance, truncated / zero-padded."""
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"{folder} (the {modality} features) does not exist. Expected one (T, {dim}) .npy per utterance at "
            f"{folder}/session0<K>/<utt_id>.npy. Make sure the folder name is right (option {modality}_dir).")
    x = feature_buffer((len(ids), steps, dim), spill_dir)
    mask = np.zeros((len(ids), steps), dtype=bool)
    longer = 0
    for row, utterance_id in enumerate(ids):
        path = frames_path(folder, utterance_id)
        frames = load_frames(path, dim)
        longer += len(frames) > steps
        frames = frames[:steps]
        if nonfinite == "error":  # name the file; under "zero" the whole array is cleaned below
            nonfinite_features(frames[None], policy="error", source=str(path), modality=modality)
        x[row, :len(frames)] = frames
        mask[row, :len(frames)] = True
    log.info("iemocap: %s frames of %d utterances read from %s (%d longer than %d steps, cut)", modality,
             len(ids), folder, longer, steps)
    return nonfinite_features(x, policy=nonfinite, source=str(folder), modality=modality), mask


# ---- the raw release -----------------------------------------------------------------------------------------------
def read_release(release: Path, classes: dict[str, int], audio_features: extractors.LogMel | extractors.Waveform,
                 visual: Path | None, visual_steps: int, nonfinite: str, spill_dir: Path) -> DatasetArrays:
    """Audio (`audio_features` of each utterance wav: log-mel or the samples), text (sentence embedding of its transcript) and, when `visual` is
    given, visual frames from `.npy` files, for the utterances whose consensus code `classes` keeps."""
    found = utterances(release)
    kept = [u for u, keep in zip(found, select([u.code for u in found], classes, str(release)), strict=True)
            if keep]
    if not kept:
        raise DatasetFormatError(f"{release}: none of the {len(found)} labelled utterances has a code in "
                                 f"{sorted(classes)}. Make sure the EmoEvaluation files are the originals.")
    missing = [u.wav for u in kept if not u.wav.is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{len(missing)} utterance wav(s) not found, e.g. {missing[0]}. Expected "
            "Session<N>/sentences/wav/<dialog>/<utt_id>.wav for every labelled utterance. Make sure the "
            f"{release.name} folder is complete.")
    log.info("iemocap: reading %d utterance wavs (%s) and embedding their transcripts", len(kept),
             type(audio_features).__name__)
    audio = feature_buffer((len(kept), audio_features.steps, audio_features.dim), spill_dir)
    audio_mask = np.zeros(audio.shape[:2], dtype=bool)
    for row, utterance in enumerate(kept):
        features = audio_features(extractors.read_wav(utterance.wav))
        audio[row, :len(features)] = features
        audio_mask[row, :len(features)] = True
    texts = transcripts(release, [(u.session_folder, u.dialog) for u in kept])
    untranscribed = [u.id for u in kept if u.id not in texts]
    if untranscribed:
        log.warning("iemocap: %d utterance(s) have no transcript line (e.g. %s); their text is empty",
                    len(untranscribed), untranscribed[0])
    text = extractors.embed_sentences([texts.get(u.id, "") for u in kept])[:, None, :]
    inputs = {"audio": audio, "text": text}
    masks = {"audio": audio_mask, "text": np.ones(text.shape[:2], dtype=bool)}
    ids = [u.id for u in kept]
    if visual is not None:
        inputs["visual"], masks["visual"] = fill_frames(visual, ids, 768, visual_steps, "visual", nonfinite,
                                                        spill_dir)
    target = np.array([classes[u.code] for u in kept], dtype=np.int64)
    return DatasetArrays(inputs, masks, target, np.array([u.session for u in kept], dtype=np.int64), None,
                         np.array(ids))


# ---- Foal-Net's lists and frame features ---------------------------------------------------------------------------
def read_scp(paths: Sequence[Path]) -> dict[str, str]:
    """Utterance id -> code from Foal-Net's `<utt_id> <wav path> <label>` lists (an id may be in several)."""
    labels: dict[str, str] = {}
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 3 or fields[-1] not in CODES or speakers_of(fields[:1]) is None:
                raise DatasetFormatError(
                    f"{path}, line {number}: {line.strip()!r} is not '<utterance id> <wav path> <label>' with an "
                    "IEMOCAP id (Ses0N[FM]_..._[FM]NNN) and a label such as hap, neu, sad, ang. Make sure the "
                    "file is a Foal-Net list.")
            utterance_id, code = fields[0], fields[-1]
            if labels.setdefault(utterance_id, code) != code:
                raise DatasetFormatError(f"{path}, line {number}: {utterance_id} is labelled {code!r} here and "
                                         f"{labels[utterance_id]!r} in another list. Make sure the lists agree.")
    return labels


def read_foalnet(lists: Sequence[Path], classes: dict[str, int], audio: Path, visual: Path,
                 steps: dict[str, int], nonfinite: str, spill_dir: Path) -> DatasetArrays:
    """Labels from the lists, audio (T, 1024) and visual (T, 768) frames from `.npy` files."""
    labels = read_scp(lists)
    ids = sorted(labels)
    keep = select([labels[i] for i in ids], classes, ", ".join(p.name for p in lists))
    ids = [i for i, k in zip(ids, keep, strict=True) if k]
    if not ids:
        raise DatasetFormatError(f"{lists[0].parent}: the lists label no utterance as one of {sorted(classes)}. "
                                 "Make sure they are Foal-Net's lists.")
    inputs, masks = {}, {}
    for modality, folder, dim in (("audio", audio, 1024), ("visual", visual, 768)):
        inputs[modality], masks[modality] = fill_frames(folder, ids, dim, steps[modality], modality, nonfinite,
                                                        spill_dir)
    target = np.array([classes[labels[i]] for i in ids], dtype=np.int64)
    return DatasetArrays(inputs, masks, target, np.array([session_of(i) for i in ids], dtype=np.int64), None,
                         np.array(ids))
