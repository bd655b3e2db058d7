"""M3ED read from its official DialogueRNN-style feature pickle (or CARAT's derived `m3ed_data_60.pt`): CARAT's
dialogue-level multi-label task (`m3ed`) and the utterance-level 7-class task (`m3ed-utterance`). Dataset: Zhao et
al., "M3ED: Multi-modal Multi-scene Multi-label Emotional Dialogue Database", ACL 2022,
https://github.com/AIM3-RUC/RUCM3ED; CARAT's reader: chengzju/CARAT 3210086a `utils/m3ed_reader.py`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emobench.datamodules import safe_pickle
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, require_files
from emobench.datamodules.mosei import (
    SPLITS,
    as_text,
    emotion_columns,
    fail,
    fill_sequences,
    multi_hot,
    require_keys,
)
from emobench.datamodules.specs import ModalitySpec, TaskSpec
from emobench.datamodules.validate import nonfinite_features, whole_numbers

log = logging.getLogger(__name__)

LABELS = ("Happy", "Neutral", "Sad", "Disgust", "Anger", "Fear", "Surprise")  # official ids 0..6
TEXT_DIM, VISUAL_DIM, WAV2VEC_DIM, IS10_DIM = 768, 342, 1024, 1582
CARAT_PICKLE = "Asent_wav2vec_zh2chmed2e5last-Vsent_avg_affectdenseface-Lsent_cls_robert_wwm_base_chinese4chmed.pkl"
KNOWN_PICKLES = (  # in order of preference; the first is the one CARAT uses
    CARAT_PICKLE,
    "Asent_wav2vec_zh2chmed2e5last-Vsent_avg_affectdenseface-Lsent_avg_robert_base_wwm_chinese.pkl",
    "Asent_avg_wav2vec_zh-Vsent_avg_affectdenseface-Lsent_avg_robert_base_wwm_chinese.pkl",
    "AIS10_norm-Vsent_avg_affectdenseface-Lsent_cls_robert_wwm_base_chinese4chmed.pkl",
)
CARAT_PT = "m3ed_data_60.pt"
PICKLE_ITEMS = ("videoIDs", "videoSpeakers", "videoLabels", "videoText", "videoAudio", "videoVisual",
                "videoSentence", "trainVid", "valVid", "testVid")
_SYNONYMS = {name.lower(): name for name in LABELS} | {"happiness": "Happy", "sadness": "Sad", "angry": "Anger",
                                                       "surprised": "Surprise", "fearful": "Fear"}
_OBTAIN = ("the 'M3ED Features (same format as DialogueRNN)' pickle from the Baidu link in the README of "
           "github.com/AIM3-RUC/RUCM3ED, or CARAT's m3ed_data_60.pt built by its utils/m3ed_reader.py")


@dataclass
class Dialogue:
    """One dialogue of the feature pickle: per-utterance main labels (0..6) and features."""

    id: str
    split: str
    labels: np.ndarray
    text: np.ndarray
    audio: np.ndarray
    visual: np.ndarray
    utterance_ids: list[str]

    @property
    def series(self) -> str:
        """The TV series: the dialogue id without its last `_<k>` (e.g. `anjia_12` -> `anjia`)."""
        return self.id.rsplit("_", 1)[0]


class _M3edBase(EmotionDataModule):
    """M3ED file handling shared by the dialogue- and utterance-level datamodules (not registered)."""

    default_protocol = "official"
    default_normalize = False  # raw features, as the official TAILOR / CARAT / MulT loaders feed them

    def __init__(self, file: str | None = None, audio_dim: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if audio_dim is not None and audio_dim < 1:
            raise ValueError(f"<audio_dim={audio_dim}> must be a positive feature size (1024 wav2vec, 1582 IS10) "
                             "or None to detect it from the file name.")
        self.file = file
        self.audio_dim = audio_dim

    # ---- which file, which dims (from the options and the folder listing only) -------------------------------
    def _find_file(self) -> Path | None:
        """The feature file: `file` if given, else the preferred official pickle, any `A*-V*-L*.pkl`, or
        CARAT's `.pt`, in that order; None when nothing fits."""
        if self.file:
            path = Path(self.file).expanduser()
            return path if path.is_absolute() or self.root is None else self.root / path
        if self.root is None or not self.root.is_dir():
            return None
        for name in KNOWN_PICKLES:
            if (self.root / name).is_file():
                return self.root / name
        others = sorted(p for p in self.root.glob("A*-V*-L*.pkl") if p.is_file())
        if len(others) > 1:
            raise DatasetNotFoundError(
                f"{self.dataset_name}: several feature pickles in {self.root} ({', '.join(p.name for p in others)})"
                ". Make sure to pass file=<name> to choose one.")
        if others:
            return others[0]
        return self.root / CARAT_PT if (self.root / CARAT_PT).is_file() else None

    def _declared_audio_dim(self) -> int:
        """`audio_dim`, or detected from the file name: OpenSMILE IS10 files (`AIS10...`) 1582, else wav2vec 1024."""
        if self.audio_dim is not None:
            return self.audio_dim
        try:
            path = self._find_file()
        except DatasetNotFoundError:
            path = None
        return IS10_DIM if path is not None and "IS10" in path.name.upper() else WAV2VEC_DIM

    def _modality_specs(self, seq_len: int) -> tuple[ModalitySpec, ...]:
        return (ModalitySpec("text", TEXT_DIM, seq_len, "text"),
                ModalitySpec("audio", self._declared_audio_dim(), seq_len, "audio"),
                ModalitySpec("visual", VISUAL_DIM, seq_len, "visual"))

    def source_files(self) -> list[Path]:
        docs = f"emobench.datamodules.m3ed.{type(self).__name__}"
        expected = (f"{CARAT_PICKLE} (or another official A<audio>-V<visual>-L<text>.pkl feature pickle, or "
                    f"CARAT's {CARAT_PT})")
        if not (self.file and Path(self.file).expanduser().is_absolute()):
            require_files(self.root, [], self.dataset_name, _OBTAIN, docs, expected)
        path = self._find_file()
        if path is None or not path.is_file():
            where = path if path is not None else self.root
            present = sorted(p.name for p in self.root.iterdir()) if self.root and self.root.is_dir() else []
            raise DatasetNotFoundError(
                f"{self.dataset_name}: no M3ED feature file at {where} (the folder holds: "
                f"{', '.join(present[:12]) or 'nothing'}). Expected {expected}: {_OBTAIN}. Pass file=<name> to pick "
                f"one. The folder tree and licence are in the docstring of {docs}.")
        return [path]

    # ---- the official feature pickle -------------------------------------------------------------------------
    def _read_dialogues(self, path: Path, data: Any) -> list[Dialogue]:
        """Dialogues of the official feature pickle `data` (loaded from `path`), features checked under
        `nonfinite` once per utterance."""
        if not isinstance(data, (list, tuple)) or len(data) != len(PICKLE_ITEMS):
            size = len(data) if isinstance(data, (list, tuple, Mapping)) else "?"
            fail(path, f"the top level is a {type(data).__name__} of {size} items, expected the 10-item "
                       f"DialogueRNN-style list {list(PICKLE_ITEMS)}")
        for index in (0, 2, 3, 4, 5):
            if not isinstance(data[index], Mapping):
                fail(path, f"item {index} ({PICKLE_ITEMS[index]}) is a {type(data[index]).__name__}, expected a "
                           "dict dialogue id -> per-utterance values")
        audio_dim = self._declared_audio_dim()
        dialogues: list[Dialogue] = []
        seen: dict[str, str] = {}
        for split, index in zip(SPLITS, (7, 8, 9), strict=True):
            raw = data[index]
            if isinstance(raw, (str, bytes, Mapping)) or not hasattr(raw, "__iter__"):
                fail(path, f"item {index} ({PICKLE_ITEMS[index]}) is a {type(raw).__name__}, expected a list of "
                           "dialogue ids")
            ids = [as_text(d) for d in raw]
            for dialogue_id in sorted(ids) if isinstance(raw, (set, frozenset)) else ids:
                if dialogue_id in seen:
                    fail(path, f"dialogue {dialogue_id!r} is listed in both the {seen[dialogue_id]} and the {split} "
                               "split")
                seen[dialogue_id] = split
                dialogues.append(self._dialogue(path, data, dialogue_id, split, audio_dim))
        series_splits: dict[str, set[str]] = {}
        for d in dialogues:
            series_splits.setdefault(d.series, set()).add(d.split)
        shared = sorted(s for s, splits in series_splits.items() if len(splits) > 1)
        if shared:
            log.warning("%s: series %s occur in more than one split of %s (the official splits are "
                        "series-disjoint)", self.dataset_name, shared, path.name)
        self._check_features(path, dialogues)
        return dialogues

    def _check_features(self, path: Path, dialogues: list[Dialogue]) -> None:
        """Each modality's utterance rows of all dialogues, checked (and under "zero" cleaned) in one pass."""
        lengths = [len(d.labels) for d in dialogues]
        splits = np.repeat(np.array([d.split for d in dialogues]), lengths)
        for name in ("text", "audio", "visual"):
            rows = np.concatenate([getattr(d, name) for d in dialogues])
            rows = nonfinite_features(rows, policy=self.nonfinite, source=str(path), modality=name,
                                      row_splits=splits)
            for d, part in zip(dialogues, np.split(rows, np.cumsum(lengths)[:-1]), strict=True):
                setattr(d, name, part)

    @staticmethod
    def _dialogue(path: Path, data: Any, dialogue_id: str, split: str, audio_dim: int) -> Dialogue:
        for index in (2, 3, 4, 5):
            if dialogue_id not in data[index]:
                fail(path, f"dialogue {dialogue_id!r} of the {split} split has no entry in item {index} "
                           f"({PICKLE_ITEMS[index]})")
        labels = whole_numbers(path, data[2][dialogue_id], f"videoLabels[{dialogue_id!r}]")
        if labels.size == 0:
            fail(path, f"dialogue {dialogue_id!r} has no utterances")
        if labels.min() < 0 or labels.max() >= len(LABELS):
            fail(path, f"videoLabels[{dialogue_id!r}] holds {sorted(set(labels.tolist()))}, expected class ids "
                       f"0..6 ({', '.join(f'{i} {n}' for i, n in enumerate(LABELS))})")
        n = len(labels)
        features = []
        for index, dim in ((3, TEXT_DIM), (4, audio_dim), (5, VISUAL_DIM)):
            with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: reported by the check
                x = np.asarray(data[index][dialogue_id], dtype=np.float32)
            if x.ndim != 2 or x.shape[0] != n or (index != 4 and x.shape[1] != dim):
                fail(path, f"{PICKLE_ITEMS[index]}[{dialogue_id!r}] has shape {x.shape}, expected ({n}, {dim}) "
                           f"(one row per utterance; items 3, 4, 5 are text 768, audio, visual 342)")
            if index == 4 and x.shape[1] != dim:
                fail(path, f"videoAudio[{dialogue_id!r}] has {x.shape[1]}-d rows but the audio size is {dim} "
                           f"(option audio_dim, or detected from the file name)",
                     f"Make sure to pass audio_dim={x.shape[1]} for this file.")
            features.append(x)
        utterances = data[0].get(dialogue_id)
        utterance_ids = [as_text(u) for u in utterances] if utterances is not None and len(utterances) == n else \
            [f"{dialogue_id}/{k}" for k in range(n)]
        return Dialogue(dialogue_id, split, labels, *features, utterance_ids)

    @staticmethod
    def _groups(dialogues: list[Dialogue]) -> tuple[np.ndarray, list[str]]:
        """Series index per dialogue (sorted series names)."""
        names = sorted({d.series for d in dialogues})
        index = {s: i for i, s in enumerate(names)}
        return np.array([index[d.series] for d in dialogues], dtype=np.int64), names


