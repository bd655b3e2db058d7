"""Timing of the decoded-array cache on the real-format readers: `python -m emobench.benchmark.perf_cache`.

Writes CMU-MOSEI (`train_valid_test.pt`) and M3ED (official feature pickle) files in their exact formats at a
realistic but small size (default: 5% of MOSEI's 22,856 segments; 56 series x 3 dialogues of up to 80 utterances
for M3ED) into a temporary folder, then times `setup()` of a first datamodule (reads the files, writes the cache)
and of a second, fresh instance with the same options (cache hit), and prints both times and their ratio. The
issue's target is a second setup at least 5x faster than the first.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the fixture writers live in tests/, which is not installed
    sys.path.insert(0, str(ROOT))


def _timed_setups(name: str, root: Path, cache_root: Path, repeats: int) -> dict[str, float]:
    """Fastest of `repeats` rounds (each with an empty cache folder) of: a first datamodule's `setup()` (reads the
    files, writes the cache) and a second, fresh one's `setup()` (cache hit). Each setup is split into getting
    the arrays (decode or cache load) and the rest of `setup()` (per-fold normalisation and tensors)."""
    from emobench.datamodules import DATAMODULES

    cls = DATAMODULES.get(name)
    best: dict[str, float] = {}
    for round_ in range(repeats):
        for which in ("first", "second"):
            dm = cls(root=str(root), cache_dir=str(cache_root / f"round{round_}"))
            start = time.perf_counter()
            _ = dm.arrays
            arrays = time.perf_counter() - start
            dm.setup()
            total = time.perf_counter() - start
            for key, value in ((f"{which}_arrays", arrays), (f"{which}_setup", total)):
                best[key] = min(best.get(key, float("inf")), value)
        best["samples"] = len(dm.arrays)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mosei-fraction", type=float, default=0.05,
                        help="share of MOSEI's 16,326 / 1,871 / 4,659 split sizes to write (default 0.05)")
    parser.add_argument("--m3ed-dialogues-per-series", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="rounds per dataset; the fastest is shown")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the files here instead of a temp dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    try:  # the real-format file writers live with the tests, in the source tree
        from tests.fixtures.m3ed_files import m3ed_content, random_dialogues, write_m3ed_pickle
        from tests.fixtures.mosei_files import write_mosei_pt
    except ImportError as err:
        raise FileNotFoundError(
            f"emobench perf cache writes its files with the test fixtures of the source tree ({err}). Make sure to "
            "run it from a clone of the repository (its root as the working directory).") from err

    with tempfile.TemporaryDirectory(prefix="emobench-perf-cache-") as tmp:
        work = args.workdir or Path(tmp)
        sizes = tuple(max(2, round(n * args.mosei_fraction)) for n in (16326, 1871, 4659))
        write_mosei_pt(work / "mosei", sizes=sizes)
        dialogues = random_dialogues(per_series=args.m3ed_dialogues_per_series)
        write_m3ed_pickle(work / "m3ed", m3ed_content(dialogues))
        rows = []
        for name, root in (("mosei", work / "mosei"), ("m3ed", work / "m3ed"), ("m3ed-utterance", work / "m3ed")):
            size_mb = sum(f.stat().st_size for f in root.iterdir()) / 2**20
            rows.append((name, size_mb, _timed_setups(name, root, work / "cache" / name, args.repeats)))
        print(f"fastest of {args.repeats} rounds; 'arrays' = decode files + write cache (1st) or load cache (2nd), "
              "'setup' = all of setup() (arrays + per-fold normalisation statistics, cached per fold)")
        print(f"{'dataset':<16}{'samples':>8}{'file MB':>8}{'1st arrays':>12}{'2nd arrays':>12}{'ratio':>8}"
              f"{'1st setup':>11}{'2nd setup':>11}{'ratio':>7}")
        for name, size_mb, t in rows:
            print(f"{name:<16}{t['samples']:>8.0f}{size_mb:>8.1f}{t['first_arrays']:>11.3f}s"
                  f"{t['second_arrays']:>11.3f}s{t['first_arrays'] / t['second_arrays']:>7.0f}x"
                  f"{t['first_setup']:>10.3f}s{t['second_setup']:>10.3f}s{t['first_setup'] / t['second_setup']:>6.1f}x")
        slow = [name for name, _, t in rows if t["first_setup"] / t["second_setup"] < 5]
        print("target (2nd setup() >= 5x faster):", "met" if not slow else f"not met for {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
