"""`torch.save` files read without `torch.load`: the same arrays as torch's own loader for both layouts, and every
way to make torch run code (TorchScript, disguised or not; malicious legacy and zip pickles) refused, decided by
the bytes and not by the file name."""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch

from emobench.datamodules import safe_pickle, torch_format
from emobench.datamodules.errors import DatasetFormatError, UnsafePickleError
from tests.fixtures.hostile_files import Reduce, replace_record, touch_payload, write_torchscript

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


def _save_rebuild(path, offset, size, stride):
    """A torch.save file whose tensor is rebuilt with the given geometry over a 4-element float storage."""
    storage = torch.arange(4.0)._typed_storage()
    args = (storage, offset, size, stride, False, collections.OrderedDict())
    torch.save({"x": Reduce(torch._utils._rebuild_tensor_v2, args)}, path)
    return path


def test_tensor_geometry_within_the_storage_loads_as_torch_would(tmp_path):
    path = _save_rebuild(tmp_path / "ok.pt", 1, (2, 2), (0, 2))
    np.testing.assert_array_equal(safe_pickle.load(path)["x"], [[1.0, 3.0], [1.0, 3.0]])
    np.testing.assert_array_equal(torch.load(path, weights_only=False)["x"].numpy(), [[1.0, 3.0], [1.0, 3.0]])


@pytest.mark.parametrize(("offset", "size", "stride"), [(3, (4,), (-1,)), (-1, (2,), (1,)), (0, (2, 2), (1,)),
                                                        (0, (2,), (1.0,))],
                         ids=["negative-stride", "negative-offset", "fewer-strides", "float-stride"])
def test_invalid_tensor_geometry_is_refused(tmp_path, offset, size, stride):
    """Refused before any read: a negative stride or offset would read the storage backwards or before its start."""
    path = _save_rebuild(tmp_path / "geometry.pt", offset, size, stride)
    with pytest.raises(DatasetFormatError, match=r"geometry\.pt \(\d+ bytes\) could not be read as a torch\.save "
                                                 r"archive: UnpicklingError: tensor geometry offset=.* is not valid"):
        safe_pickle.load(path)


class _LegacyPickler(pickle.Pickler):
    """Writes `STORAGE` as the persistent id of a float storage "0" of `numel` elements seen through `view`."""

    def __init__(self, file, numel: int, view) -> None:
        super().__init__(file, protocol=2)
        self.pid = ("storage", torch.FloatStorage, "0", "cpu", numel, view)

    def persistent_id(self, obj):
        return self.pid if obj is STORAGE else None


STORAGE = object()


def _write_legacy(path, *, view=None, size=4, keys=("0",), numel=4):
    """A legacy (torch < 1.6 layout) torch.save file written field by field as torch's `_legacy_save` does: magic,
    protocol, system info, the object pickle, the storage key list, then each storage (int64 count, raw data).
    Current torch never writes storage views (`view`: (view key, offset, size)); files from torch < 0.4 did."""
    with path.open("wb") as file:
        for value in (torch_format.LEGACY_MAGIC, torch_format.LEGACY_PROTOCOL,
                      {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(value, file, protocol=2)
        tensor = Reduce(torch._utils._rebuild_tensor_v2, (STORAGE, 0, (size,), (1,), False, collections.OrderedDict()))
        _LegacyPickler(file, numel, view).dump({"x": tensor})
        pickle.dump(list(keys), file, protocol=2)
        file.write(struct.pack("<q", numel) + np.arange(numel, dtype="<f4").tobytes())
    return path


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_legacy_storage_view_reads_its_slice_as_torch_does(tmp_path, offset):
    path = _write_legacy(tmp_path / "view.pt", view=("1", offset, 2), size=2)
    expected = [offset, offset + 1.0]
    np.testing.assert_array_equal(safe_pickle.load(path)["x"], expected)
    np.testing.assert_array_equal(torch.load(path, weights_only=False)["x"].numpy(), expected)  # the control
    np.testing.assert_array_equal(safe_pickle.load(_write_legacy(tmp_path / "plain.pt"))["x"], [0.0, 1.0, 2.0, 3.0])


@pytest.mark.parametrize(("view", "message"), [
    (("1", 3, 2), r"declares a storage view of 2 elements at 3 into 4 elements"),
    (("1", -1, 2), r"storage view \('1', -1, 2\) is not \(key, offset, size\)"),
    (["1", 1, 2], r"storage view \['1', 1, 2\] is not \(key, offset, size\)"),
    (("1", 1), r"storage view \('1', 1\) is not \(key, offset, size\)")], ids=["past-end", "negative", "list", "short"])
def test_legacy_storage_view_outside_its_storage_or_malformed_is_refused(tmp_path, view, message):
    path = _write_legacy(tmp_path / "view.pt", view=view, size=2)
    with pytest.raises(DatasetFormatError, match=r"view\.pt .*" + message):
        safe_pickle.load(path)


@pytest.mark.parametrize("keys", [(), ("0", "1"), ("1",)], ids=["none", "extra", "other"])
def test_legacy_storage_key_list_that_does_not_match_the_storages_used_is_refused(tmp_path, keys):
    path = _write_legacy(tmp_path / "keys.pt", keys=keys)
    with pytest.raises(DatasetFormatError, match=r"keys\.pt .*storage key list \[.*\] does not match the storages used"):
        safe_pickle.load(path)


def test_zip_storage_declared_twice_with_another_dtype_is_refused(tmp_path):
    """Two tensors pointing at one storage record with different element types (float32 and int32, both 4 x 4
    bytes): reading the floats' bytes as integers would be silent garbage, so the second declaration is refused."""
    path = tmp_path / "twice.pt"
    torch.save({"a": torch.arange(4.0), "b": torch.arange(4, dtype=torch.int32)}, path)
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))
    key_one = b"X\x01\x00\x00\x001"  # BINUNICODE "1": the second storage's key
    assert data.count(key_one) == 1
    replace_record(path, "data.pkl", data.replace(key_one, b"X\x01\x00\x00\x000"))
    with pytest.raises(DatasetFormatError, match=r"twice\.pt .*storage data/0 is declared twice, differently"):
        safe_pickle.load(path)
