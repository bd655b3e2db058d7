"""Feature extractors of raw recordings: the documented log-mel settings, caps that cut frames (not the signal),
waveforms, and the packaged sentence model loaded once, offline."""

from __future__ import annotations

import numpy as np

from emobench.datamodules import extractors


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)


def test_log_mel_uses_the_documented_settings():
    import librosa

    wave = _tone(1.0)
    power = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=400, win_length=400, hop_length=160,
                                           window="hann", center=True, power=2.0, n_mels=80, fmin=0.0, fmax=8000.0)
    expected = 10 * np.log10(np.maximum(power, 1e-10)).T  # dB relative to 1, no top_db clipping
    out = extractors.LogMel()(wave)
    assert out.shape == (101, 80) and out.dtype == np.float32  # 1 + 16000 // 160 centred frames
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)


def test_the_cap_cuts_frames_and_keeps_their_values():
    wave = _tone(1.0)
    whole, capped = extractors.LogMel(n_mels=40)(wave), extractors.LogMel(n_mels=40, max_frames=30)(wave)
    assert capped.shape == (30, 40)
    np.testing.assert_allclose(capped, whole[:30], rtol=1e-5, atol=1e-4)


def test_waveform_is_the_samples_as_one_feature():
    wave = _tone(0.5)
    out = extractors.Waveform(max_samples=5000)(wave)
    assert out.shape == (5000, 1) and extractors.Waveform().dim == 1
    np.testing.assert_array_equal(out[:, 0], wave[:5000])


def test_sentence_embeddings_are_unit_vectors_from_one_cached_model():
    assert extractors.sentence_model() is extractors.sentence_model()
    out = extractors.embed_sentences(["I am so happy today.", "I am so happy today.", "This is terrible."])
    assert out.shape == (3, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    assert float(out[0] @ out[2]) < 0.9
    assert extractors.embed_sentences([]).shape == (0, 384)
