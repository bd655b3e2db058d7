"""CMU-MOSEI as a six-emotion multi-label task, read from the files TAILOR and CARAT use (kniter1/TAILOR
d61121ba, chengzju/CARAT 3210086a) and MulT's unaligned pickle (yaohungt/Multimodal-Transformer).

Also holds the helpers for CARAT-style label tokens (`[2, e1, e2, ..., 3]` with ids named in `dict['tgt']`), which
the M3ED reader reuses for CARAT's derived `m3ed_data_60.pt`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules import safe_pickle
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.errors import DatasetFormatError, require_files
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.validate import nonfinite_features, whole_number, whole_numbers

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
ALIGNED_FILE = "train_valid_test.pt"
UNALIGNED_FILE = "mosei_senti_data_noalign.pkl"
LABELS = ("happy", "sad", "anger", "surprise", "disgust", "fear")
DIMS = {"text": 300, "audio": 74, "visual": 35}
ALIGNED_STEPS = {"text": 60, "audio": 60, "visual": 60}
UNALIGNED_STEPS = {"text": 50, "audio": 500, "visual": 500}
ALIGNED_KEYS = {"text": "src-text", "audio": "src-audio", "visual": "src-visual"}
UNALIGNED_KEYS = {"text": "text", "audio": "audio", "visual": "vision"}
SPECIAL_TOKENS = ("<blank>", "<unk>", "<s>", "</s>", "<pad>")
_SYNONYMS = {"happy": "happy", "happiness": "happy", "joy": "happy", "sad": "sad", "sadness": "sad",
             "anger": "anger", "angry": "anger", "surprise": "surprise", "surprised": "surprise",
             "disgust": "disgust", "disgusted": "disgust", "fear": "fear", "fearful": "fear", "afraid": "fear"}
_OBTAIN = ("train_valid_test.pt from the Google Drive link in the TAILOR README, github.com/kniter1/TAILOR; "
           "mosei_senti_data_noalign.pkl from the MulT processed-data folder cmu-mosei/seq_length_50/")
_DOCS = "emobench.datamodules.mosei.MoseiDataModule"


# ---- shared helpers (also used by datamodules.m3ed) ---------------------------------------------------------------
def fail(path: Path, what: str, fix: str = "Make sure the file is the original, complete download.") -> None:
    """Raise one readable paragraph naming the file and what was found."""
    raise DatasetFormatError(f"{path}: {what}. {fix}")


def require_keys(path: Path, container: Any, keys: Sequence[str], where: str) -> None:
    """`container` must be a dict holding every key in `keys`."""
    if not isinstance(container, Mapping):
        fail(path, f"{where} is a {type(container).__name__}, expected a dict with keys {list(keys)}")
    missing = [k for k in keys if k not in container]
    if missing:
        fail(path, f"{where} has no key(s) {missing} (found keys: {sorted(map(str, container))}); expected "
                   f"{list(keys)}")


def fill_sequences(path: Path, out: np.ndarray, start: int, items: Any, where: str, expected: int) -> None:
    """Copy `items` (a (n, T, D) array or a sequence of (T, D) arrays / tensors) into `out[start:start+n]` as
    float32, checking that n == `expected` (the number of label rows) and every item's shape."""
    steps, dim = out.shape[1:]
    try:
        n = len(items)
    except TypeError:
        fail(path, f"{where} is a {type(items).__name__}, expected a list of ({steps}, {dim}) arrays")
    if n != expected:
        fail(path, f"{where} has {n} samples but its split has {expected} label rows")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, which the finite check reports
        if isinstance(items, np.ndarray) and items.dtype != object:
            if items.ndim != 3 or items.shape[1:] != (steps, dim):
                fail(path, f"{where} has shape {items.shape}, expected (N, {steps}, {dim})")
            out[start:start + n] = items
            return
        for i, item in enumerate(items):
            shape = np.shape(item)
            if shape != (steps, dim):
                counts = Counter(np.shape(x) for x in items).most_common(3)
                fail(path, f"{where}[{i}] has shape {shape}, expected ({steps}, {dim}) (item shapes found: "
                           f"{counts})")
            out[start + i] = np.asarray(item, dtype=np.float32)


