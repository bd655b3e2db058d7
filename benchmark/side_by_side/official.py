"""Build the OFFICIAL implementation of a method from a local checkout and return one training step of it, on the
same random batch that EmoBench's model gets (`side_by_side.py` times both). Nothing of the official code is
vendored: each builder imports it from the checkout path at run time. Where the released code does not run on a
current stack, a run-time shim below makes it run without touching the checkout's files (each one says why).

Checkouts (the commits the EmoBench docstrings read; `git clone` + `git checkout <commit>`):
- TAILOR  https://github.com/kniter1/TAILOR                  d61121b  (`src/models/models.py`, `train.py`)
- CARAT   https://github.com/chengzju/CARAT                  3210086  (`models/models.py`, `main.py`)
- MulT    https://github.com/yaohungt/Multimodal-Transformer a670936  (`src/models.py`, `src/train.py`)
- Foal-Net https://github.com/ASolitaryMan/Foal-Net          781849f  (`model.py`, `train.py`)

Published settings used (each builder's docstring repeats its own): TAILOR and CARAT as their `train.sh` (text /
visual / audio layers 6 / 4 / 4, hidden 256, official BertAdam lr 5e-5 with warm-up 0.1, weight decay 0.01,
`clip_grad_norm_(1.0)`), CMU-MOSEI aligned, batch 64; MulT as `main.py`'s defaults (d 30, 5 layers, 5 heads,
Adam lr 1e-3, clip 0.8, batch 24) on CMU-MOSEI unaligned shapes; Foal-Net as `train.py` (AdamW lr 1e-4, no
clipping, batch 16) on its IEMOCAP inputs, WavLM excluded on both sides (frames given, as EmoBench reads them).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from emobench.datamodules.batch import EmotionBatch


@dataclass
class OfficialStep:
    """One training step of the official model (forward with its losses, backward, clipping, optimiser)."""

    parameters: int
    step: Callable[[], float]  # runs one step, returns the loss
    note: str = ""


def _check(root: Path, method: str, expected: str) -> Path:
    root = Path(root).expanduser().resolve()
    if not (root / expected).is_file():
        raise FileNotFoundError(
            f"side_by_side: <{method}={root}> is not a checkout of the official {method} code: {root / expected} "
            f"does not exist. Make sure the path is the repository root of a clone (see benchmark/side_by_side/"
            f"official.py for the URL and commit).")
    return root


def _package(name: str, folder: Path) -> None:
    """Register `folder` as package `name`, so its modules' relative imports resolve there (the official folders
    have no __init__.py or would clash with EmoBench's own `models` folder)."""
    module = types.ModuleType(name)
    module.__path__ = [str(folder)]
    sys.modules[name] = module


def _load(name: str, path: Path, replace: dict[str, str] | None = None) -> types.ModuleType:
    """Import `path` as module `name`; `replace` edits its source text in memory only (run-time shims)."""
    source = path.read_text()
    for old, new in (replace or {}).items():
        if old not in source:
            raise RuntimeError(f"side_by_side: shim for {path} expected the text {old!r}; this checkout differs from "
                               "the commit the shim was written for. Make sure it is at the commit named in "
                               "benchmark/side_by_side/official.py.")
        source = source.replace(old, new)
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    module.__package__ = name.rpartition(".")[0]
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _stub_modules(names: dict[str, dict[str, object]]) -> None:
    """Modules imported at the top of official files but never used on the timed path (download helpers, multi-GPU
    gathering): empty stand-ins, registered only when the real package is not installed."""
    installed = {top: top in sys.modules or importlib.util.find_spec(top) is not None
                 for top in {name.split(".")[0] for name in names}}
    for name, attributes in names.items():
        if installed[name.split(".")[0]]:
            continue
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module


# imported by TAILOR's and CARAT's `file_utils.py` (a copy of pytorch-pretrained-bert's) to download configs;
# never called here: the configs are read from the checkout
DOWNLOAD_MODULES = {"boto3": {}, "botocore": {}, "botocore.exceptions": {"ClientError": Exception}, "requests": {}}


def _mosei_inputs(batch: EmotionBatch) -> tuple[torch.Tensor, ...]:
    """TAILOR / CARAT loader order: text, text mask, visual, visual mask, audio, audio mask (masks int64 ones)."""
    out = []
    for name in ("text", "visual", "audio"):
        out += [batch.inputs[name], batch.masks[name].long()]
    return tuple(out)


def _bert_adam_step(model: torch.nn.Module, module: types.ModuleType, lr: float) -> Callable[[torch.Tensor], None]:
    """The official train loops: backward, `clip_grad_norm_(1.0)`, BertAdam (warmup_linear over 20 epochs of
    MOSEI at batch 64 = 5,100 steps, weight decay 0.01, per-tensor clipping 1.0), zero_grad."""
    optimizer = module.BertAdam(model.parameters(), lr=lr, warmup=0.1, schedule="warmup_linear", t_total=5100,
                                weight_decay=0.01, max_grad_norm=1.0)

    def update(loss: torch.Tensor) -> None:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    return update


