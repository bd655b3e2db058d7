"""The phenomena a synthetic twin can switch on, each with a strength knob (0 = off), and their descriptions.

A twin's default levels (`SyntheticTwin.default_phenomena`) are chosen per dataset from what is known of the real
data (each twin's docstring cites its sources); every level is also a twin option (`locality=0` turns temporal
locality off), so a learning-property test can compare a phenomenon on and off with everything else equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

#: Knob -> (what it does, what its value means). `emobench list --verbose` prints these.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "locality": ("temporal locality: the label evidence sits in short segments at random positions among "
                 "distractor segments whose content is unrelated to the labels, so a time average dilutes it",
                 "0: evidence at every step; 1: evidence on 1/8 of the steps"),
    "events": ("number of evidence segments per sample (with locality > 0)", "count"),
    "interaction": ("cross-modal interaction: part of each label is the product of a latent seen by one modality "
                    "and one seen by the next, so no single modality and no sum of per-modality scores recovers "
                    "it (congruent versus incongruent cues)",
                    "share of the label score's variance carried by the products"),
    "lag": ("misalignment: each modality's evidence is shifted by a random lag (modalities also keep their "
            "real, different rates and lengths)", "largest lag as a share of the sequence's duration"),
    "label_structure": ("label structure: labels co-occur and exclude each other in the real dataset's pattern "
                        "(multi-label: some labels follow others; distributions: mixed emotions placed by "
                        "valence/arousal prototypes)", "share of the label score from that structure"),
    "label_coupling": ("label coupling (multi-label, with label_structure): a child label follows its parents' DRAWN "
                       "labels, their label noise included, so labels depend on each other beyond what the input "
                       "shows and decoding the label set jointly pays (exact match, Jaccard)",
                       "share of the parents' label noise passed on (0: children follow the parents' noise-free "
                       "presence)"),
    "drop_rate": ("missing parts: segments of a modality are dropped (masked, zero)",
                  "probability that each eighth of a sequence is dropped"),
    "noise": ("noisy parts: every modality's own noise level times this factor", "factor"),
    "subject_shift": ("per-subject (session, series) offsets and gains of every feature", "factor"),
}


@dataclass(frozen=True)
class Phenomena:
    """Strengths of the generator's phenomena (see `DESCRIPTIONS`); 0 switches a phenomenon off."""

    locality: float = 0.0
    events: int = 1
    interaction: float = 0.0
    lag: float = 0.0
    label_structure: float = 0.0
    label_coupling: float = 0.0
    drop_rate: float = 0.0
    noise: float = 1.0
    subject_shift: float = 1.0

    def __post_init__(self) -> None:
        problems = [f"<{k}={getattr(self, k)}> must lie in [0, 1]"
                    for k in ("locality", "interaction", "lag", "label_structure", "label_coupling")
                    if not 0.0 <= getattr(self, k) <= 1.0]
        if not 0.0 <= self.drop_rate <= 0.9:
            problems.append(f"<drop_rate={self.drop_rate}> must lie in [0, 0.9]")
        problems += [f"<{k}={getattr(self, k)}> must be >= 0" for k in ("noise", "subject_shift")
                     if not getattr(self, k) >= 0.0]
        if self.events < 1:
            problems.append(f"<events={self.events}> must be >= 1")
        if problems:
            raise ValueError("synthetic twin phenomena: " + "; ".join(problems) + ". Make sure each strength is in "
                             "range (0 switches a phenomenon off).")

    def updated(self, **changes: Any) -> Phenomena:
        """A copy with the given knobs changed; None values keep the current level."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


KNOBS = tuple(f.name for f in fields(Phenomena))
