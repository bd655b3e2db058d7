"""The synthetic twins of DEAP, DREAMER, CMU-MOSEI, M3ED and IEMOCAP: same task, labels, modality kinds and feature
dims as each real dataset's standard features (the README's dataset tables cite them), sequence lengths capped by
`seq_len`."""

from __future__ import annotations

from emobench.datamodules.specs import TaskSpec
from emobench.datamodules.synthetic.latent import StreamRecipe
from emobench.datamodules.synthetic.twin import SyntheticTwin

EKMAN = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")


class SyntheticDeap(SyntheticTwin, name="synthetic-deap"):
    """DEAP twin: 32 subjects x 40 trials, 1-s chunks at 128 Hz of 32 EEG + 8 peripheral channels; emotion
    distribution over six basic emotions; subject-independent 5-fold protocol by default."""

    task_spec = TaskSpec("distribution", EKMAN)
    streams = (StreamRecipe("eeg", 32, 128, "oscillation", 1.0), StreamRecipe("peripheral", 8, 128, "sustained", 0.8))
    kinds = ("eeg", "peripheral")
    num_groups = 32
    chunks_per_trial = 2
    default_protocol = "group-kfold"
    default_num_samples = 2560


class SyntheticDreamer(SyntheticTwin, name="synthetic-dreamer"):
    """DREAMER twin: 23 subjects x 18 clips, chunks of 14 EEG channels (128 Hz) and 2 ECG leads (256 Hz); emotion
    distribution over six basic emotions; subject-independent 5-fold protocol by default."""

    task_spec = TaskSpec("distribution", EKMAN)
    streams = (StreamRecipe("eeg", 14, 128, "oscillation", 1.0), StreamRecipe("ecg", 2, 256, "sustained", 0.6))
    kinds = ("eeg", "ecg")
    num_groups = 23
    chunks_per_trial = 4
    default_protocol = "group-kfold"
    default_num_samples = 1656


class SyntheticMosei(SyntheticTwin, name="synthetic-mosei"):
    """CMU-MOSEI twin (aligned, 60 steps): GloVe text 300, COVAREP audio 74, Facet visual 35; six emotions,
    multi-label, label rates as MOSEI's test split; official train/valid/test split by video."""

    task_spec = TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear"))
    streams = (StreamRecipe("text", 300, 60, "burst", 1.2), StreamRecipe("audio", 74, 60, "burst", 1.5),
               StreamRecipe("visual", 35, 60, "sustained", 1.5))
    kinds = ("text", "audio", "visual")
    num_groups = 600
    official_split = (0.72, 0.08, 0.20)
    label_rates = [0.54, 0.24, 0.23, 0.09, 0.17, 0.08]
    default_num_samples = 3000


class SyntheticM3ed(SyntheticTwin, name="synthetic-m3ed"):
    """M3ED twin (CARAT's dialogue-level task): up to 60 utterances of RoBERTa text 768, wav2vec audio 1024 and
    DenseFace visual 342, real masks for shorter dialogues; seven emotions, multi-label; split by TV series 38/7/11."""

    task_spec = TaskSpec("multilabel", ("Happy", "Neutral", "Sad", "Disgust", "Anger", "Fear", "Surprise"))
    streams = (StreamRecipe("text", 768, 60, "burst", 1.2, True), StreamRecipe("audio", 1024, 60, "burst", 1.5, True),
               StreamRecipe("visual", 342, 60, "sustained", 1.5, True))
    kinds = ("text", "audio", "visual")
    num_groups = 56
    official_split = (38 / 56, 7 / 56, 11 / 56)
    label_rates = [0.55, 0.85, 0.45, 0.2, 0.5, 0.15, 0.3]
    default_num_samples = 990


class SyntheticIemocap(SyntheticTwin, name="synthetic-iemocap"):
    """IEMOCAP 4-class twin (Foal-Net inputs): WavLM audio frames 1024 (~6 s) and CLIP video frames 768 (180),
    variable lengths; classes in Foal-Net's order; 5 sessions, leave-one-session-out protocol."""

    task_spec = TaskSpec("multiclass", ("happy", "neutral", "sad", "angry"))
    streams = (StreamRecipe("audio", 1024, 299, "burst", 1.5, True),
               StreamRecipe("visual", 768, 180, "sustained", 1.5, True))
    kinds = ("audio", "visual")
    num_groups = 5
    default_protocol = "loso"
    class_priors = [0.30, 0.31, 0.20, 0.19]
    default_num_samples = 1500
