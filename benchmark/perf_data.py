"""Data-preparation throughput of the real readers on generated files in their exact formats, for
`emobench perf report`: every registered entry writes its dataset's files at full size (times `fraction`) into a
folder, then the first `setup()` of each datamodule reading them (decode + cache write) and a second, cached one
are timed.

A reader registers its entry in one call, next to nothing else:

    register_data_perf(DataPerfEntry(
        name="deap", datasets=("deap",), full_size="32 subjects x 40 trials, 40 channels x 8,064 samples",
        write="tests.fixtures.deap_files:write_full_size"))

`write` names a function `write(folder: Path, fraction: float) -> None` as "module:function"; it is imported only
when the entry runs (the fixture writers live with the tests, in the source tree, not in the installed package).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MOSEI_SPLITS = (16326, 1871, 4659)  # the official CMU-MOSEI split sizes (22,856 segments)
M3ED_DIALOGUES_PER_SERIES = 18  # 56 series x 18 = 1,008 dialogues (official M3ED: 990 dialogues)
M3ED_MAX_LEN = 50  # utterances per dialogue 1..50, mean 25.5 (official: 24,449 / 990 = 24.7)


@dataclass(frozen=True)
class DataPerfEntry:
    """One dataset's files: `write` (a callable or "module:function") writes them, `datasets` are the registered
    datamodule names that read that folder; `full_size` says what fraction 1.0 means."""

    name: str
    datasets: tuple[str, ...]
    full_size: str
    write: str | Callable[[Path, float], None]

    def writer(self) -> Callable[[Path, float], None]:
        if callable(self.write):
            return self.write
        module, _, function = self.write.partition(":")
        if str(ROOT) not in sys.path:  # the fixture writers live with the tests, in the source tree
            sys.path.insert(0, str(ROOT))
        try:
            return getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as err:
            raise FileNotFoundError(
                f"perf data entry {self.name}: cannot import its file writer <{self.write}> ({err}). Make sure to "
                "run `emobench perf report` from a clone of the repository (its root as the working directory).") from err


DATA_PERF: dict[str, DataPerfEntry] = {}


def register_data_perf(entry: DataPerfEntry) -> DataPerfEntry:
    if entry.name in DATA_PERF:
        raise ValueError(f"perf data entry <{entry.name}> is registered twice. Make sure each dataset registers once.")
    DATA_PERF[entry.name] = entry
    return entry


def write_mosei(folder: Path, fraction: float) -> None:
    from tests.fixtures.mosei_files import write_mosei_pt

    write_mosei_pt(folder, sizes=tuple(max(2, round(n * fraction)) for n in MOSEI_SPLITS))


def write_mosei_unaligned(folder: Path, fraction: float) -> None:
    from tests.fixtures.mosei_files import write_mosei_pt, write_mosei_unaligned_pkl

    sizes = tuple(max(2, round(n * fraction)) for n in MOSEI_SPLITS)
    write_mosei_pt(folder, sizes=sizes)
    write_mosei_unaligned_pkl(folder, sizes=sizes)


def write_m3ed(folder: Path, fraction: float) -> None:
    from tests.fixtures.m3ed_files import m3ed_content, random_dialogues, write_m3ed_pickle

    per_series = max(1, round(M3ED_DIALOGUES_PER_SERIES * fraction))
    write_m3ed_pickle(folder, m3ed_content(random_dialogues(per_series=per_series, max_len=M3ED_MAX_LEN)))


register_data_perf(DataPerfEntry("mosei", ("mosei",), "22,856 segments (16,326 / 1,871 / 4,659), aligned .pt, "
                                 "about 2.2 GB", write_mosei))
register_data_perf(DataPerfEntry("mosei-unaligned", ("mosei",), "22,856 segments, aligned .pt + MulT unaligned "
                                 "pickle (500-step audio/visual), about 8.5 GB", write_mosei_unaligned))
register_data_perf(DataPerfEntry("m3ed", ("m3ed", "m3ed-utterance"), "1,008 dialogues (56 series x 18) of 1-50 "
                                 "utterances, official feature pickle, about 0.2 GB", write_m3ed))

DATA_ARGS = {"mosei-unaligned": {"aligned": False}}  # options of the datamodules reading an entry's files


@dataclass
class DataPerfRow:
    entry: str
    dataset: str
    fraction: float
    samples: int
    file_mb: float
    first_setup_s: float
    samples_per_s: float
    mb_per_s: float
    cached_setup_s: float


def _setup_seconds(dataset: str, root: Path, cache: Path, options: dict) -> tuple[float, int]:
    from emobench.datamodules import DATAMODULES

    dm = DATAMODULES.get(dataset)(root=str(root), cache_dir=str(cache), **options)
    start = time.perf_counter()
    dm.setup()
    return time.perf_counter() - start, len(dm.arrays)


def measure(names: Sequence[str] | None = None, fraction: float = 1.0,
            workdir: Path | None = None) -> list[DataPerfRow]:
    """Write each entry's files (full size x `fraction`) and time a first and a cached `setup()` of each of its
    datamodules (one fresh cache folder per datamodule)."""
    unknown = sorted(set(names or ()) - set(DATA_PERF))
    if unknown:
        raise ValueError(f"perf report: unknown data entries {unknown}; registered: {sorted(DATA_PERF)}. Make sure "
                         "the names are spelled as listed.")
    if not 0 < fraction <= 1:
        raise ValueError(f"perf report: <--data-fraction={fraction}> must be in (0, 1].")
    rows = []
    with tempfile.TemporaryDirectory(prefix="emobench-perf-data-", dir=workdir) as tmp:
        for name in names or sorted(DATA_PERF):
            entry, folder = DATA_PERF[name], Path(tmp) / name
            entry.writer()(folder, fraction)
            size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
            for dataset in entry.datasets:
                cache = Path(tmp) / "cache" / f"{name}-{dataset}"
                options = DATA_ARGS.get(name, {})
                first, samples = _setup_seconds(dataset, folder, cache, options)
                cached, _ = _setup_seconds(dataset, folder, cache, options)
                rows.append(DataPerfRow(name, dataset, fraction, samples, round(size_mb, 1), round(first, 3),
                                        round(samples / first, 1), round(size_mb / first, 1), round(cached, 3)))
    return rows
