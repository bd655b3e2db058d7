"""WESAD's per-subject questionnaire `S<k>_quest.csv`, the labelled stretch of each condition, and the PANAS
emotion distribution (used by `datamodules.wesad`).

File layout (WESAD readme section III; ASCII, `;`-separated, CRLF, every line padded to 27 fields, no header):
`# Subj;S2`, `# ORDER;Base;TSST;Medi 1;Fun;Medi 2;sRead;fRead` (the conditions in session order; subjects other
than S2 also list `bRead`), `# START` / `# END` (each condition's interval as minutes.seconds from the start of the
raw RespiBAN recording: `7.08` = 7:08, `50.3` = 50:30, `28` = 28:00), then one `# PANAS`, `# STAI` and `# DIM` row
per non-reading condition in ORDER order, and one `# SSSQ` row (after the stress condition). PANAS rows rate 26
items on 1 (not at all) .. 5 (extremely): the 20 PANAS items, Stressed, Frustrated, Happy, (Angry), (Irritated),
Sad; Angry and Irritated are asked after the stress condition only, so the other rows hold 24 values (items 1-23
and Sad) followed by two empty fields.

Stretches: the label array's runs of a condition are its questionnaire interval shortened by 10 s at both ends
(found for all 75 condition boundaries of the release by the structural audit in github.com/SrishtiRathi23/
wearable-stress-reliability, commit 5d7dce0, `data/manifests/wesad_audit.json`: e.g. S10 Base 170-1370 s on the
questionnaire's clock, labelled 92.857-1272.857 s on the pickle's, which starts 87.143 s later). The questionnaire's clock (raw RespiBAN time)
and the pickle's (which starts 43-165 s into that recording) differ by an offset the release does not store; it is
estimated as the median difference of interval midpoints, which the symmetric trim leaves unchanged.

Distribution recipe: the 24 PANAS items rated after every condition (Angry and Irritated, asked after stress only,
are left out so every distribution has the same support), each rating minus 1 (the "not at all" anchor: an emotion
not felt gets no mass), normalised to sum to 1 per condition; a condition rated "not at all" throughout gets the
uniform distribution. Normalising each subject's discrete-emotion ratings to sum to 1 follows Shu et al.,
"Emotion Distribution Learning Based on Peripheral Physiological Signals", IEEE Trans. Affective Computing 2022,
section 3.4 (by the DMER authors' group, whose MPCL evaluates on WESAD too); HeLo (arXiv:2507.06821) does not
publish its recipe. PANAS: Watson, Clark and Tellegen, J. Personality and Social Psychology 54(6), 1988.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.datamodules.errors import DatasetFormatError

log = logging.getLogger(__name__)

#: The 26 PANAS-row items in file order (WESAD readme III.2).
PANAS_ITEMS = ("active", "distressed", "interested", "inspired", "annoyed", "strong", "guilty", "scared", "hostile",
               "excited", "proud", "irritable", "enthusiastic", "ashamed", "alert", "nervous", "determined",
               "attentive", "jittery", "afraid", "stressed", "frustrated", "happy", "angry", "irritated", "sad")
#: The 24 items rated after every condition: the labels of the distribution target.
EMOTIONS = tuple(item for item in PANAS_ITEMS if item not in ("angry", "irritated"))
_FROM_26 = np.array([PANAS_ITEMS.index(item) for item in EMOTIONS])
TRIM_SECONDS = 10.0
#: A stretch boundary within this many seconds of the trimmed questionnaire boundary is kept as the label array has
#: it (questionnaire times are whole seconds); one further out is cut to the questionnaire boundary.
BOUNDARY_TOLERANCE = 2.0
#: Conditions whose midpoints imply clock offsets further than this from the median mean the two files disagree.
MAX_OFFSET_SPREAD = 5.0


def condition_code(name: str) -> int:
    """The label code of an ORDER entry: Base 1, TSST 2, Fun 3, Medi 1 / Medi 2 4, reading blocks 0 (ignored)."""
    if name.endswith("Read"):
        return 0
    if name.startswith("Medi"):
        return 4
    codes = {"Base": 1, "TSST": 2, "Fun": 3}
    if name not in codes:
        raise ValueError(f"unknown condition {name!r} in # ORDER (expected Base, TSST, Fun, Medi 1/2, *Read)")
    return codes[name]


@dataclass(frozen=True)
class Questionnaire:
    """What the reader uses from `S<k>_quest.csv`: ORDER names, START/END in seconds (one per ORDER entry), and
    the (rated conditions, 24) PANAS ratings of `EMOTIONS`, one row per non-reading ORDER entry in ORDER order."""

    path: Path
    order: tuple[str, ...]
    start: np.ndarray
    end: np.ndarray
    panas: np.ndarray

    def rated(self) -> list[tuple[int, int]]:
        """(ORDER index, PANAS row) of each non-reading condition."""
        entries = [i for i, name in enumerate(self.order) if condition_code(name)]
        return [(i, row) for row, i in enumerate(entries)]


def parse_minutes_seconds(token: str) -> float:
    """`7.08` -> 428 s, `50.3` -> 3030 s (the seconds are left-justified), `28` -> 1680 s."""
    minutes, _, seconds = token.strip().partition(".")
    if not minutes.isdigit() or (seconds and not seconds.isdigit()) or len(seconds) > 2:
        raise ValueError(f"{token!r} is not a minutes.seconds time")
    value = int(seconds.ljust(2, "0")) if seconds else 0
    if value >= 60:
        raise ValueError(f"{token!r} has {value} seconds")
    return 60.0 * int(minutes) + value


def _values(fields: list[str], line: int) -> list[str]:
    values = [f.strip() for f in fields[1:]]
    while values and not values[-1]:
        values.pop()
    if "" in values:
        raise ValueError(f"line {line} has an empty field between values")
    return values


def read_questionnaire(path: Path) -> Questionnaire:
    """Parse `path`; a malformed file is a `DatasetFormatError` naming it, the line and what was found."""
    try:
        lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
        rows: dict[str, list[tuple[int, list[str]]]] = {}
        for number, text in enumerate(lines, start=1):
            fields = text.split(";")
            marker = fields[0].strip()[1:].strip().upper() if fields[0].strip().startswith("#") else ""
            if marker in ("ORDER", "START", "END", "PANAS"):  # STAI, DIM, SSSQ and Subj are not used
                rows.setdefault(marker, []).append((number, _values(fields, number)))
        for marker in ("ORDER", "START", "END", "PANAS"):
            if marker not in rows:
                raise ValueError(f"there is no '# {marker}' line")
        order = rows["ORDER"][0][1]
        times = {}
        for marker in ("START", "END"):
            line, tokens = rows[marker][0]
            if len(tokens) != len(order):
                raise ValueError(f"line {line} (# {marker}) has {len(tokens)} times for {len(order)} ORDER entries")
            times[marker] = np.array([parse_minutes_seconds(t) for t in tokens])
        rated = [name for name in order if condition_code(name)]
        if len(rows["PANAS"]) != len(rated):
            raise ValueError(f"it has {len(rows['PANAS'])} '# PANAS' lines for the {len(rated)} rated conditions "
                             f"{rated}")
        panas = []
        for line, tokens in rows["PANAS"]:
            if len(tokens) not in (24, 26):
                raise ValueError(f"line {line} (# PANAS) has {len(tokens)} values, expected 24 or 26")
            values = np.array([float(t) for t in tokens])
            if not ((values >= 1) & (values <= 5)).all():
                raise ValueError(f"line {line} (# PANAS) has values outside 1-5: {tokens}")
            panas.append(values[_FROM_26] if len(values) == 26 else values)
    except (OSError, ValueError) as err:
        raise DatasetFormatError(f"{path}: {err}. Expected WESAD's S<k>_quest.csv (';'-separated lines '# ORDER', "
                                 "'# START', '# END' in minutes.seconds, one '# PANAS' line of 24 or 26 ratings 1-5 "
                                 "per rated condition). Make sure the file is the original from WESAD.zip.") from err
    return Questionnaire(path, tuple(order), times["START"], times["END"], np.array(panas))


def panas_distribution(ratings: np.ndarray) -> np.ndarray:
    """(N, 24) PANAS ratings 1-5 -> (N, 24) float32 distributions: (rating - 1) normalised to sum to 1, uniform
    where every item is rated 1."""
    weights = np.asarray(ratings, dtype=np.float64) - 1.0
    total = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / max(1, weights.shape[1]))
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), uniform).astype(np.float32)


@dataclass(frozen=True)
class Stretch:
    """One condition's labelled samples [start, stop) of the 700 Hz label array; `panas` is its PANAS row in the
    questionnaire (-1 without one)."""

    code: int
    start: int
    stop: int
    panas: int = -1


def label_runs(label: np.ndarray, codes: tuple[int, ...]) -> list[Stretch]:
    """Maximal runs of each of `codes` in `label`, in time order."""
    label = np.asarray(label)
    if not len(label):
        return []
    change = np.flatnonzero(label[1:] != label[:-1]) + 1
    starts, stops = np.r_[0, change], np.r_[change, len(label)]
    keep = np.isin(label[starts], codes)
    return [Stretch(int(label[a]), int(a), int(b)) for a, b in zip(starts[keep], stops[keep], strict=True)]


def condition_stretches(label: np.ndarray, rate: int, codes: tuple[int, ...], quest: Questionnaire | None,
                        pickle_path: Path) -> list[Stretch]:
    """The labelled stretch of every run of `codes`, in time order.

    Without a questionnaire: the label array's runs (in the release these are already the questionnaire intervals
    shortened by 10 s). With one: runs are matched to its conditions in time order per code, the clock offset is
    estimated from interval midpoints, and a run boundary lying more than `BOUNDARY_TOLERANCE` s outside the
    interval shortened by `TRIM_SECONDS` at both ends is cut to it (a label array covering whole intervals is thus
    trimmed as the release is). Differing counts, or clocks that disagree by more than `MAX_OFFSET_SPREAD` s between
    conditions, are a `DatasetFormatError` naming both files.
    """
    runs = label_runs(label, codes)
    if quest is None:
        return runs

    def fail(what: str) -> None:
        raise DatasetFormatError(f"{pickle_path} and {quest.path} disagree: {what}. Make sure both come from the same "
                                 "subject's folder of the original WESAD.zip (without the questionnaire the label "
                                 "array alone is used, with target=condition).")

    pairs = []
    for code in codes:
        mine = [run for run in runs if run.code == code]
        rated = sorted(((i, row) for i, row in quest.rated() if condition_code(quest.order[i]) == code),
                       key=lambda pair: quest.start[pair[0]])
        if len(mine) != len(rated):
            names = [quest.order[i] for i, _ in rated]
            fail(f"the label array has {len(mine)} run(s) of code {code}, the questionnaire {len(rated)} ({names})")
        pairs.extend(zip(mine, rated, strict=True))
    if not pairs:
        return []
    offsets = np.array([(quest.start[i] + quest.end[i]) / 2 - (run.start + run.stop) / 2 / rate
                        for run, (i, _) in pairs])
    offset = float(np.median(offsets))
    worst = int(np.argmax(np.abs(offsets - offset)))
    if abs(offsets[worst] - offset) > MAX_OFFSET_SPREAD:
        fail(f"condition {quest.order[pairs[worst][1][0]]} is {offsets[worst] - offset:+.1f} s off the clock offset "
             f"{offset:.1f} s that the other conditions imply")
    stretches, cut = [], []
    for run, (i, row) in pairs:
        low = (quest.start[i] + TRIM_SECONDS - offset) * rate
        high = (quest.end[i] - TRIM_SECONDS - offset) * rate
        start = run.start if run.start >= low - BOUNDARY_TOLERANCE * rate else int(np.ceil(low))
        stop = run.stop if run.stop <= high + BOUNDARY_TOLERANCE * rate else int(np.floor(high))
        if (start, stop) != (run.start, run.stop):
            cut.append(quest.order[i])
        if stop > start:
            stretches.append(Stretch(run.code, start, stop, row))
    if cut:
        log.info("%s: label runs of %s reach into the 10 s at the ends of their questionnaire intervals; cut to "
                 "the intervals shortened by 10 s", pickle_path, ", ".join(cut))
    return sorted(stretches, key=lambda s: s.start)