def zero_negative_infinity(x: np.ndarray, where: str) -> int:
    """Replace -inf by 0 in place (COVAREP audio, as the official loaders do) and log how many were replaced."""
    count = 0
    for block in x:  # one sample at a time: no full-size mask
        bad = np.isneginf(block)
        count += int(bad.sum())
        block[bad] = 0.0
    if count:
        log.info("%s: replaced %d -inf values by 0 (COVAREP audio, as TAILOR/CARAT/MulT do)", where, count)
    return count


def emotion_columns(path: Path, vocab: Any, labels: Sequence[str], synonyms: Mapping[str, str]) -> dict[int, int]:
    """Token id -> target column, from the file's own `dict['tgt']` ({name: id}); names are matched to `labels`
    case-insensitively (with `synonyms`), so the target columns follow `labels` whatever ids the file uses."""
    if not isinstance(vocab, Mapping) or not vocab:
        fail(path, f"dict['tgt'] is {type(vocab).__name__} {vocab!r:.80}, expected the label vocabulary "
                   "{'<blank>': 0, '<unk>': 1, '<s>': 2, '</s>': 3, <emotion>: 4, ...}")
    columns: dict[int, int] = {}
    unknown = []
    for name, token in vocab.items():
        key = str(name).strip().lower()
        if key in SPECIAL_TOKENS:
            continue
        label = synonyms.get(key)
        if label is None:
            unknown.append(name)
            continue
        columns[whole_number(path, token, f"dict['tgt'][{name!r}]")] = labels.index(label)
    if unknown or sorted(columns.values()) != list(range(len(labels))):
        fail(path, f"dict['tgt'] = {dict(vocab)} does not name each of the emotions {list(labels)} exactly once "
                   f"(unknown names: {unknown})", "Make sure the file is the one this reader expects.")
    return columns


def multi_hot(path: Path, token_lists: Any, columns: Mapping[int, int], vocab: Mapping[str, Any],
              num_labels: int, where: str) -> np.ndarray:
    """Targets from label-token lists `[<s>, e1, e2, ..., </s>]`: the delimiters (and other special tokens) are
    dropped and `y[column(token)] = 1`; `[<s>, </s>]` gives an all-zero row."""
    specials = {whole_number(path, v, f"dict['tgt'][{k!r}]") for k, v in vocab.items()
                if str(k).strip().lower() in SPECIAL_TOKENS}
    specials |= {2, 3} - set(columns)  # CARAT's delimiters, also where the vocabulary does not list them
    try:
        n = len(token_lists)
    except TypeError:
        fail(path, f"{where} is a {type(token_lists).__name__}, expected a list of token lists")
    y = np.zeros((n, num_labels), dtype=np.float32)
    for i, tokens in enumerate(token_lists):
        for token in whole_numbers(path, tokens, f"{where}[{i}]").tolist():
            if token in specials:
                continue
            if token not in columns:
                fail(path, f"{where}[{i}] = {np.asarray(tokens).tolist()} holds token {token}, which is neither a "
                           f"delimiter nor an emotion id of dict['tgt'] ({sorted(columns)})")
            y[i, columns[token]] = 1.0
    return y


