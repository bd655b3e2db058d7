"""Example of adding a dataset: one file, one subclass. Point it at a folder holding
`labels.csv` (columns id, subject, then one 0/1 column per emotion) and one `<modality>.npy` array (N, T, D) per
modality, rows in the order of the CSV. Run it with
`emobench run model=early_fusion dataset=my-npy imports=[examples/npy_dataset.py] data_args.root=/path/to/folder`."""

from pathlib import Path

import numpy as np
import pandas as pd

from emobench.datamodules import DatasetArrays, EmotionDataModule, ModalitySpec, TaskSpec
from emobench.datamodules.errors import DatasetFormatError, require_files

LABELS = ("calm", "happy", "sad")
# name -> (feature dim, steps, kind); a kind the suite does not know ("respiration") declares its group.
MODALITIES = {"eeg": (8, 16, "eeg"), "breathing": (1, 16, "respiration")}


class NpyDataset(EmotionDataModule, name="my-npy"):
    """Multi-label emotions from EEG and respiration, split by subject (5-fold group k-fold by default)."""

    default_protocol = "group-kfold"

    def describe(self):  # from the options alone: the task and every modality, without reading files
        specs = tuple(ModalitySpec(name, dim, steps, kind, group="physiological")
                      for name, (dim, steps, kind) in MODALITIES.items())
        return TaskSpec("multilabel", LABELS), specs

    def source_files(self) -> list[Path]:  # these files' sizes/mtimes key the cache; missing ones are named
        names = ["labels.csv", *(f"{m}.npy" for m in MODALITIES)]
        return require_files(self.root, names, "my-npy", obtain="written by your own export script",
                             docs="examples/npy_dataset.py")

    def read(self) -> DatasetArrays:  # files -> arrays; the base checks shapes against describe()
        labels_csv, *arrays = self.source_files()
        table = pd.read_csv(labels_csv)
        missing = {"id", "subject", *LABELS} - set(table.columns)
        if missing:
            raise DatasetFormatError(f"{labels_csv}: missing column(s) {sorted(missing)}. Make sure the header is "
                                     f"id,subject,{','.join(LABELS)}.")
        inputs = {name: np.load(path, allow_pickle=False).astype(np.float32)  # never unpickle a data file
                  for name, path in zip(MODALITIES, arrays, strict=True)}
        masks = {name: np.ones(x.shape[:2], dtype=bool) for name, x in inputs.items()}  # no padding here
        return DatasetArrays(inputs=inputs, masks=masks, target=table[list(LABELS)].to_numpy(np.float32),
                             groups=table["subject"].to_numpy(np.int64), ids=table["id"].astype(str).to_numpy())
