"""`torch.save` files read without `torch.load`: the same arrays as torch's own loader for both layouts, and every
way to make torch run code (TorchScript, disguised or not; malicious legacy and zip pickles) refused, decided by
the bytes and not by the file name."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from emobench.datamodules import safe_pickle
from emobench.datamodules.errors import DatasetFormatError, UnsafePickleError
from tests.fixtures.hostile_files import replace_record, touch_payload, write_torchscript

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _tensors() -> dict:
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    return {"transposed": base.t(), "strided": base[1:, ::2], "row": base[2], "scalar": torch.tensor(3.5),
            "empty": torch.zeros(0, 3), "bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
            "int8": torch.tensor([-3, 4], dtype=torch.int8), "bool": torch.tensor([True, False]),
            "complex": torch.tensor([1 + 2j]), "half": torch.tensor([0.5], dtype=torch.half),
            "float": torch.linspace(-1, 1, 5), "long": torch.tensor([2**40]), "nested": [{"x": base[:, 1]}],
            "numpy": np.arange(3, dtype=np.int16)}


def _as_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
    if isinstance(value, list):
        return [_as_numpy(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_numpy(v) for k, v in value.items()}
    return value


def _assert_same(got, expected) -> None:
    if isinstance(expected, dict):
        assert got.keys() == expected.keys()
        for key in expected:
            _assert_same(got[key], expected[key])
    elif isinstance(expected, list):
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            _assert_same(a, b)
    else:
        assert isinstance(got, np.ndarray) and got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("legacy", [False, True])
def test_tensors_match_torchs_own_loader(tmp_path, legacy):
    path = tmp_path / "tensors.pt"
    torch.save(_tensors(), path, _use_new_zipfile_serialization=not legacy)
    expected = _as_numpy(torch.load(path, weights_only=False))  # our own file: trusted
    got = safe_pickle.load(path)
    _assert_same(got, expected)
    assert got["transposed"].flags.c_contiguous and got["transposed"].flags.writeable, "an owned copy"


def test_uint16_tensor_and_big_endian_archive(tmp_path):
    path = tmp_path / "u16.pt"
    torch.save({"u": torch.tensor([1, 65535], dtype=torch.uint16), "f": torch.tensor([1.5, -2.0])}, path)
    np.testing.assert_array_equal(safe_pickle.load(path)["u"], np.array([1, 65535], np.uint16))
    swapped = np.array([1.5, -2.0], dtype=">f4").tobytes()  # the same archive written on a big-endian machine
    replace_record(replace_record(path, "byteorder", b"big"), "data/1", swapped)
    got = safe_pickle.load(path)["f"]
    np.testing.assert_array_equal(got, [1.5, -2.0])
    assert got.dtype == np.float32 and got.dtype.isnative


@pytest.mark.parametrize("appended", [b"", b"PK\x05\x06"], ids=["plain", "appended-bytes"])
def test_torchscript_archive_is_refused_and_never_runs(tmp_path, appended):
    marker = tmp_path / "pwned"
    path = write_torchscript(tmp_path / "scripted.pt", marker, appended)
    with pytest.raises(UnsafePickleError, match=r"scripted\.pt: it is a TorchScript archive \(records code/"):
        safe_pickle.load_torch(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # control: torch's loader runs the archive's __setstate__
    assert marker.exists()


def test_malicious_legacy_file_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pt"
    torch.save({"x": torch.ones(2), "y": touch_payload(marker)}, path, _use_new_zipfile_serialization=False)
    assert not path.read_bytes().startswith(b"PK")
    with pytest.raises(UnsafePickleError, match=r"legacy\.pt: it refers to the global `(posix|nt|os)\.system`"):
        safe_pickle.load_torch(path)
    assert not marker.exists()


def test_zip_whose_data_pickle_names_a_forbidden_global_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "archive.pt"
    torch.save({"x": torch.ones(2)}, path)
    replace_record(path, "data.pkl", pickle.dumps({"x": touch_payload(marker)}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"archive\.pt: it refers to the global `(posix|nt|os)\.system`"):
        safe_pickle.load_torch(path)
    assert not marker.exists()


def test_the_bytes_decide_not_the_name(tmp_path):
    """A torch.save file named .pkl and a pickle named .pt load the same way through every entry point; a
    TorchScript archive named .pkl is still refused."""
    torch.save({"t": torch.arange(3.0)}, tmp_path / "torch_file.pkl")
    (tmp_path / "pickle_file.pt").write_bytes(pickle.dumps({"a": np.arange(2)}, protocol=4))
    for load in (safe_pickle.load, safe_pickle.load_pickle, safe_pickle.load_torch):
        np.testing.assert_array_equal(load(tmp_path / "torch_file.pkl")["t"], np.arange(3.0, dtype=np.float32))
        np.testing.assert_array_equal(load(tmp_path / "pickle_file.pt")["a"], np.arange(2))
    marker = tmp_path / "pwned"
    path = write_torchscript(tmp_path / "scripted.pkl", marker, b"PK\x05\x06")
    with pytest.raises(UnsafePickleError, match=r"scripted\.pkl: it is a TorchScript archive"):
        safe_pickle.load_pickle(path)
    assert not marker.exists()


def test_storage_shorter_than_declared_is_a_format_error(tmp_path):
    path = tmp_path / "data.pt"
    torch.save({"x": torch.ones(4)}, path)
    replace_record(path, "data/0", b"\x00" * 4)
    with pytest.raises(DatasetFormatError, match=r"data\.pt \(\d+ bytes\) could not be read as a torch\.save archive: "
                                                 r"it declares storage data/0 of 4 elements x 4 bytes, whose record "
                                                 r"holds 4 bytes"):
        safe_pickle.load(path)


def test_expanded_view_is_refused_before_allocation(tmp_path):
    path = tmp_path / "expanded.pt"
    torch.save({"x": torch.ones(1).expand(10**6, 10**6)}, path)
    with pytest.raises(DatasetFormatError, match=r"expanded\.pt \(\d+ bytes\).*a tensor of size \(1000000, 1000000"
                                                 r"\).*storage of 1 elements"):
        safe_pickle.load(path)


def test_legacy_tar_format_asks_for_a_resave(tmp_path):
    path = tmp_path / "ancient.pt"
    path.write_bytes(b"sys_info".ljust(257, b"\x00") + b"ustar\x0000" + b"\x00" * 300)
    with pytest.raises(DatasetFormatError, match=r"ancient\.pt is a torch\.save file in the tar format of torch < "
                                                 r"0\.4.*save it again"):
        safe_pickle.load(path)
