"""The restricted unpickler: numpy and plain containers load, anything that could run code is refused before it
runs (for .pkl and .pt), data declaring more than the file holds is refused before allocation, Python-2 pickles
need and get latin1, and broken or pathological files give one readable error."""

from __future__ import annotations

import collections
import pickle

import numpy as np
import pytest
import torch

from emobench.datamodules import safe_pickle
from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError, UnsafePickleError
from tests.fixtures import write_python2_pickle
from tests.fixtures.hostile_files import Reduce, deep_pickle, oversized_pickles, reusing_pickle, touch_payload


class _CallsNumpyGlobal:
    """A payload hidden behind an importable numpy function that is not on the allow-list."""

    def __reduce__(self):
        return np.load, ("/nonexistent.npy",)


def _payload(marker) -> dict:
    return {"features": [np.zeros(3, np.float32), {"nested": touch_payload(marker)}]}


def _plain_values() -> dict:
    return {
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "ints": np.array([1, 2, 3], dtype=np.int64),
        "strings": np.array(["a", "bc"]),
        "objects": np.array([b"x", "y"], dtype=object),
        "scalars": [np.float32(1.5), np.int64(7), np.bool_(True), np.str_("s")],
        "dtype": np.dtype("<f8"),
        "record": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")]),
        "containers": (collections.OrderedDict(a=1), {1, 2}, frozenset({3}), b"raw", b"", bytearray(b"ba"), 1 + 2j),
    }


def _assert_plain_equal(loaded: dict, expected: dict) -> None:
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(loaded[key], value)
            assert loaded[key].dtype == value.dtype
        else:
            assert loaded[key] == value, key


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_and_plain_containers_load(tmp_path, protocol):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(_plain_values(), protocol=protocol))
    _assert_plain_equal(safe_pickle.load_pickle(path), _plain_values())