def tailor(root: Path, batch: EmotionBatch) -> OfficialStep:
    """kniter1/TAILOR: `TAILOR.from_pretrained` with `train.sh`'s settings, aligned MOSEI, `training=True` loss
    (ml + 0.01 adv + 5e-6 diff + 0.5 cml). Shim: `src/models/file_utils.py` imports boto3/botocore/requests (used
    only to download configs, never here); stand-ins are registered when they are not installed."""
    root = _check(root, "tailor", "src/models/models.py")
    _stub_modules(DOWNLOAD_MODULES)
    _package("tailor_official", root / "src" / "models")
    models = importlib.import_module("tailor_official.models")
    optimization = importlib.import_module("tailor_official.optimization")
    args = argparse.Namespace(text_dim=300, video_dim=35, audio_dim=74, num_classes=6, aligned=True, max_words=60,
                              max_frames=60, max_sequence=60, hidden_size=256, bert_num_hidden_layers=6,
                              visual_num_hidden_layers=4, audio_num_hidden_layers=4, cross_num_hidden_layers=3,
                              decoder_num_hidden_layers=1, local_rank=0)
    model = models.TAILOR.from_pretrained("bert-base", "visual-base", "audio-base", "cross-base", "decoder-base",
                                          task_config=args)
    model.train()
    update = _bert_adam_step(model, optimization, lr=5e-5)
    inputs = _mosei_inputs(batch)
    label_input, label_mask = torch.arange(6), torch.ones(6, dtype=torch.long)

    def step() -> float:
        loss, *_ = model(*inputs, label_input, label_mask, groundTruth_labels=batch.target, training=True)
        update(loss)
        return float(loss.detach())

    return OfficialStep(sum(p.numel() for p in model.parameters()), step)


def carat(root: Path, batch: EmotionBatch) -> OfficialStep:
    """chengzju/CARAT: `CARAT.from_pretrained` with `train.sh`'s settings and loss weights, aligned MOSEI. Shims
    (the released training path fails on a current stack): `models/models.py` uses `np` without importing numpy
    (added), and `shuffle_total_aug.view(...)` fails on a non-contiguous tensor ("view size is not compatible"),
    run as `.reshape(...)`, which computes the same values; both edits are made to the source text in memory.
    `models/file_utils.py` imports boto3/botocore/requests (downloads only): stand-ins when not installed."""
    root = _check(root, "carat", "models/models.py")
    _stub_modules(DOWNLOAD_MODULES)
    _package("carat_official", root / "models")
    module = _load("carat_official.models", root / "models" / "models.py", replace={
        "import logging\n": "import logging\nimport numpy as np\n",
        "shuffle_aug_out = self.agg(shuffle_total_aug.view(": "shuffle_aug_out = self.agg(shuffle_total_aug.reshape(",
    })
    optimization = importlib.import_module("carat_official.optimization")
    args = argparse.Namespace(
        text_dim=300, video_dim=35, audio_dim=74, num_classes=6, aligned=True, hidden_size=256, proj_size=64,
        text_num_hidden_layers=6, visual_num_hidden_layers=4, audio_num_hidden_layers=4, proto_m=0.99,
        moco_queue=8192, binary_threshold=0.25, unaligned_mask_same_length=False, local_rank=0,
        lsr_clf_weight=0.01, recon_clf_weight=0.0, aug_clf_weight=0.1, cl_weight=1.0, aug_mse_weight=1.0,
        beta_mse_weight=0.0, recon_mse_weight=1.0, lsr_vae_weight=1.0, total_aug_clf_weight=1.0,
        shuffle_aug_clf_weight=0.1)
    model = module.CARAT.from_pretrained("configs", "configs", "configs", task_config=args)
    model.train()
    update = _bert_adam_step(model, optimization, lr=5e-5)
    inputs = _mosei_inputs(batch)
    label_input, label_mask = torch.arange(6), torch.ones(6, dtype=torch.long)

    def step() -> float:
        loss, *_ = model(*inputs, label_input, label_mask, groundTruth_labels=batch.target, training=True)
        update(loss)
        return float(loss.detach())

    return OfficialStep(sum(p.numel() for p in model.parameters()), step)


