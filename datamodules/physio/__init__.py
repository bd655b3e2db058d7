"""Shared pieces of the physiological readers (DEAP, DREAMER, WESAD): stream/modality declarations and recordings
(`recording`), 1-s window features (`features`), rating targets (`targets`), the per-subject feature cache
(`subject_cache`) and the reader base `PhysioDataModule` (`base`)."""

from emobench.datamodules.physio.base import PhysioDataModule
from emobench.datamodules.physio.recording import (
    EEG_BANDS,
    PhysioModality,
    Stream,
    SubjectRecording,
    SubjectSource,
    TrialRecording,
)

__all__ = ["EEG_BANDS", "PhysioDataModule", "PhysioModality", "Stream", "SubjectRecording", "SubjectSource",
           "TrialRecording"]
