"""IEMOCAP raw release: EmoEvaluation / transcript parsing (decoys skipped), log-mel audio and sentence-embedded text
computed through the datamodule, optional visual frames, the cache (a second setup extracts nothing), the missing
extra and the errors naming files."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from emobench.datamodules import DATAMODULES, extractors
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError
from emobench.datamodules.iemocap_release import parse_evaluation, session_of, speakers_of, utterances
from tests.fixtures.iemocap_files import FOUR, SIX, expected_counts, write_frames, write_release
from tests.fixtures.iemocap_files import utterances as written_utterances

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("iemocap")
    return root, write_release(root)


def _dm(root, tmp_path, name="iemocap", **kwargs):
    kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
    return DATAMODULES.get(name)(root=str(root), **kwargs)


def _counts(dm) -> dict[str, int]:
    labels = dm.task.labels
    values, counts = np.unique(dm.arrays.target, return_counts=True)
    return {labels[v]: int(c) for v, c in zip(values, counts, strict=True)}


def test_labels_come_from_top_level_evaluation_files_only(release):
    root, _ = release
    found = utterances(root / "IEMOCAP_full_release")
    assert [(u.id, u.dialog, u.code) for u in found] == written_utterances()
    assert not any(u.id.endswith("F099") for u in found), "the annotator sub-folder is not read"


def test_ids_give_sessions_and_speakers():
    assert session_of("Ses03M_impro05a_F012") == 3
    assert speakers_of(["Ses01F_impro01_M000", "Ses05F_script01_1_F003"]).tolist() == ["Ses01M", "Ses05F"]
    assert speakers_of(["train-00001"]) is None


def test_a_broken_block_head_names_file_and_line(tmp_path):
    path = tmp_path / "Ses01F_impro01.txt"
    path.write_text("% header\n\n[1.0 - 2.0]\tSes01F_impro01_F000\tneu\t[2, 2, 2]\n\n[3.0 - x]\tSes01F_impro01_F001\n")
    with pytest.raises(DatasetFormatError, match=r"Ses01F_impro01.txt, line 5"):
        parse_evaluation(path)


@pytest.mark.parametrize(("name", "scheme"), [("iemocap", FOUR), ("iemocap-6", SIX)])
def test_raw_release_class_counts_after_mapping(release, tmp_path, name, scheme):
    root, _ = release
    dm = _dm(root, tmp_path, name)
    assert _counts(dm) == expected_counts(scheme)
    assert dm.protocol == "loso" and dm.normalize, "computed features are z-scored by default"
    kept = [u for u, _, code in written_utterances() if code in scheme]
    assert dm.arrays.ids.tolist() == kept
    assert dm.arrays.groups.tolist() == [int(u[4]) for u in kept]


def test_raw_audio_is_the_log_mel_of_each_wav_and_text_the_transcript_embedding(release, tmp_path, caplog):
    root, written = release
    with caplog.at_level(logging.WARNING):
        dm = _dm(root, tmp_path, audio_steps=70, n_mels=40)
        arrays = dm.arrays
    assert "visual modality is absent" in caplog.text
    assert {m.name: (m.dim, m.seq_len) for m in dm.modalities} == {"audio": (40, 70), "text": (384, 1)}
    ids = arrays.ids.tolist()
    lengths = {u: 1 + len(written.waves[u]) // 160 for u in ids}  # centred 10-ms frames
    assert min(lengths.values()) < 70 < max(lengths.values()), "the fixture hits both padding and the cap"
    reference = extractors.LogMel(n_mels=40, max_frames=10_000)
    for row, utterance in enumerate(ids):
        k = min(lengths[utterance], 70)
        assert arrays.masks["audio"][row].tolist() == [True] * k + [False] * (70 - k)
        np.testing.assert_allclose(arrays.inputs["audio"][row, :k], reference(written.waves[utterance])[:k],
                                   rtol=1e-5, atol=1e-4)
        assert not arrays.inputs["audio"][row, k:].any()
    text = extractors.embed_sentences([written.texts[u] for u in ids])
    np.testing.assert_allclose(arrays.inputs["text"][:, 0], text, atol=1e-5)
    assert np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-4)


def test_visual_frames_are_read_when_the_folder_exists(tmp_path):
    root = tmp_path / "data"
    write_release(root)
    ids = [u for u, _, code in written_utterances() if code in FOUR]
    frames = write_frames(root / "clip-large", ids, 768, (3, 9), seed=5)
    dm = _dm(root, tmp_path, visual_steps=6)
    assert [m.name for m in dm.modalities] == ["audio", "text", "visual"]
    for row, utterance in enumerate(dm.arrays.ids.tolist()):
        k = min(len(frames[utterance]), 6)
        np.testing.assert_array_equal(dm.arrays.inputs["visual"][row, :k], frames[utterance][:k])
        assert dm.arrays.masks["visual"][row].sum() == k


def test_second_setup_extracts_no_features(release, tmp_path, monkeypatch):
    root, _ = release
    first = _dm(root, tmp_path, audio_steps=50)
    first.setup()

    def refuse(*args, **kwargs):
        raise AssertionError("features were extracted again")

    monkeypatch.setattr(extractors.LogMel, "__call__", refuse)
    monkeypatch.setattr(extractors, "embed_sentences", refuse)
    monkeypatch.setattr(extractors, "read_wav", refuse)
    second = _dm(root, tmp_path, audio_steps=50)
    second.setup()
    for name in ("audio", "text"):
        np.testing.assert_array_equal(second.arrays.inputs[name], first.arrays.inputs[name])
    with pytest.raises(AssertionError, match="extracted again"):  # other options: a new cache entry
        _dm(root, tmp_path, audio_steps=51).setup()


def test_a_missing_extra_names_it(release, tmp_path, monkeypatch):
    root, _ = release
    monkeypatch.setitem(sys.modules, "librosa", None)
    with pytest.raises(ImportError, match=r"emobench\[iemocap\]"):
        _dm(root, tmp_path).setup()


@pytest.mark.parametrize(("damage", "found"), [("truncated", "could not be read"), ("22 kHz", "22050 Hz"),
                                               ("stereo", "2 channel")])
def test_a_bad_wav_is_named(tmp_path, damage, found):
    import soundfile

    root = tmp_path / "data"
    write_release(root)
    wav = next((root / "IEMOCAP_full_release" / "Session2").rglob("Ses02M_script01_1_F001.wav"))
    if damage == "truncated":
        wav.write_bytes(wav.read_bytes()[:30])
    else:
        rate, channels = (22050, 1) if damage == "22 kHz" else (16000, 2)
        soundfile.write(str(wav), np.zeros((8000, channels), np.float32), rate, subtype="PCM_16")
    with pytest.raises(DatasetFormatError, match=f"Ses02M_script01_1_F001.wav.*{found}"):
        _dm(root, tmp_path).setup()


def test_a_missing_wav_or_transcript_is_named(tmp_path):
    root = tmp_path / "data"
    write_release(root)
    release_dir = root / "IEMOCAP_full_release"
    next(release_dir.rglob("Ses01F_impro01_M001.wav")).unlink()
    with pytest.raises(DatasetNotFoundError, match="Ses01F_impro01_M001.wav"):
        _dm(root, tmp_path).setup()
    write_release(root)
    (release_dir / "Session2" / "dialog" / "transcriptions" / "Ses02M_script01_1.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="transcriptions/Ses02M_script01_1.txt"):
        _dm(root, tmp_path, cache_dir=str(tmp_path / "other")).setup()


def test_waveform_audio_is_the_samples_cut_to_the_cap(release, tmp_path):
    root, written = release
    dm = _dm(root, tmp_path, audio_features="waveform", audio_steps=12_000)
    assert not dm.normalize, "waveforms are fed as they are (Foal-Net's WavLM input)"
    assert {m.name: (m.dim, m.seq_len) for m in dm.modalities}["audio"] == (1, 12_000)
    for row, utterance in enumerate(dm.arrays.ids.tolist()):
        wave = written.waves[utterance][:12_000]
        np.testing.assert_array_equal(dm.arrays.inputs["audio"][row, :len(wave), 0], wave)
        assert dm.arrays.masks["audio"][row].sum() == len(wave)
    assert DATAMODULES.get("iemocap")(root=str(root), audio_features="waveform").modalities[0].seq_len == 96_000