def as_text(value: Any) -> str:
    """A str from a str / bytes (UTF-8, else latin1) / numpy scalar / sequence of fields (joined by '_')."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin1")
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0):
        return "_".join(as_text(v) for v in value)
    if isinstance(value, np.ndarray):
        return as_text(value.item())
    return str(value)


# ---- the datamodule -----------------------------------------------------------------------------------------------
class MoseiDataModule(EmotionDataModule, name="mosei"):
    """CMU-MOSEI, six-emotion multi-label recognition, in the files of TAILOR and CARAT.

    Dataset: CMU Multimodal Opinion Sentiment and Emotion Intensity; A. Zadeh, P. P. Liang, S. Poria, E. Cambria,
    L.-P. Morency, "Multimodal Language Analysis in the Wild: CMU-MOSEI Dataset and Interpretable Dynamic Fusion
    Graph", ACL 2018. Multi-label protocol and files: Y. Zhang, M. Chen, J. Shen, C. Wang, "Tailor Versatile
    Multi-modal Learning for Multi-label Emotion Recognition" (TAILOR), AAAI 2022, https://github.com/kniter1/TAILOR;
    C. Peng, K. Chen, L. Shou, G. Chen, "CARAT: Contrastive Feature Reconstruction and Aggregation for Multi-modal
    Multi-label Emotion Recognition", AAAI 2024, https://github.com/chengzju/CARAT.

    How to obtain (licence): CMU-MOSEI is distributed by CMU MultiComp through the CMU Multimodal SDK for research
    use; the files below are third-party redistributions of its derived features, not to be committed anywhere.
    Cite Zadeh et al. 2018 and the paper whose protocol you follow.

    - aligned (default): ``train_valid_test.pt`` from the Google Drive link in the TAILOR and CARAT READMEs
      (https://drive.google.com/file/d/1A7HTBxle5AOFt66mqNIRDM3DOws_tNXH/view).
    - unaligned (``aligned=False``): additionally ``mosei_senti_data_noalign.pkl``, the MulT pickle (Tsai et al.,
      ACL 2019), from http://immortal.multicomp.cs.cmu.edu/raw_datasets/processed_data/cmu-mosei/seq_length_50/
      (TAILOR README) or CARAT's Baidu link (key ``wy4s``). Only its features are used; its labels are sentiment.

    Point ``root`` at the folder holding them::

        root/
        ├── train_valid_test.pt            # always (features when aligned, and the emotion labels)
        └── mosei_senti_data_noalign.pkl   # only for aligned=False

    Signals: GloVe text 300, COVAREP audio 74, Facet visual 35 per step; aligned: 60 word-aligned steps each;
    unaligned: text 50, audio 500, visual 500 steps. COVAREP audio holds -inf in the official files, which the
    official loaders (TAILOR, CARAT, MulT) set to 0; so does this reader, for audio -inf only (count logged at INFO).
    Any other NaN, inf or |x| > 1e18 is an error naming the file, split and modality, unless ``nonfinite="zero"``
    (then replaced by 0 with a warning; see ``EmotionDataModule``). Masks are all ones: neither file stores sequence lengths or padding, and zero steps are not guessed to be
    padding.

    Labels: multi-hot over (happy, sad, anger, surprise, disgust, fear), the CMU-SDK order. A sample's target is
    read from its token list ``[2, e1, ..., 3]``: delimiters dropped, ``y[column(e)] = 1``; ``[2, 3]`` gives an
    all-zero row. Which emotion each token id denotes is read from the file's own ``dict['tgt']`` (ids 4..9 ->
    names), never assumed, and the columns are put in the order above, so a column means the same emotion
    whatever numbering the file uses.

    Protocol: the standard train / valid / test split of the file (16,326 / 1,871 / 4,659), protocol
    ``"official"``. Unaligned features are paired with the ``.pt`` labels by position, as TAILOR/CARAT do; the
    reader refuses the pairing when split sizes (or ids, where both files have them) differ.

    Args:
        aligned: read the 60-step aligned features of the ``.pt`` (True) or the MulT unaligned pickle (False).
        **kwargs: EmotionDataModule options (root, batch_size, cache_dir, ...).
    """

    default_protocol = "official"
    default_normalize = False  # raw features, as the official TAILOR / CARAT / MulT loaders feed them

    def __init__(self, aligned: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aligned = aligned

    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        steps = ALIGNED_STEPS if self.aligned else UNALIGNED_STEPS
        specs = tuple(ModalitySpec(m, DIMS[m], steps[m], m) for m in ("text", "audio", "visual"))
        return TaskSpec("multilabel", LABELS), specs

    def source_files(self) -> list[Path]:
        names = [ALIGNED_FILE] if self.aligned else [ALIGNED_FILE, UNALIGNED_FILE]
        return require_files(self.root, names, "mosei", _OBTAIN, _DOCS)

    def read(self) -> DatasetArrays:
        files = self.source_files()
        pt_path = files[0]
        data = safe_pickle.load(pt_path)
        require_keys(pt_path, data, [*SPLITS, "dict"], "the top-level dict")
        require_keys(pt_path, data["dict"], ["tgt"], "dict")
        vocab = data["dict"]["tgt"]
        columns = emotion_columns(pt_path, vocab, LABELS, _SYNONYMS)
        for split in SPLITS:
            require_keys(pt_path, data[split], ["tgt", *(ALIGNED_KEYS.values() if self.aligned else [])],
                         f"split {split!r}")
        targets = [multi_hot(pt_path, data[s]["tgt"], columns, vocab, len(LABELS), f"{s}/tgt") for s in SPLITS]
        sizes = [len(t) for t in targets]
        generated = np.array([f"{s}-{i:05d}" for s, n in zip(SPLITS, sizes, strict=True) for i in range(n)])
        sample_ids, groups = generated, None
        if self.aligned:
            features, path, keys, steps = data, pt_path, ALIGNED_KEYS, ALIGNED_STEPS
            if all("id" in data[s] for s in SPLITS):  # the released file has no ids; use them where present
                sample_ids = np.array([as_text(v) for s in SPLITS for v in data[s]["id"]])
        else:
            path, keys, steps = files[1], UNALIGNED_KEYS, UNALIGNED_STEPS
            features = safe_pickle.load(path)
            require_keys(path, features, SPLITS, "the top-level dict")
            for split in SPLITS:
                require_keys(path, features[split], list(keys.values()), f"split {split!r}")
            paired = self._check_pairing(path, pt_path, features, data, sizes)
            if paired is not None:  # MulT ids: sample id, and the video id as the group
                sample_ids, videos = paired
                groups = np.unique(videos, return_inverse=True)[1].astype(np.int64)
        if len(sample_ids) != sum(sizes):
            fail(pt_path, f"the splits list {len(sample_ids)} ids for {sum(sizes)} samples")
        total = sum(sizes)
        split_rows = np.repeat(np.array(SPLITS), sizes)
        inputs, masks = {}, {}
        for modality, key in keys.items():
            x = np.empty((total, steps[modality], DIMS[modality]), dtype=np.float32)
            start = 0
            for split, size in zip(SPLITS, sizes, strict=True):
                fill_sequences(path, x, start, features[split][key], f"{split}/{key}", size)
                start += size
            if modality == "audio":
                zero_negative_infinity(x, f"mosei audio ({path.name})")
            inputs[modality] = nonfinite_features(x, policy=self.nonfinite, source=str(path), modality=modality,
                                                  row_splits=split_rows)

            masks[modality] = np.ones(x.shape[:2], dtype=bool)
        return DatasetArrays(inputs, masks, np.concatenate(targets), groups, split_rows, sample_ids)

    @staticmethod
    def _check_pairing(pkl: Path, pt: Path, features: Mapping[str, Any], labels: Mapping[str, Any],
                       sizes: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Refuse to pair unaligned features with aligned labels by position when split sizes or ids differ.
        Returns (sample ids, video ids) from the MulT `id` field when it exists."""
        feature_sizes = [len(features[s][UNALIGNED_KEYS["text"]]) for s in SPLITS]
        if feature_sizes != sizes:
            raise DatasetFormatError(
                f"{pkl} and {pt} disagree on the split sizes (train, valid, test): unaligned features "
                f"{feature_sizes}, aligned labels {sizes}. The unaligned features are paired with the aligned "
                "labels by position (as in TAILOR/CARAT), so this pairing would attach labels to the wrong "
                "samples. Make sure both files come from the releases named in the MoseiDataModule docstring.")
        if not all("id" in features[s] for s in SPLITS):
            return None
        rows = [row for s in SPLITS for row in features[s]["id"]]
        sample_ids = np.array([as_text(r) for r in rows])
        video_ids = np.array([as_text(r[0]) if np.ndim(r) > 0 else as_text(r) for r in rows])
        if all("id" in labels[s] for s in SPLITS):
            label_ids = np.array([as_text(v) for s in SPLITS for v in labels[s]["id"]])
            if len(label_ids) != len(sample_ids) or not np.array_equal(label_ids, sample_ids):
                bad = int(np.flatnonzero(label_ids != sample_ids)[0]) if len(label_ids) == len(sample_ids) else 0
                raise DatasetFormatError(
                    f"{pkl} and {pt} list different sample ids (first difference at row {bad}: "
                    f"{sample_ids[bad]!r} vs {label_ids[bad]!r}). Pairing the unaligned features with the aligned "
                    "labels by position would attach labels to the wrong samples. Make sure both files come from "
                    "the releases named in the MoseiDataModule docstring.")
        return sample_ids, video_ids
