"""The synthetic twins of DEAP, DREAMER, CMU-MOSEI, M3ED and IEMOCAP: same task, labels, modality kinds, feature
dims and real lengths as each real dataset's standard features (the README's dataset tables cite them), and the
phenomena of the real data at levels chosen per dataset (each `default_phenomena` says why).

Label co-occurrence: the rates are the published ones; no pairwise co-occurrence table of CMU-MOSEI's or M3ED's
labels is published in the sources cited, so `relations` encode the pattern the emotion literature describes
(negative emotions co-occur — anger with disgust, sadness with fear — and happiness excludes sadness and anger)
as an assumption, not a measurement.
"""

from __future__ import annotations

from emobench.datamodules.specs import TaskSpec
from emobench.datamodules.synthetic.phenomena import Phenomena
from emobench.datamodules.synthetic.streams import StreamRecipe
from emobench.datamodules.synthetic.twin import SyntheticTwin

EKMAN = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
#: Approximate valence/arousal positions (each in [-1, 1]) of the basic emotions on Russell's circumplex
#: (J. A. Russell, "A circumplex model of affect", J. Pers. Soc. Psychol. 39(6), 1980, Fig. 2).
EKMAN_PROTOTYPES = {"anger": (-0.5, 0.7), "disgust": (-0.7, 0.3), "fear": (-0.6, 0.8), "happiness": (0.8, 0.4),
                    "sadness": (-0.7, -0.5), "surprise": (0.3, 0.9)}


class SyntheticDeap(SyntheticTwin, name="synthetic-deap"):
    """DEAP twin: 32 subjects x 40 trials, 1-s chunks at 128 Hz of 32 EEG + 8 peripheral channels; emotion
    distribution over six basic emotions; subject-independent 5-fold protocol by default.

    Levels: a trial's state lasts the whole 60-s clip (Koelstra et al., IEEE TAC 2012), so evidence is spread
    (locality 0.2) and weakly interacting (0.2); peripheral responses trail the EEG (electrodermal latency 1-3 s,
    Dawson et al., Handbook of Psychophysiology 2007: lag 0.2); distributions derived from valence/arousal
    ratings are mostly prototype structure (0.8)."""

    task_spec = TaskSpec("distribution", EKMAN)
    streams = (StreamRecipe("eeg", 32, 128, "eeg", 1.0, "oscillation"),
               StreamRecipe("peripheral", 8, 128, "peripheral", 0.8))
    num_groups = 32
    chunks_per_trial = 2
    default_protocol = "group-kfold"
    default_num_samples = 2560
    prototypes = EKMAN_PROTOTYPES

    def default_phenomena(self) -> Phenomena:
        return Phenomena(locality=0.2, interaction=0.2, lag=0.2, label_structure=0.8)


class SyntheticDreamer(SyntheticTwin, name="synthetic-dreamer"):
    """DREAMER twin: 23 subjects x 18 clips, chunks of 14 EEG channels (128 Hz) and 2 ECG leads (256 Hz); emotion
    distribution over six basic emotions; subject-independent 5-fold protocol by default.

    Levels as the DEAP twin (film clips of 65-393 s, Katsigiannis & Ramzan, IEEE JBHI 2018): locality 0.2,
    interaction 0.2, lag 0.2, label structure 0.8."""

    task_spec = TaskSpec("distribution", EKMAN)
    streams = (StreamRecipe("eeg", 14, 128, "eeg", 1.0, "oscillation"), StreamRecipe("ecg", 2, 256, "ecg", 0.6))
    num_groups = 23
    chunks_per_trial = 4
    default_protocol = "group-kfold"
    default_num_samples = 1656
    prototypes = EKMAN_PROTOTYPES

    def default_phenomena(self) -> Phenomena:
        return Phenomena(locality=0.2, interaction=0.2, lag=0.2, label_structure=0.8)


