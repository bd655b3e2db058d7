"""Data-preparation throughput of the real readers on generated files in their exact formats, for
`emobench perf report`: every registered entry writes its dataset's files at full size (times `fraction`) into a
folder, then the first `setup()` of each datamodule reading them (decode + cache write) and a second, cached one
are timed.

A reader registers its entry in one call, next to nothing else:

    register_data_perf(DataPerfEntry(
        name="mydata", datasets=("mydata",), full_size="20 subjects x 30 trials, 32 channels x 7,680 samples",
        write="tests.fixtures.mydata_files:write_full_size"))

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


def _scaled(full_units: int, full_per_unit: int, fraction: float, min_units: int, min_per_unit: int) -> tuple[int, int]:
    """(units, per unit) holding about `fraction` of `full_units x full_per_unit`: fewer units, at least
    `min_units` (the fewest a reader's folds need), then fewer per unit (at least `min_per_unit`)."""
    units = max(min_units, round(full_units * fraction))
    return units, min(full_per_unit, max(min_per_unit, round(full_units * full_per_unit * fraction / units)))


def _physio_writer(dataset: str) -> Callable[[Path, float], None]:
    """`emobench perf prepare`'s full-size subjects (benchmark/perf_prepare.py): at least 3 subjects (LOSO folds
    with a validation subject), below that fewer trials (DEAP) / clips (DREAMER) / a shorter time scale (WESAD)."""
    def write(folder: Path, fraction: float) -> None:
        from emobench.benchmark.perf_prepare import FULL, FULL_TRIALS, write_files

        subjects, trials = _scaled(FULL[dataset], FULL_TRIALS[dataset], fraction, 3, 2)
        folder.mkdir(parents=True, exist_ok=True)
        write_files(dataset, folder, subjects, None if trials == FULL_TRIALS[dataset] else trials)
    return write


IEMOCAP_DIALOGUES, IEMOCAP_TURNS = 151, 66  # 151 x 66 = 9,966 utterances (release: 10,039 in 151 dialogues)
IEMOCAP_DURATION_SCALE = 6.0  # utterances of 3-6 s, mean 4.5 s (release: about 12 h / 10,039 = 4.5 s)
FOALNET_AUDIO = (75, 150, 225, 300, 375)  # WavLM frames at 50 per second: mean 225 = 4.5 s (files are not cut)
FOALNET_VISUAL = (45, 90, 135, 180, 225)  # CLIP frames per utterance (an assumption: mean 135)
MULT_IEMOCAP_SPLITS = (2717, 798, 938)  # rows of MulT's iemocap_data(_noalign).pkl (train / valid / test)
DIALOGUERNN_VIDEOS, DIALOGUERNN_TEST_VIDEOS, DIALOGUERNN_TURNS = 151, 31, 49  # 7,433 utterances: 151 x 49 = 7,399


def _iemocap_dialogues(fraction: float, turns: int) -> dict:
    from tests.fixtures.iemocap_files import random_dialogues

    return random_dialogues(*_scaled(IEMOCAP_DIALOGUES, turns, fraction, 5, 8))  # 5: one per session


def write_iemocap_raw(folder: Path, fraction: float) -> None:
    from tests.fixtures.iemocap_files import write_release

    write_release(folder, dialogues=_iemocap_dialogues(fraction, IEMOCAP_TURNS),
                  duration_scale=IEMOCAP_DURATION_SCALE, keep=False)


def write_iemocap_foalnet(folder: Path, fraction: float) -> None:
    from tests.fixtures.iemocap_files import write_foalnet

    write_foalnet(folder, FOALNET_AUDIO, FOALNET_VISUAL, dialogues=_iemocap_dialogues(fraction, IEMOCAP_TURNS),
                  keep=False)


def _write_iemocap_mult(folder: Path, fraction: float, aligned: bool) -> None:
    import numpy as np

    from tests.fixtures.iemocap_files import write_mult

    rng = np.random.default_rng(0)
    rows = {split: [tuple(np.eye(4, dtype=int)[k]) for k in rng.integers(0, 4, size=max(2, round(n * fraction)))]
            for split, n in zip(("train", "valid", "test"), MULT_IEMOCAP_SPLITS, strict=True)}
    write_mult(folder, aligned=aligned, rows_per_split=rows, steps=(20, 20, 20) if aligned else (20, 400, 500))


def write_iemocap_mult(folder: Path, fraction: float) -> None:
    _write_iemocap_mult(folder, fraction, aligned=True)


def write_iemocap_mult_unaligned(folder: Path, fraction: float) -> None:
    _write_iemocap_mult(folder, fraction, aligned=False)


def write_iemocap_dialoguernn(folder: Path, fraction: float) -> None:
    import numpy as np

    from tests.fixtures.iemocap_files import random_dialogues, write_dialoguernn

    videos, turns = _scaled(DIALOGUERNN_VIDEOS, DIALOGUERNN_TURNS, fraction, 5, 8)
    rng = np.random.default_rng(0)
    labels = {v: rng.integers(0, 6, size=turns).tolist() for v in random_dialogues(videos, 1)}
    test = max(1, round(videos * DIALOGUERNN_TEST_VIDEOS / DIALOGUERNN_VIDEOS))
    write_dialoguernn(folder, labels=labels, test=tuple(list(labels)[-test:]))


register_data_perf(DataPerfEntry("mosei", ("mosei",), "22,856 segments (16,326 / 1,871 / 4,659), aligned .pt, "
                                 "about 2.2 GB", write_mosei))
register_data_perf(DataPerfEntry("mosei-unaligned", ("mosei",), "22,856 segments, aligned .pt + MulT unaligned "
                                 "pickle (500-step audio/visual), about 8.5 GB", write_mosei_unaligned))
register_data_perf(DataPerfEntry("m3ed", ("m3ed", "m3ed-utterance"), "1,008 dialogues (56 series x 18) of 1-50 "
                                 "utterances, official feature pickle, about 0.2 GB", write_m3ed))

register_data_perf(DataPerfEntry("deap", ("deap",), "32 subjects x 40 trials, 40 channels x 8,064 samples "
                                 "(float64 Python-2 pickles, about 3.3 GB)", _physio_writer("deap")))
register_data_perf(DataPerfEntry("dreamer", ("dreamer",), "23 participants x 18 clips of 65-393 s, EEG 14 x 128 Hz, "
                                 "ECG 2 x 256 Hz, one compressed DREAMER.mat", _physio_writer("dreamer")))
register_data_perf(DataPerfEntry("wesad", ("wesad",), "15 subjects of about 6,400 s, chest at 700 Hz, wrist at "
                                 "32/64/4 Hz (Python-2 pickles of about 281 MB each)", _physio_writer("wesad")))
register_data_perf(DataPerfEntry("iemocap-raw", ("iemocap", "iemocap-6"), "151 dialogues x 66 utterances of 3-6 s "
                                 "(16 kHz PCM16 wavs, EmoEvaluation, transcripts), about 1.4 GB", write_iemocap_raw))
register_data_perf(DataPerfEntry("iemocap-foalnet", ("iemocap",), "151 dialogues x 66 utterances; Foal-Net lists and "
                                 "WavLM (1024-d) / CLIP (768-d) .npy frames of the 4-class ones, about 7 GB",
                                 write_iemocap_foalnet))
register_data_perf(DataPerfEntry("iemocap-mult", ("iemocap",), "MulT's iemocap_data.pkl, 2,717 / 798 / 938 rows of "
                                 "20 steps", write_iemocap_mult))
register_data_perf(DataPerfEntry("iemocap-mult-unaligned", ("iemocap",), "MulT's iemocap_data_noalign.pkl, "
                                 "2,717 / 798 / 938 rows of 20 / 400 / 500 steps, about 0.9 GB",
                                 write_iemocap_mult_unaligned))
register_data_perf(DataPerfEntry("iemocap-dialoguernn", ("iemocap", "iemocap-6"), "DialogueRNN's "
                                 "IEMOCAP_features.pkl, 151 dialogues x 49 utterances (120 / 31 train / test)",
                                 write_iemocap_dialoguernn))

DATA_ARGS = {"mosei-unaligned": {"aligned": False},  # options of the datamodules reading an entry's files
             "iemocap-mult-unaligned": {"aligned": False}}


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


def check_request(names: Sequence[str] | None, fraction: float) -> None:
    """Refuse unknown entries and fractions before anything runs (the report checks them before its long model part)."""
    unknown = sorted(set(names or ()) - set(DATA_PERF))
    if unknown:
        raise ValueError(f"perf report: unknown data entries {unknown}; registered: {sorted(DATA_PERF)}. Make sure "
                         "the names are spelled as listed, or give `--data` without names to skip the data part.")
    if not 0 < fraction <= 1:
        raise ValueError(f"perf report: <--data-fraction={fraction}> must be in (0, 1].")


def measure(names: Sequence[str] | None = None, fraction: float = 1.0,
            workdir: Path | None = None) -> list[DataPerfRow]:
    """Write each entry's files (full size x `fraction`) and time a first and a cached `setup()` of each of its
    datamodules (one fresh cache folder per datamodule)."""
    check_request(names, fraction)
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
