"""IEMOCAP read from the shared feature pickles (through the restricted unpickler of `datamodules.safe_pickle`):

- MulT's ``iemocap_data.pkl`` (word-aligned) / ``iemocap_data_noalign.pkl`` (Tsai et al., ACL 2019,
  yaohungt/Multimodal-Transformer `src/dataset.py`, `src/eval_metrics.py`): a dict of 'train' / 'valid' / 'test',
  each with 'text' (N, T, 300) GloVe, 'audio' (N, T, 74) COVAREP, 'vision' (N, T, 35) Facet, 'labels' (N, 4, 2)
  (emotions Neutral, Happy, Sad, Angry, each one-hot over (absent, present)) and optionally 'id'. MulT reads a
  label as argmax over the last axis; a row is kept here when exactly one emotion is present, and the others are
  dropped with a logged count. COVAREP audio -inf is set to 0, as MulT's loader does.
- DialogueRNN's ``IEMOCAP_features.pkl`` (Majumder et al., AAAI 2019, declare-lab/conv-emotion; also COGMEN's
  input): a Python-2 pickle of 9 items (videoIDs, videoSpeakers, videoLabels, videoText (L, 100),
  videoAudio (L, 100), videoVisual (L, 512), videoSentence, trainVid, testVid), dicts from dialogue id to
  per-utterance values, labels {hap 0, sad 1, neu 2, ang 3, exc 4, fru 5}. Utterances are flattened (one sample,
  one step each); the session is read from the dialogue id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules import safe_pickle
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.iemocap_release import select, session_of, speakers_of
from emobench.datamodules.mosei import SPLITS, as_text, fail, require_keys, zero_negative_infinity
from emobench.datamodules.validate import nonfinite_features, whole_numbers

log = logging.getLogger(__name__)

MULT_KEYS = {"text": "text", "audio": "audio", "visual": "vision"}
MULT_DIMS = {"text": 300, "audio": 74, "visual": 35}
MULT_COLUMNS = ("neu", "hap", "sad", "ang")  # the label block's emotion order (MulT eval_metrics)
DIALOGUERNN_ITEMS = ("videoIDs", "videoSpeakers", "videoLabels", "videoText", "videoAudio", "videoVisual",
                     "videoSentence", "trainVid", "testVid")
DIALOGUERNN_CODES = ("hap", "sad", "neu", "ang", "exc", "fru")
DIALOGUERNN_DIMS = {"text": 100, "audio": 100, "visual": 512}


def _mult_codes(path: Path, labels: Any, split: str) -> list[str | None]:
    """The code of each row of a (N, 4, 2) label block, None where not exactly one emotion is present."""
    block = np.asarray(labels)
    if block.ndim != 3 or block.shape[1:] != (4, 2):
        fail(path, f"{split}/labels has shape {block.shape}, expected (N, 4, 2): four emotions (Neutral, Happy, "
                   "Sad, Angry), each one-hot over (absent, present)")
    present = block.argmax(axis=-1) == 1
    return [MULT_COLUMNS[int(row.argmax())] if row.sum() == 1 else None for row in present]


def read_mult(path: Path, classes: dict[str, int], steps: dict[str, int], nonfinite: str) -> DatasetArrays:
    """MulT's pickle: its own train / valid / test split; features truncated / zero-padded to `steps`."""
    data = safe_pickle.load(path)
    require_keys(path, data, SPLITS, "the top-level dict")
    rows: dict[str, np.ndarray] = {}
    codes: list[str] = []
    for split in SPLITS:
        require_keys(path, data[split], [*MULT_KEYS.values(), "labels"], f"split {split!r}")
        split_codes = _mult_codes(path, data[split]["labels"], split)
        rows[split] = np.flatnonzero([c is not None for c in split_codes])
        if len(rows[split]) < len(split_codes):
            log.info("iemocap: %s %s: dropped %d of %d rows without exactly one present emotion", path.name, split,
                     len(split_codes) - len(rows[split]), len(split_codes))
        codes += [split_codes[i] for i in rows[split]]
    n = len(codes)
    split_of_row = np.repeat(np.array(SPLITS), [len(rows[s]) for s in SPLITS])
    inputs, masks = {}, {}
    for modality, key in MULT_KEYS.items():
        x = np.zeros((n, steps[modality], MULT_DIMS[modality]), np.float32)
        mask = np.zeros((n, steps[modality]), dtype=bool)  # the file's steps are real (no lengths are stored)
        start = 0
        for split in SPLITS:
            with np.errstate(over="ignore"):
                source = np.asarray(data[split][key], dtype=np.float32)
            labelled = len(data[split]["labels"])
            if source.ndim != 3 or source.shape[0] != labelled or source.shape[2] != MULT_DIMS[modality]:
                fail(path, f"{split}/{key} has shape {source.shape}, expected ({labelled}, T, "
                           f"{MULT_DIMS[modality]}) (one row per label row)")
            kept = source[rows[split], :steps[modality]]
            x[start:start + len(kept), :kept.shape[1]] = kept
            mask[start:start + len(kept), :kept.shape[1]] = True
            start += len(kept)
        if modality == "audio":
            zero_negative_infinity(x, f"iemocap audio ({path.name})")
        inputs[modality] = nonfinite_features(x, policy=nonfinite, source=str(path), modality=modality,
                                              row_splits=split_of_row)
        masks[modality] = mask
    ids = _mult_ids(data, rows)
    sessions = None
    if speakers_of(ids) is not None:  # real utterance ids: sessions, so loso works too
        sessions = np.array([session_of(i) for i in ids], dtype=np.int64)
    target = np.array([classes[c] for c in codes], dtype=np.int64)
    return DatasetArrays(inputs, masks, target, sessions, split_of_row, np.array(ids))


