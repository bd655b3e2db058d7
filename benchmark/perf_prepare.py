"""Throughput of feature preparation on full-size generated subjects: `emobench perf prepare deap|dreamer`.

deap: writes `--subjects` full-size DEAP subjects (40 trials x 40 channels x 8064 samples, float64: 103.2 MB of
signal each, as Python-2 pickles like the real `sNN.dat`) into a temporary folder, then times `prepare()` (read,
1-s window features, per-subject cache) with `--workers` processes, and prints MB of raw signal per second and the
projected time for all 32 subjects. The issue's target: all of DEAP in under 2 minutes on 2 cores (TorchEEG
1.1.3's reader took about 89 s per subject on such a machine).
dreamer: one DREAMER.mat with `--subjects` participants of 18 clips whose lengths are spread evenly over
65-393 s (the range reported for DREAMER's clips), full 61-s baselines, EEG 14 x 128 Hz and ECG 2 x 256 Hz; the
file is decompressed once, subjects are computed one after another; projected for 23 participants.
wesad: `--subjects` WESAD subjects (`S<k>/S<k>.pkl` Python-2 pickles with chest signals at 700 Hz and wrist
signals at 32/64/4 Hz, plus `S<k>_quest.csv`) at the real length (scale 40: about 6,400 s, a 281 MB pickle, as a
real subject); `--trials N` shortens them to scale N; projected for 15 subjects.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the real-format file writers live with the tests, in the source tree
    sys.path.insert(0, str(ROOT))

FULL = {"deap": 32, "dreamer": 23, "wesad": 15}
FULL_TRIALS = {"deap": 40, "dreamer": 18, "wesad": 40}  # wesad: the time scale of the generated subjects
TARGET_SECONDS = {"deap": 120.0}


def write_files(dataset: str, folder: Path, subjects: int, trials: int | None) -> float:
    """Write `subjects` subjects of `dataset` in its real format into `folder` (`trials`: trials / clips / time
    scale per subject, None = the real ones); returns the MB of raw signal (float64 samples) they hold."""
    try:
        if dataset == "deap":
            from tests.fixtures.deap_files import deap_subject, write_deap_subject
        elif dataset == "wesad":
            from tests.fixtures.wesad_files import write_wesad
        else:
            from scipy.io import savemat

            from tests.fixtures.dreamer_files import dreamer_struct
    except ImportError as err:
        raise FileNotFoundError(
            f"emobench perf prepare writes its files with the test fixtures of the source tree ({err}). Make sure "
            "to run it from a clone of the repository (its root as the working directory).") from err
    if dataset == "deap":
        for number in range(1, subjects + 1):
            arrays = deap_subject(trials=trials or 40, seconds=60, seed=number)
            write_deap_subject(folder / f"s{number:02d}.dat", arrays)
        return subjects * arrays["data"].nbytes / 1e6
    if dataset == "wesad":
        written = write_wesad(folder, subjects=tuple(range(2, 2 + subjects)), scale=trials or FULL_TRIALS["wesad"])
        return sum(np.asarray(a).size * 8 for w in written.values() for device in w["content"]["signal"].values()
                   for a in device.values()) / 1e6
    content = [_dreamer_subject(seed, trials or 18) for seed in range(subjects)]
    savemat(folder / "DREAMER.mat", {"DREAMER": dreamer_struct(content)}, do_compression=True)
    values = sum(a.size for s in content for part in ("EEG", "ECG") for kind in ("baseline", "stimuli")
                 for a in s[part][kind][:, 0])
    return values * 8 / 1e6


def _dreamer_subject(seed: int, clips: int = 18) -> dict:
    """A full-size DREAMER participant (integer-valued signals, as the Emotiv/Shimmer raw values are)."""
    from tests.fixtures.dreamer_files import cell

    rng = np.random.default_rng(seed)
    seconds = np.linspace(65, 393, clips).round().astype(int)
    scores = {k: rng.integers(1, 6, size=(clips, 1)).astype(np.float64)
              for k in ("ScoreValence", "ScoreArousal", "ScoreDominance")}
    eeg = [np.round(4200 + rng.normal(0, 6, size=(128 * s, 14))) for s in seconds]
    ecg = [np.round(2000 + rng.normal(0, 30, size=(256 * s, 2))) for s in seconds]
    return {"Age": "25", "Gender": "male",
            "EEG": {"baseline": cell([np.round(4200 + rng.normal(0, 6, size=(7808, 14))) for _ in seconds]),
                    "stimuli": cell(eeg)},
            "ECG": {"baseline": cell([np.round(2000 + rng.normal(0, 30, size=(15616, 2))) for _ in seconds]),
                    "stimuli": cell(ecg)}, **scores}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(FULL), help="which reader to time")
    parser.add_argument("--subjects", type=int, default=2, help="full-size subjects to generate (default 2)")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes for prepare (DEAP; DREAMER's one file is read by one process)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials (DEAP) / clips (DREAMER) per subject, time scale (WESAD); default the real 40 / 18 / 40")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the files here instead of a temp dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from emobench.datamodules import DATAMODULES

    with tempfile.TemporaryDirectory(prefix="emobench-perf-prepare-") as tmp:
        work = args.workdir or Path(tmp)
        data = work / args.dataset
        data.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        megabytes = write_files(args.dataset, data, args.subjects, args.trials)
        written = time.perf_counter() - start
        datamodule = DATAMODULES.get(args.dataset)(root=str(data), cache_dir=str(work / "cache"))
        workers = args.workers if datamodule.subjects_in_parallel else 1
        start = time.perf_counter()
        datamodule.prepare(workers=workers)
        seconds = time.perf_counter() - start
    rate = megabytes / seconds
    full_trials = FULL_TRIALS[args.dataset]
    projected = seconds / args.subjects * FULL[args.dataset] * full_trials / (args.trials or full_trials)
    size = "full-size" if args.trials is None else f"{args.trials}-trial"
    print(f"{args.dataset}: {args.subjects} {size} subject(s), {megabytes:.1f} MB of float64 signal (written in "
          f"{written:.1f} s); prepare() with {workers} worker(s): {seconds:.2f} s = {seconds / args.subjects:.2f} s "
          f"per subject, {rate:.1f} MB/s")
    line = f"projected for all {FULL[args.dataset]} subjects: {projected:.0f} s ({projected / 60:.1f} min)"
    if args.dataset in TARGET_SECONDS:
        met = projected < TARGET_SECONDS[args.dataset]
        line += f"; target < {TARGET_SECONDS[args.dataset]:.0f} s: {'met' if met else 'not met'}"
    print(line)
    return {"seconds": seconds, "mb_per_s": rate, "projected_s": projected, "workers": workers}


if __name__ == "__main__":
    main()
