"""The IEMOCAP release's naming and text files: utterance ids (session, speaker), the consensus labels of
`dialog/EmoEvaluation/*.txt` and the transcripts of `dialog/transcriptions/*.txt` (Busso et al., "IEMOCAP:
Interactive emotional dyadic motion capture database", Language Resources and Evaluation 42, 2008).

Ids: ``Ses01F_impro01_M000`` is session 1 (the fifth character), a dialogue whose marker-wearing actor is Female,
and the first utterance of its Male speaker (the letter before the three digits): speaker ``Ses01M``. Script
dialogues look like ``Ses01F_script01_1`` (utterance ``Ses01F_script01_1_F000``).

EmoEvaluation: a header line ``% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]``, then blank-line separated
blocks whose first line is ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``
(seconds, utterance id, consensus code, mean valence/activation/dominance), followed by per-annotator lines
(``C-E1:<TAB>Neutral;<TAB>()``, ``A-E3:<TAB>val 3; act 2; dom  2;<TAB>()``), which are not used. Codes: neu, hap,
exc, sad, ang, fru, fea, sur, dis, oth, xxx (no majority). Only top-level files whose names start with ``Ses`` are
read: macOS ``._*`` copies and annotator sub-folders are skipped. Transcripts: lines ``<utt_id> [start-end]: text``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emobench.datamodules.errors import DatasetFormatError, DatasetNotFoundError

log = logging.getLogger(__name__)

RELEASE = "IEMOCAP_full_release"
CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "fea", "sur", "dis", "oth", "xxx")
_UTTERANCE = re.compile(r"^Ses0([1-9])[FM]_.+_([FM])\d{3}$")
_BLOCK = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)(?:\s+\[[^\]]*\])?\s*$")
_TRANSCRIPT = re.compile(r"^(Ses\S+)\s+\[[^\]]*\]:\s?(.*)$")


@dataclass(frozen=True)
class Utterance:
    """One labelled utterance of the release."""

    id: str
    code: str
    dialog: str
    session_folder: Path

    @property
    def session(self) -> int:
        return session_of(self.id)

    @property
    def wav(self) -> Path:
        return self.session_folder / "sentences" / "wav" / self.dialog / f"{self.id}.wav"


def session_of(utterance_id: str) -> int:
    """Session number 1..5 from the fifth character of an utterance or dialogue id (``Ses03...`` -> 3)."""
    if not (utterance_id.startswith("Ses0") and utterance_id[4:5].isdigit()):
        raise ValueError(f"{utterance_id!r} is not an IEMOCAP id (expected Ses0<session>...)")
    return int(utterance_id[4])


def speakers_of(utterance_ids: Iterable[str]) -> np.ndarray | None:
    """Speaker (``Ses01F``, ``Ses01M``, ...) of each utterance id, or None if any id does not follow the
    ``Ses0N[FM]_..._[FM]NNN`` pattern."""
    speakers = []
    for utterance_id in utterance_ids:
        match = _UTTERANCE.match(str(utterance_id))
        if match is None:
            return None
        speakers.append(f"Ses0{match.group(1)}{match.group(2)}")
    return np.array(speakers)


def release_folder(root: Path) -> Path | None:
    """`root/IEMOCAP_full_release` or `root` itself, whichever holds `Session<N>` folders; None if neither."""
    for folder in (root / RELEASE, root):
        if folder.is_dir() and any(p.is_dir() and p.name[7:].isdigit() for p in folder.glob("Session*")):
            return folder
    return None


def session_folders(release: Path) -> list[Path]:
    return sorted((p for p in release.glob("Session*") if p.is_dir() and p.name[7:].isdigit()),
                  key=lambda p: int(p.name[7:]))


def evaluation_files(release: Path) -> list[Path]:
    """Every top-level `SessionN/dialog/EmoEvaluation/Ses*.txt` (no `._*` copies, no sub-folders)."""
    files = [p for session in session_folders(release)
             for p in sorted((session / "dialog" / "EmoEvaluation").glob("Ses*.txt")) if p.is_file()]
    if not files:
        raise DatasetNotFoundError(
            f"{release}: no Session<N>/dialog/EmoEvaluation/Ses*.txt label files found. Make sure root points at "
            f"the unpacked {RELEASE} folder (or the folder holding it), as received from USC SAIL.")
    return files


def parse_evaluation(path: Path) -> list[tuple[str, str]]:
    """(utterance id, consensus code) of each block of one EmoEvaluation file, in file order."""
    out = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.startswith("["):
            continue  # header (%), annotator lines (C-/A-), blank lines
        match = _BLOCK.match(line)
        if match is None or match.group(4) not in CODES or _UTTERANCE.match(match.group(3)) is None:
            raise DatasetFormatError(
                f"{path}, line {number}: {line.strip()!r} is not an EmoEvaluation block head "
                "'[start - end]<TAB>Ses0N[FM]_..._[FM]NNN<TAB><code>[<TAB>[v, a, d]]' with a code in "
                f"{list(CODES)}. Make sure the file is the original from the release.")
        out.append((match.group(3), match.group(4)))
    return out


def parse_transcription(path: Path) -> dict[str, str]:
    """Utterance id -> text of one transcription file (lines not starting with an utterance id are skipped)."""
    texts = {}
    for line in _lines(path):
        match = _TRANSCRIPT.match(line.strip())
        if match is not None:
            texts[match.group(1)] = match.group(2).strip()
    return texts


def utterances(release: Path) -> list[Utterance]:
    """Every labelled utterance of the release, sorted by id."""
    found: dict[str, Utterance] = {}
    for path in evaluation_files(release):
        session_folder = path.parents[2]
        for utterance_id, code in parse_evaluation(path):
            if utterance_id in found:
                raise DatasetFormatError(f"{path}: utterance {utterance_id} is labelled twice (also in "
                                         f"{found[utterance_id].dialog}.txt). Make sure the files are the originals.")
            found[utterance_id] = Utterance(utterance_id, code, path.stem, session_folder)
    return [found[k] for k in sorted(found)]


def transcripts(release: Path, dialogs: Iterable[tuple[Path, str]]) -> dict[str, str]:
    """Utterance id -> text from the transcription files of the given (session folder, dialog) pairs."""
    texts: dict[str, str] = {}
    for session_folder, dialog in sorted(set(dialogs)):
        path = session_folder / "dialog" / "transcriptions" / f"{dialog}.txt"
        if not path.is_file():
            raise DatasetNotFoundError(
                f"{path} not found: the transcript of dialogue {dialog}, labelled in its EmoEvaluation file. Make "
                f"sure the {RELEASE} folder is complete (Session<N>/dialog/transcriptions/ as in the release).")
        texts.update(parse_transcription(path))
    return texts


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise DatasetFormatError(f"{path} could not be read ({err}). Make sure the file is readable.") from err


def select(codes: Iterable[str], classes: dict[str, int], source: str) -> np.ndarray:
    """Boolean mask of the codes that `classes` keeps; logs the counts kept and dropped per code."""
    codes = list(codes)
    keep = np.array([c in classes for c in codes], dtype=bool)
    counts: dict[str, int] = {}
    for code in codes:
        counts[code] = counts.get(code, 0) + 1
    kept = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()) if c in classes)
    dropped = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()) if c not in classes) or "none"
    log.info("%s: kept %d of %d labelled utterances (%s); dropped %s", source, int(keep.sum()), len(codes), kept,
             dropped)
    return keep