class SyntheticMosei(SyntheticTwin, name="synthetic-mosei"):
    """CMU-MOSEI twin: GloVe text 300, COVAREP audio 74, Facet visual 35; aligned (default) 60 word-aligned steps
    each, or `aligned=False` text 50, audio 500, visual 500 steps as MulT's unaligned files; six emotions,
    multi-label, label rates as MOSEI's test split; official train/valid/test split by video.

    Levels: emotions show in a few words or expressions of a ~7-s segment (Zadeh et al., ACL 2018: locality 0.5);
    words, tone and face combine (0.3); word-aligned features share timing (lag 0), the unaligned ones do not
    (0.15); labels co-occur (0.6, see the module docstring); Facet misses faces and COVAREP has -inf frames in
    the official files (drop rate 0.05).

    Args:
        aligned: the 60/60/60 aligned twin (True) or the 50/500/500 unaligned one (False).
    """

    task_spec = TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear"))
    num_groups = 600
    official_split = (0.72, 0.08, 0.20)
    label_rates = (0.54, 0.24, 0.23, 0.09, 0.17, 0.08)
    relations = (("sad", "happy", -1), ("anger", "happy", -1), ("disgust", "anger", 1), ("fear", "sad", 1), ("fear", "anger", 1),
                 ("surprise", "happy", 1))
    default_num_samples = 3000

    def __init__(self, aligned: bool = True, **kwargs) -> None:
        self.aligned = aligned
        super().__init__(**kwargs)

    def recipes(self) -> tuple[StreamRecipe, ...]:
        text, other = (60, 60) if self.aligned else (50, 500)
        return (StreamRecipe("text", 300, text, "text", 1.2, "burst"),
                StreamRecipe("audio", 74, other, "audio", 1.5, "burst"),
                StreamRecipe("visual", 35, other, "visual", 1.5))

    def default_phenomena(self) -> Phenomena:
        return Phenomena(locality=0.5, interaction=0.3, lag=0.0 if self.aligned else 0.15, label_structure=0.6,
                         drop_rate=0.05)


class SyntheticM3ed(SyntheticTwin, name="synthetic-m3ed"):
    """M3ED twin (CARAT's dialogue-level task): up to 60 utterances of RoBERTa text 768, wav2vec audio 1024 and
    DenseFace visual 342, real masks for shorter dialogues; seven emotions, multi-label; split by TV series 38/7/11.

    Levels: a dialogue's label set is the union of its utterances' emotions (Zhao et al., ACL 2022), so each
    emotion sits in a few utterances (locality 0.7, 2 events); one vector per utterance in every modality (lag 0);
    interaction 0.3; labels co-occur (0.6)."""

    task_spec = TaskSpec("multilabel", ("Happy", "Neutral", "Sad", "Disgust", "Anger", "Fear", "Surprise"))
    streams = (StreamRecipe("text", 768, 60, "text", 1.2, "burst", True),
               StreamRecipe("audio", 1024, 60, "audio", 1.5, "burst", True),
               StreamRecipe("visual", 342, 60, "visual", 1.5, "sustained", True))
    num_groups = 56
    official_split = (38 / 56, 7 / 56, 11 / 56)
    label_rates = (0.55, 0.85, 0.45, 0.2, 0.5, 0.15, 0.3)
    relations = (("Anger", "Sad", 1), ("Disgust", "Anger", 1), ("Fear", "Sad", 1), ("Surprise", "Happy", 1))
    default_num_samples = 990

    def default_phenomena(self) -> Phenomena:
        return Phenomena(locality=0.7, events=2, interaction=0.3, label_structure=0.6)


class SyntheticIemocap(SyntheticTwin, name="synthetic-iemocap"):
    """IEMOCAP 4-class twin (Foal-Net inputs): WavLM audio frames 1024 (~6 s at 50 Hz) and CLIP video frames 768
    (180), variable lengths; classes in Foal-Net's order; 5 sessions, leave-one-session-out protocol.

    Levels: acted utterances of ~4.5 s (Busso et al., LRE 2008) with the emotion in part of them (locality 0.5);
    voice and face disambiguate each other, e.g. arousal from the voice and valence from the face (interaction
    0.4); frames at different rates with expression onsets off the voice's (lag 0.1); drop rate 0.05."""

    task_spec = TaskSpec("multiclass", ("happy", "neutral", "sad", "angry"))
    streams = (StreamRecipe("audio", 1024, 299, "audio", 1.5, "burst", True),
               StreamRecipe("visual", 768, 180, "visual", 1.5, "sustained", True))
    num_groups = 5
    default_protocol = "loso"
    class_priors = (0.30, 0.31, 0.20, 0.19)
    default_num_samples = 1500

    def default_phenomena(self) -> Phenomena:
        return Phenomena(locality=0.5, interaction=0.4, lag=0.1, drop_rate=0.05)
