"""ModalitySpec: built-in kinds carry their group; a new kind declares its group; bad groups are refused."""

from __future__ import annotations

import pytest

from emobench.datamodules.specs import MODALITY_GROUPS, ModalitySpec


def test_built_in_kinds_keep_their_group():
    assert ModalitySpec("eeg", 32, 10, "eeg").group == "physiological"
    assert ModalitySpec("a", 74, 10, "audio").group == "behavioral"
    assert {MODALITY_GROUPS[k] for k in ("text", "audio", "visual")} == {"behavioral"}


def test_a_new_kind_needs_no_package_edit_but_a_group():
    spec = ModalitySpec("gaze", 2, 10, "gaze", group="behavioral")
    assert spec.group == "behavioral" and spec.to_dict()["group"] == "behavioral"
    with pytest.raises(ValueError, match="kind 'respiration' is not a built-in kind.*group='physiological'"):
        ModalitySpec("resp", 1, 10, "respiration")


def test_unknown_group_and_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="group must be one of"):
        ModalitySpec("x", 1, 1, "eeg", group="physio")
    with pytest.raises(ValueError, match="dim and seq_len must be >= 1"):
        ModalitySpec("x", 0, 1, "eeg")