def mult(root: Path, batch: EmotionBatch) -> OfficialStep:
    """yaohungt/Multimodal-Transformer: `MULTModel` with `main.py`'s defaults (all three modalities, d 30, 5
    layers, 5 heads, dropouts as the argparse defaults, causal attention mask on), Adam lr 1e-3, clip 0.8. The
    official model predicts 1 sentiment value on MOSEI (L1 loss); here it predicts the 6 emotion logits with
    binary cross-entropy, the task EmoBench's `mult` is timed on (a 30 x 6 instead of a 30 x 1 output layer).
    Shim: `modules/position_embedding.py` calls `.view(-1)` on positions built from a transposed (non-contiguous)
    slice, which current torch refuses ("view size is not compatible"); it runs as `.reshape(-1)`, same values."""
    root = _check(root, "mult", "src/models.py")
    _package("modules", root / "modules")  # `src/models.py` imports the top-level package `modules`
    _load("modules.position_embedding", root / "modules" / "position_embedding.py",
          replace={"index_select(0, positions.view(-1))": "index_select(0, positions.reshape(-1))"})
    module = _load("mult_official_models", root / "src" / "models.py")
    hyp = argparse.Namespace(
        orig_d_l=batch.inputs["text"].shape[-1], orig_d_a=batch.inputs["audio"].shape[-1],
        orig_d_v=batch.inputs["visual"].shape[-1], vonly=True, aonly=True, lonly=True, num_heads=5, layers=5,
        attn_dropout=0.1, attn_dropout_a=0.0, attn_dropout_v=0.0, relu_dropout=0.1, res_dropout=0.1,
        out_dropout=0.0, embed_dropout=0.25, attn_mask=True, output_dim=batch.target.shape[-1])
    model = module.MULTModel(hyp)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_l, x_a, x_v = batch.inputs["text"], batch.inputs["audio"], batch.inputs["visual"]

    def step() -> float:
        optimizer.zero_grad()  # src/train.py: model.zero_grad() before the forward
        preds, _ = model(x_l, x_a, x_v)
        loss = F.binary_cross_entropy_with_logits(preds, batch.target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.8)
        optimizer.step()
        return float(loss.detach())

    return OfficialStep(sum(p.numel() for p in model.parameters()), step, "6 logits + BCE (official: 1 + L1)")


def foalnet(root: Path, batch: EmotionBatch) -> OfficialStep:
    """ASolitaryMan/Foal-Net: `MultiTaskModel` (2-layer a2v / v2a cross-attention, AVEL, MEM with hard negatives
    drawn per sample in a Python loop, classifier), loss CE + AVEL + 0.1 MEM, AdamW lr 1e-4, no clipping, as
    `train.py`. WavLM-large is left out on both sides: its `forward_wavlm` is replaced on the instance by the
    given 1024-d frames through its own `dropout1` (WavLM-large's final_dropout 0.0), the way EmoBench reads
    precomputed frames; the model is built on a 1-layer random `WavLMConfig` whose WavLM is then removed, so the
    parameter count is Foal-Net's own layers. Shims: `accelerate` (imported for multi-GPU gathering, unused on one
    process) gets a stand-in when absent; transformers 5 removed `freeze_feature_extractor`, which `__init__`
    calls, so it is provided for the construction. fp16 autocast (the official `mixed_precision='fp16'`) is a GPU
    setting; on CPU both sides run in float32."""
    root = _check(root, "foalnet", "model.py")
    try:
        from transformers import WavLMConfig, WavLMModel
    except ImportError as err:
        raise ImportError("side_by_side: the official Foal-Net model subclasses transformers' WavLM classes. Make "
                          "sure `transformers` is installed (pip install -e '.[wavlm]').") from err
    _stub_modules({"accelerate": {}, "accelerate.utils": {},
                   "accelerate.utils.operations": {"_gpu_gather_object": lambda obj: obj}})
    if not hasattr(WavLMModel, "freeze_feature_extractor"):
        WavLMModel.freeze_feature_extractor = lambda self: self.feature_extractor._freeze_parameters()
    module = _load("foalnet_official_model", root / "model.py")
    config = WavLMConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(32,), conv_stride=(5,), conv_kernel=(10,), num_conv_pos_embeddings=4,
                         num_conv_pos_embedding_groups=2, final_dropout=0.0)
    model = module.MultiTaskModel(config)
    del model.wavlm
    frames_of = {}

    def forward_wavlm(input_values, attention_mask=None, **_):
        return model.dropout1(input_values), frames_of["mask"]

    model.forward_wavlm = forward_wavlm
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    audio, video = batch.inputs["audio"], batch.inputs["visual"]
    frames_of["mask"] = batch.masks["audio"]

    def step() -> float:
        optimizer.zero_grad()
        # the official forward zeroes padded frames in place: give it fresh copies, as its loader does
        logits, loss_avc, loss_itm = model(input_values=audio.clone(), vinput_values=video.clone(),
                                           attention_mask=None, vattention_mask=batch.masks["visual"],
                                           emo_label=batch.target)
        loss = F.cross_entropy(logits, batch.target) + loss_avc + 0.1 * loss_itm
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return OfficialStep(sum(p.numel() for p in model.parameters()), step, "WavLM excluded (frames given)")


BUILDERS = {"tailor": tailor, "carat": carat, "mult": mult, "foalnet": foalnet}