def test_torch_file_with_numpy_tensors_and_legacy_format(tmp_path):
    values = _plain_values()
    torch.save({**values, "tensor": torch.arange(4.0)}, tmp_path / "new.pt")
    torch.save({"tensor": torch.ones(2, 3)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    loaded = safe_pickle.load_torch(tmp_path / "new.pt")
    np.testing.assert_array_equal(loaded.pop("tensor"), np.arange(4.0, dtype=np.float32))
    _assert_plain_equal(loaded, values)
    legacy = safe_pickle.load(tmp_path / "legacy.pt")
    assert isinstance(legacy["tensor"], np.ndarray) and legacy["tensor"].shape == (2, 3)


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_payload(marker), protocol=4))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*`(posix|nt|os)\.system`"):
        safe_pickle.load_pickle(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # control: the payload really runs under the plain unpickler
    assert marker.exists()


def test_malicious_torch_file_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(_payload(marker), path)
    with pytest.raises(UnsafePickleError, match=r"evil\.pt.*`(posix|nt|os)\.system`"):
        safe_pickle.load_torch(path)
    with pytest.raises(UnsafePickleError):
        safe_pickle.load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # control: the plain torch.load would run it
    assert marker.exists()


def test_unlisted_numpy_function_is_refused(tmp_path):
    path = tmp_path / "numpy_call.pkl"
    path.write_bytes(pickle.dumps([_CallsNumpyGlobal()], protocol=2))
    with pytest.raises(UnsafePickleError, match=r"numpy_call\.pkl.*`numpy\.load`"):
        safe_pickle.load_pickle(path)


def test_python2_pickle_needs_latin1_and_gets_it(tmp_path):
    value = collections.OrderedDict(data=np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
                                    labels=np.array([[5.0, 1.5]]), names=["s01", "s02"], rate=np.float64(128.0))
    path = write_python2_pickle(value, tmp_path / "s01.dat")
    with pytest.raises(UnicodeDecodeError):  # the fixture really is Python-2 style
        with path.open("rb") as file:
            pickle.load(file)
    with pytest.raises(DatasetFormatError, match=r"s01\.dat.*encoding='latin1'"):
        safe_pickle.load_pickle(path, encoding="ASCII")
    loaded = safe_pickle.load_pickle(path)
    np.testing.assert_array_equal(loaded["data"], value["data"])
    np.testing.assert_array_equal(loaded["labels"], value["labels"])
    assert loaded["names"] == ["s01", "s02"] and loaded["rate"] == 128.0
    as_bytes = safe_pickle.load_pickle(path, encoding="bytes")
    assert list(as_bytes) == ["data", "labels", "names", "rate"], "bytes keys are normalised to str"
    assert as_bytes["names"] == [b"s01", b"s02"]  # values stay as stored
    np.testing.assert_array_equal(as_bytes["data"], value["data"])


def test_str_keys_recurses_and_keeps_ordered_dicts():
    nested = collections.OrderedDict([(b"a", [{b"b": (1, {b"c": 2})}]), ("d", 3)])
    out = safe_pickle.str_keys(nested)
    assert isinstance(out, collections.OrderedDict)
    assert out == {"a": [{"b": (1, {"c": 2})}], "d": 3}


@pytest.mark.parametrize("suffix", [".pkl", ".pt"])
def test_truncated_file_is_a_readable_format_error(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".pt":
        torch.save({"x": np.ones((50, 50))}, path)
    else:
        path.write_bytes(pickle.dumps({"x": np.ones((50, 50))}, protocol=4))
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(DatasetFormatError, match=rf"data\{suffix} \(\d+ bytes\).*truncated or corrupt"):
        safe_pickle.load(path)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing.pkl does not exist"):
        safe_pickle.load_pickle(tmp_path / "nothing.pkl")
    with pytest.raises(FileNotFoundError):
        safe_pickle.load_torch(tmp_path / "nothing.pt")


@pytest.mark.parametrize(("name", "blob"), list(oversized_pickles().items()), ids=list(oversized_pickles()))
def test_declared_sizes_beyond_the_file_are_refused_before_allocation(tmp_path, name, blob):
    path = tmp_path / "tiny.pkl"
    path.write_bytes(blob)
    assert path.stat().st_size < 250
    with pytest.raises(DatasetFormatError) as caught:
        safe_pickle.load(path)
    message = str(caught.value)
    assert "tiny.pkl" in message and "more than the file holds" in message and "\n" not in message
    assert "1,000,000,000,000" in message or "1000000000000" in message, "the declared size is named"


def test_one_stored_piece_reused_many_times_is_refused(tmp_path):
    path = tmp_path / "reused.pkl"
    path.write_bytes(reusing_pickle(size=2**20, copies=200))  # 1 MiB stored once, 200 MiB built
    with pytest.raises(DatasetFormatError, match=r"reused\.pkl \(\d+ bytes\) could not be read as a pickle.*it "
                                                 r"declares bytes of 1,048,576 bytes, which takes what the [\d,]+-byte "
                                                 r"file builds past [\d,]+ bytes \(one stored piece reused"):
        safe_pickle.load(path)
    path.write_bytes(reusing_pickle(size=2**20, copies=3))
    assert len(safe_pickle.load(path)) == 3, "a few reuses stay within the budget"


@pytest.mark.parametrize("circular", [False, True])
def test_deep_or_circular_nesting_is_one_short_error(tmp_path, circular):
    path = tmp_path / "deep.pkl"
    if circular:
        loop: list = []
        loop.append(loop)
        path.write_bytes(pickle.dumps({"x": loop}, protocol=4))
    else:
        path.write_bytes(deep_pickle(100_000))
    with pytest.raises(DatasetFormatError, match=r"deep\.pkl: its data is nested more than 100 levels deep") as caught:
        safe_pickle.load(path)
    assert len(str(caught.value)) < 300 and caught.value.__cause__ is None and caught.value.__suppress_context__


def _nest(kind: str, levels: int, leaf=0):
    """`leaf` inside `levels` containers of one kind, so that the leaf sits at depth `levels`."""
    value = leaf
    for _ in range(levels):
        if kind == "object array":
            holder = np.empty(1, dtype=object)
            holder[0] = value
            value = holder
        else:
            value = {"dict": lambda v: {b"k": v}, "list": lambda v: [v], "tuple": lambda v: (v,),
                     "frozenset": lambda v: frozenset({v})}[kind](value)
    return value


@pytest.mark.parametrize("kind", ["dict", "list", "tuple", "frozenset", "object array"])
def test_str_keys_accepts_exactly_max_depth_and_refuses_one_more(kind):
    safe_pickle.str_keys(_nest(kind, safe_pickle.MAX_DEPTH))  # the leaf at depth MAX_DEPTH is still fine
    with pytest.raises(safe_pickle.NestingError, match=f"more than {safe_pickle.MAX_DEPTH} levels"):
        safe_pickle.str_keys(_nest(kind, safe_pickle.MAX_DEPTH + 1))


def test_str_keys_decodes_bytes_keys_at_every_depth_utf8_first_then_latin1():
    deep = _nest("dict", safe_pickle.MAX_DEPTH - 1, leaf={b"caf\xc3\xa9": 1, b"\xe9t\xe9": 2, "plain": 3, 7: 4})
    out = safe_pickle.str_keys(deep)
    for _ in range(safe_pickle.MAX_DEPTH - 1):
        assert list(out) == ["k"], "every level's bytes key became str"
        out = out["k"]
    assert out == {"café": 1, "été": 2, "plain": 3, 7: 4}  # UTF-8 when it decodes, else latin1; others kept


def test_pickle_with_bytes_keys_nested_to_max_depth_loads_and_one_more_is_refused(tmp_path):
    path = tmp_path / "nested.pkl"
    path.write_bytes(pickle.dumps(_nest("dict", safe_pickle.MAX_DEPTH, leaf=np.arange(3)), protocol=4))
    out = safe_pickle.load(path)
    for _ in range(safe_pickle.MAX_DEPTH):
        out = out["k"]
    np.testing.assert_array_equal(out, np.arange(3))
    path.write_bytes(pickle.dumps(_nest("dict", safe_pickle.MAX_DEPTH + 1), protocol=4))
    with pytest.raises(DatasetFormatError, match=r"nested\.pkl: its data is nested more than 100 levels deep"):
        safe_pickle.load(path)


def _array_pickle(state, subtype=np.ndarray) -> bytes:
    """What numpy writes for an array (an empty template, then BUILD with `state`), with the parts replaced."""
    from numpy._core.multiarray import _reconstruct

    return pickle.dumps(Reduce(_reconstruct, (subtype, (0,), b"b"), state), protocol=2)


def test_an_array_built_from_a_well_formed_state_loads(tmp_path):
    path = tmp_path / "array.pkl"
    path.write_bytes(_array_pickle((1, (2,), np.dtype("<f4"), False, np.array([1.5, -2], "<f4").tobytes())))
    np.testing.assert_array_equal(safe_pickle.load(path), np.array([1.5, -2], np.float32))


@pytest.mark.parametrize(("state", "subtype", "message"), [
    ((1, (2,), "<f4", False, bytes(8)), np.ndarray, r"array dtype '<f4' is not a numpy dtype"),
    (((2,), np.dtype("<f4"), bytes(8)), np.ndarray, r"ndarray state \(\(2,\), .* is not numpy's \(version, shape, "),
    ([1, (2,), np.dtype("<f4"), False, bytes(8)], np.ndarray, r"ndarray state \[1, \(2,\), .* is not numpy's"),
    ((1, (2,), np.dtype("<f4"), False, bytes(8)), np.dtype, r"_reconstruct of <class 'numpy\.dtype'>, expected numpy"),
], ids=["dtype-not-a-dtype", "state-of-3", "state-a-list", "template-not-ndarray"])
def test_array_state_not_as_numpy_writes_it_is_refused_by_name(tmp_path, state, subtype, message):
    """Each malformed part is named in the error (not an AttributeError or IndexError from deeper down)."""
    path = tmp_path / "array.pkl"
    path.write_bytes(_array_pickle(state, subtype))
    with pytest.raises(DatasetFormatError, match=r"array\.pkl \(\d+ bytes\) could not be read as a pickle .*"
                                                 r"UnpicklingError: " + message):
        safe_pickle.load(path)