class M3edDataModule(_M3edBase, name="m3ed"):
    """M3ED, CARAT's dialogue-level multi-label task: one sample per dialogue, the set of its emotions.

    Dataset: M3ED, Multi-modal Multi-scene Multi-label Emotional Dialogue Database; J. Zhao, T. Zhang, J. Hu,
    Y. Liu, Q. Jin, X. Wang, H. Li, ACL 2022, https://github.com/AIM3-RUC/RUCM3ED: 990 dialogues, 24,449 utterances
    of 56 Chinese TV series, one main emotion per utterance. Protocol as CARAT (C. Peng et al., AAAI 2024,
    https://github.com/chengzju/CARAT, `utils/m3ed_reader.py`).

    How to obtain (licence): the "M3ED Features (same format as DialogueRNN)" pickle is linked (Baidu) from the
    RUCM3ED README; raw video is not distributed (copyright). We found no licence stated in the README: use the
    features for research only, do not redistribute them, and cite Zhao et al. 2022. CARAT's
    ``m3ed_data_60.pt`` is built from that pickle by CARAT's ``utils/m3ed_reader.py``.

    Files: the official feature pickle, a 10-item list (videoIDs, videoSpeakers, videoLabels, videoText,
    videoAudio, videoVisual, videoSentence, trainVid, valVid, testVid) of dicts dialogue id -> per-utterance
    values; or CARAT's ``m3ed_data_60.pt`` (60 rows per dialogue, MOSEI-style label tokens), whose ``src-visual``
    slot holds the 1024-d audio and ``src-audio`` the 342-d visual features: they are swapped back here (detected
    from the feature sizes). Point ``root`` at the folder holding one of them::

        root/
        ├── Asent_wav2vec_zh2chmed2e5last-Vsent_avg_affectdenseface-Lsent_cls_robert_wwm_base_chinese4chmed.pkl
        │       # (CARAT's choice; any official A*-V*-L*.pkl works, pass file=<name> if there are several)
        └── m3ed_data_60.pt          # used only when no feature pickle is there (or with file="m3ed_data_60.pt")

    Signals, one vector per utterance: RoBERTa text 768, audio 1024 (wav2vec) or 1582 (OpenSMILE IS10, file
    names starting ``AIS10``; option ``audio_dim``, else detected from the file name and checked against the
    data), DenseFace visual 342. Python-2 pickles (byte strings) are read with latin1 decoding; which of the two
    layouts a file holds is read from its content, not its name. NaN, inf or |x| > 1e18 in any feature is an error
    naming the file, split and modality, unless ``nonfinite="zero"`` (replaced by 0 with a warning).

    Sample: the first ``max_utterances`` utterances of a dialogue as the sequence; the target is the set of main
    emotions over the **whole** dialogue (CARAT), multi-hot over (Happy, Neutral, Sad, Disgust, Anger, Fear,
    Surprise) (the official ids 0..6). Deviation from CARAT: the mask is real (True for the dialogue's
    utterances, False for the zero padding of shorter dialogues) where CARAT passes all ones; with the ``.pt``
    the mask comes from its ``len_list``.

    Protocol: the official series-disjoint train / val / test split (items 7 / 8 / 9 of the pickle, CARAT's
    reading); groups = TV series (dialogue id without its last ``_<k>``), so ``group-kfold`` splits by series.
    The ``.pt`` has no dialogue ids: no groups, official protocol only.

    Args:
        max_utterances: utterances per dialogue kept as the sequence (CARAT: 60).
        file: the feature file inside ``root`` (or an absolute path); None = detect (see the tree above).
        audio_dim: audio feature size; None = from the file name (IS10 1582, else 1024).
        **kwargs: EmotionDataModule options (root, batch_size, cache_dir, ...).
    """

    def __init__(self, max_utterances: int = 60, file: str | None = None, audio_dim: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(file=file, audio_dim=audio_dim, **kwargs)
        if max_utterances < 1:
            raise ValueError(f"<max_utterances={max_utterances}> must be >= 1 (CARAT uses 60).")
        self.max_utterances = max_utterances

    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        return TaskSpec("multilabel", LABELS), self._modality_specs(self.max_utterances)

    def read(self) -> DatasetArrays:
        path = self.source_files()[0]
        data = safe_pickle.load(path)
        if isinstance(data, Mapping):  # CARAT's layout, whatever the file is named
            return self._read_carat_pt(path, data)
        dialogues = self._read_dialogues(path, data)
        n, steps = len(dialogues), self.max_utterances
        inputs = {m.name: np.zeros((n, steps, m.dim), np.float32) for m in self._modality_specs(steps)}
        mask = np.zeros((n, steps), dtype=bool)
        target = np.zeros((n, len(LABELS)), dtype=np.float32)
        for i, d in enumerate(dialogues):
            k = min(len(d.labels), steps)
            for name in inputs:
                inputs[name][i, :k] = getattr(d, name)[:k]
            mask[i, :k] = True
            target[i, np.unique(d.labels)] = 1.0  # emotions of the whole dialogue, also beyond max_utterances
        longer = sum(len(d.labels) > steps for d in dialogues)
        if longer:
            log.info("%s: %d of %d dialogues are longer than max_utterances=%d and were cut (targets keep all "
                     "their emotions)", self.dataset_name, longer, n, steps)
        groups, _ = self._groups(dialogues)
        return DatasetArrays(inputs, {m: mask.copy() for m in inputs}, target, groups,
                             np.array([d.split for d in dialogues]), np.array([d.id for d in dialogues]))

    def _read_carat_pt(self, path: Path, data: Any) -> DatasetArrays:
        """CARAT's `m3ed_data_60.pt` (loaded as `data`): dialogue-level samples, MOSEI-style label tokens,
        audio/visual slots swapped (detected by size and swapped back)."""
        require_keys(path, data, [*SPLITS, "dict"], "the top-level dict")
        require_keys(path, data["dict"], ["tgt"], "dict")
        vocab = data["dict"]["tgt"]
        columns = emotion_columns(path, vocab, LABELS, _SYNONYMS)
        slots = ("src-text", "src-visual", "src-audio")
        for split in SPLITS:
            require_keys(path, data[split], [*slots, "tgt"], f"split {split!r}")
        first = next((data[s] for s in SPLITS if len(data[s]["tgt"])), None)
        if first is None:
            fail(path, "every split is empty")
        shapes = {slot: np.shape(first[slot][0]) for slot in slots}
        rows = shapes["src-text"][0] if len(shapes["src-text"]) == 2 else 0
        dims = {slot: shape[-1] if len(shape) == 2 else 0 for slot, shape in shapes.items()}
        if dims["src-visual"] != VISUAL_DIM and dims["src-audio"] == VISUAL_DIM:
            sources = {"text": "src-text", "audio": "src-visual", "visual": "src-audio"}  # CARAT's swap
            log.info("%s: %s holds audio in 'src-visual' and visual in 'src-audio' (CARAT's swap); swapped back",
                     self.dataset_name, path.name)
        elif dims["src-visual"] == VISUAL_DIM and dims["src-audio"] != VISUAL_DIM:
            sources = {"text": "src-text", "audio": "src-audio", "visual": "src-visual"}
        else:
            fail(path, f"cannot tell audio from visual: item shapes {shapes}; expected one of 'src-visual' / "
                       f"'src-audio' to hold {VISUAL_DIM}-d visual rows and the other the audio rows")
        audio_dim = self._declared_audio_dim()
        if dims[sources["audio"]] != audio_dim:
            fail(path, f"the audio slot {sources['audio']!r} has {dims[sources['audio']]}-d rows but the audio size "
                       f"is {audio_dim} (option audio_dim, or the default)",
                 f"Make sure to pass audio_dim={dims[sources['audio']]} for this file.")
        if rows < self.max_utterances:
            fail(path, f"dialogues have {rows} rows, fewer than max_utterances={self.max_utterances}",
                 f"Make sure to use max_utterances <= {rows} with this file, or read the feature pickle instead.")
        sizes = [len(data[s]["tgt"]) for s in SPLITS]
        total, steps = sum(sizes), self.max_utterances
        dims_out = {"text": TEXT_DIM, "audio": audio_dim, "visual": VISUAL_DIM}
        inputs = {}
        for name, slot in sources.items():
            x = np.empty((total, rows, dims_out[name]), dtype=np.float32)
            start = 0
            for split, size in zip(SPLITS, sizes, strict=True):
                fill_sequences(path, x, start, data[split][slot], f"{split}/{slot}", size)
                start += size
            inputs[name] = np.ascontiguousarray(x[:, :steps]) if steps < rows else x
        split = np.repeat(np.array(SPLITS), sizes)
        for name, x in inputs.items():
            inputs[name] = nonfinite_features(x, policy=self.nonfinite, source=str(path), modality=name,
                                              row_splits=split)
        if all("len_list" in data[s] for s in SPLITS):
            lengths = np.concatenate([whole_numbers(path, data[s]["len_list"], f"{s}/len_list") for s in SPLITS])
            if len(lengths) != total:
                fail(path, f"len_list has {len(lengths)} entries for {total} dialogues")
            mask = np.arange(steps)[None, :] < lengths[:, None]
        else:  # no lengths stored: real utterances are the non-zero rows (CARAT pads with zeros)
            mask = np.any([np.any(x != 0, axis=2) for x in inputs.values()], axis=0)
            log.info("%s: %s has no len_list; masks mark the non-zero rows", self.dataset_name, path.name)
        for x in inputs.values():
            x[~mask] = 0.0
        target = np.concatenate([multi_hot(path, data[s]["tgt"], columns, vocab, len(LABELS), f"{s}/tgt")
                                 for s in SPLITS])
        ids = np.array([f"{s}-{i:05d}" for s, n in zip(SPLITS, sizes, strict=True) for i in range(n)])
        return DatasetArrays(inputs, {m: mask.copy() for m in inputs}, target, None, split, ids)


class M3edUtteranceDataModule(_M3edBase, name="m3ed-utterance"):
    """M3ED, utterance-level 7-class emotion recognition: one sample per utterance, its main emotion.

    Same dataset, files, licence, folder tree, features, splits and groups (TV series) as ``M3edDataModule``
    (see its docstring), but only the official feature pickle works: CARAT's ``m3ed_data_60.pt`` keeps only
    dialogue-level label sets. Classes: Happy 0, Neutral 1, Sad 2, Disgust 3, Anger 4, Fear 5, Surprise 6 (the
    official ids). The sequence is the utterance itself (``context=0``, seq_len 1) or the utterance preceded by
    up to ``context`` earlier utterances of its dialogue (seq_len ``context + 1``, the utterance at the last step,
    missing earlier steps masked out), so no future utterance is seen.

    Args:
        context: earlier utterances of the same dialogue put before each utterance.
        file: the feature pickle inside ``root`` (or an absolute path); None = detect.
        audio_dim: audio feature size; None = from the file name (IS10 1582, else 1024).
        **kwargs: EmotionDataModule options (root, batch_size, cache_dir, ...).
    """

    def __init__(self, context: int = 0, file: str | None = None, audio_dim: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(file=file, audio_dim=audio_dim, **kwargs)
        if context < 0:
            raise ValueError(f"<context={context}> must be >= 0 (earlier utterances before each utterance).")
        if self.protocol == "kfold":
            raise ValueError("m3ed-utterance: <protocol=kfold> would put utterances of one dialogue (and their shared "
                             "context) on both sides of a split; use official, group-kfold or loso (by TV series).")
        self.context = context

    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        return TaskSpec("multiclass", LABELS), self._modality_specs(self.context + 1)

    def read(self) -> DatasetArrays:
        path = self.source_files()[0]
        data = safe_pickle.load(path)
        if isinstance(data, Mapping):  # CARAT's layout, whatever the file is named
            raise DatasetFormatError(
                f"{path}: m3ed-utterance needs one label per utterance, which only the official feature pickle "
                f"has; CARAT's {CARAT_PT} keeps only each dialogue's set of emotions. Make sure root holds the "
                f"feature pickle ({CARAT_PICKLE} or another A*-V*-L*.pkl) or pass file=<pickle name>.")
        dialogues = self._read_dialogues(path, data)
        steps = self.context + 1
        n = sum(len(d.labels) for d in dialogues)
        inputs = {m.name: np.zeros((n, steps, m.dim), np.float32) for m in self._modality_specs(steps)}
        mask = np.zeros((n, steps), dtype=bool)
        dialogue_groups, _ = self._groups(dialogues)
        start = 0
        for d in dialogues:
            length = len(d.labels)
            source = np.arange(length)[:, None] + np.arange(-self.context, 1)[None, :]  # (L, steps), last = self
            real = source >= 0
            for name in inputs:
                inputs[name][start:start + length] = np.where(real[..., None], getattr(d, name)[np.maximum(source, 0)],
                                                              0.0)
            mask[start:start + length] = real
            start += length
        lengths = [len(d.labels) for d in dialogues]
        return DatasetArrays(
            inputs, {m: mask.copy() for m in inputs}, np.concatenate([d.labels for d in dialogues]),
            np.repeat(dialogue_groups, lengths), np.repeat(np.array([d.split for d in dialogues]), lengths),
            np.array([u for d in dialogues for u in d.utterance_ids]))