def _mult_ids(data: Mapping[str, Any], rows: Mapping[str, np.ndarray]) -> list[str]:
    ids = []
    for split in SPLITS:
        given = data[split].get("id")
        if given is not None and len(given) == len(data[split]["labels"]):
            ids += [as_text(given[i]) for i in rows[split]]
        else:
            ids += [f"{split}-{i:05d}" for i in rows[split]]
    return ids


def read_dialoguernn(path: Path, classes: dict[str, int], nonfinite: str) -> DatasetArrays:
    """DialogueRNN's 9-item pickle, flattened to utterances; groups = sessions from the dialogue ids."""
    data = safe_pickle.load(path)
    if not isinstance(data, (list, tuple)) or len(data) != len(DIALOGUERNN_ITEMS):
        size = len(data) if isinstance(data, (list, tuple, Mapping)) else "?"
        fail(path, f"the top level is a {type(data).__name__} of {size} items, expected DialogueRNN's 9-item tuple "
                   f"{list(DIALOGUERNN_ITEMS)} (files that add items, e.g. RoBERTa features, are not read)")
    for index in range(6):
        if not isinstance(data[index], Mapping):
            fail(path, f"item {index} ({DIALOGUERNN_ITEMS[index]}) is a {type(data[index]).__name__}, expected a "
                       "dict dialogue id -> per-utterance values")
    dialogues = []
    for index in (7, 8):
        listed = data[index]
        if isinstance(listed, (str, bytes, Mapping)) or not hasattr(listed, "__iter__"):
            fail(path, f"item {index} ({DIALOGUERNN_ITEMS[index]}) is a {type(listed).__name__}, expected a list "
                       "of dialogue ids")
        names = [as_text(d) for d in listed]
        dialogues += sorted(names) if isinstance(listed, (set, frozenset)) else names
    if len(set(dialogues)) != len(dialogues):
        fail(path, "a dialogue is listed twice in trainVid / testVid")
    ids, codes, owners, features = [], [], [], {m: [] for m in DIALOGUERNN_DIMS}
    for dialogue in dialogues:
        try:
            session_of(dialogue)
        except ValueError:
            fail(path, f"dialogue id {dialogue!r} does not start with Ses0<session> (IEMOCAP's naming), so its "
                       "session is unknown")
        for index in range(6):
            if dialogue not in data[index]:
                fail(path, f"dialogue {dialogue!r} has no entry in item {index} ({DIALOGUERNN_ITEMS[index]})")
        labels = whole_numbers(path, data[2][dialogue], f"videoLabels[{dialogue!r}]")
        if labels.size and (labels.min() < 0 or labels.max() >= len(DIALOGUERNN_CODES)):
            fail(path, f"videoLabels[{dialogue!r}] holds {sorted(set(labels.tolist()))}, expected 0..5 "
                       f"({', '.join(f'{c} {i}' for i, c in enumerate(DIALOGUERNN_CODES))})")
        n = len(labels)
        for modality, index in (("text", 3), ("audio", 4), ("visual", 5)):
            with np.errstate(over="ignore"):
                x = np.asarray(data[index][dialogue], dtype=np.float32)
            if x.shape != (n, DIALOGUERNN_DIMS[modality]):
                fail(path, f"{DIALOGUERNN_ITEMS[index]}[{dialogue!r}] has shape {x.shape}, expected "
                           f"({n}, {DIALOGUERNN_DIMS[modality]}) (one row per utterance)")
            features[modality].append(x)
        given = data[0][dialogue]
        ids += [as_text(u) for u in given] if len(given) == n else [f"{dialogue}_{k:03d}" for k in range(n)]
        codes += [DIALOGUERNN_CODES[k] for k in labels.tolist()]
        owners += [dialogue] * n
    keep = select(codes, classes, path.name)
    inputs, masks = {}, {}
    for modality, parts in features.items():
        x = np.concatenate(parts)[keep][:, None, :]
        inputs[modality] = nonfinite_features(x, policy=nonfinite, source=str(path), modality=modality)
        masks[modality] = np.ones(x.shape[:2], dtype=bool)
    kept_ids = [i for i, k in zip(ids, keep, strict=True) if k]
    sessions = np.array([session_of(d) for d, k in zip(owners, keep, strict=True) if k], dtype=np.int64)
    target = np.array([classes[c] for c, k in zip(codes, keep, strict=True) if k], dtype=np.int64)
    return DatasetArrays(inputs, masks, target, sessions, None, np.array(kept_ids))

