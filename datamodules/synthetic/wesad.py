"""The WESAD twin: 15 subjects, each with one baseline, one stress and one amusement condition cut into 10-s
segments; chest ECG, physiological signals and accelerometers; the 3-class condition task or an emotion
distribution from self-reports; leave-one-subject-out.

WESAD: Schmidt et al., "Introducing WESAD, a Multimodal Dataset for Wearable Stress and Affect Detection",
ICMI 2018 (doi 10.1145/3242969.3242985); free download from the UCI repository (doi 10.24432/C57K5T). Subjects
S2-S11 and S13-S17 (S1 and S12 were discarded for sensor malfunction); chest RespiBAN at 700 Hz, wrist Empatica
E4 (ACC 32 Hz, BVP 64 Hz, EDA and TEMP 4 Hz). The standard task is baseline vs stress vs amusement,
leave-one-subject-out. Condition shares of the rows follow the labelled minutes over all subjects (baseline 293.5,
stress 166.1, amusement 92.9; counted by the audit in github.com/SrishtiRathi23/wearable-stress-reliability
`docs/dataset_notes.md`). WESAD has no video: accelerometers are the behavioural modality.
"""

from __future__ import annotations

import numpy as np

from emobench.datamodules.specs import TaskSpec
from emobench.datamodules.synthetic.phenomena import Phenomena
from emobench.datamodules.synthetic.streams import StreamRecipe
from emobench.datamodules.synthetic.twin import SyntheticTwin

CONDITIONS = ("baseline", "stress", "amusement")
CONDITION_MINUTES = (293.5, 166.1, 92.9)
#: Items WESAD added to PANAS and asked after every condition (Schmidt et al. 2018, questionnaire readme).
REPORT_ITEMS = ("stressed", "frustrated", "happy", "sad")
#: Approximate valence/arousal positions of the items on Russell's circumplex (Russell, J. Pers. Soc. Psychol.
#: 39(6), 1980).
REPORT_PROTOTYPES = {"stressed": (-0.4, 0.7), "frustrated": (-0.6, 0.4), "happy": (0.8, 0.4), "sad": (-0.7, -0.5)}
TARGETS = ("condition", "distribution")


class SyntheticWesad(SyntheticTwin, name="synthetic-wesad"):
    """WESAD twin: 10-s segments of chest ECG (1 lead, 700 Hz: 7000 steps), physio (6 channels: chest EDA, Resp,
    Temp and wrist BVP, EDA, TEMP at BVP's 64 Hz: 640 steps) and motion (chest and wrist accelerometers, 6 axes
    at the wrist's 32 Hz: 320 steps); `target=condition` (baseline/stress/amusement, multiclass) or
    `target=distribution` (the self-report items stressed, frustrated, happy, sad); subjects 2-11 and 13-17;
    leave-one-subject-out by default.

    Levels: a condition lasts 6-20 minutes, so evidence is spread over a segment (locality 0.2) and weakly
    interacting (0.2); electrodermal responses trail the heart by 1-3 s (Dawson et al., Handbook of
    Psychophysiology 2007: lag 0.2); self-reports mix items (label structure 0.6); wrist sensors drop out
    (drop rate 0.05).

    Args:
        target: condition | distribution.
    """

    streams = (StreamRecipe("ecg", 1, 7000, "ecg", 0.6, "oscillation"),
               StreamRecipe("physio", 6, 640, "physio", 0.8, group="physiological"),
               StreamRecipe("motion", 6, 320, "motion", 1.0, "burst"))
    num_groups = 15
    group_ids = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17)
    row_jitter = 0.3
    default_protocol = "loso"
    class_priors = tuple(m / sum(CONDITION_MINUTES) for m in CONDITION_MINUTES)
    prototypes = REPORT_PROTOTYPES
    default_num_samples = 1500

    def __init__(self, target: str = "condition", **kwargs) -> None:
        if target not in TARGETS:
            raise ValueError(f"synthetic-wesad: <target={target}> must be one of {TARGETS}.")
        self.target = target
        super().__init__(**kwargs)

    @property
    def task_spec(self) -> TaskSpec:  # type: ignore[override]
        if self.target == "condition":
            return TaskSpec("multiclass", CONDITIONS)
        return TaskSpec("distribution", REPORT_ITEMS)

    def default_phenomena(self) -> Phenomena:
        return Phenomena(locality=0.2, interaction=0.2, lag=0.2, label_structure=0.6, drop_rate=0.05)

    def layout(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows split evenly over subjects, each subject's rows over its three conditions by their labelled
        minutes; a trial is one condition of one subject."""
        per_subject = np.full(self.num_groups, n // self.num_groups) + (np.arange(self.num_groups) < n % self.num_groups)
        shares = np.asarray(self.class_priors)
        groups, trials, classes = [], [], []
        for subject, rows in enumerate(per_subject):
            counts = np.maximum(1, np.floor(shares * rows).astype(int))
            counts[0] += rows - counts.sum()
            for condition, count in enumerate(counts):
                groups.append(np.full(count, subject))
                trials.append(np.full(count, len(classes)))
                classes.append(condition)
        return np.concatenate(groups), np.concatenate(trials), np.asarray(classes, dtype=np.int64)
