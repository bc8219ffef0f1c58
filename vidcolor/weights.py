"""Release weights: tensors plus plain metadata, never pickled objects.

A file is a dict saved with ``torch.save`` and read back with ``torch.load(weights_only=True)``
(a training checkpoint of ``training/`` also loads: it holds its config beside the weights)::

    {"format": "vidcolor", "format_version": 1, "config": {...ModelConfig...},
     "state_dict": {name: tensor}, "metadata": {"provenance": str, "metrics": {...}, ...}}
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import ModelFileError, OptionError
from .models import ColorModel, ModelConfig, build_model, check_config
from .tempfiles import atomic_write

FORMAT_NAME = "vidcolor"
FORMAT_VERSION = 1
DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "default.pt"
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive format begins with a zip local-file header



def resolve_device(device: str | torch.device = "auto", name: str = "device") -> torch.device:
    """'auto' -> CUDA when available, else CPU; an unknown device or 'cuda' without a GPU is an
    ``OptionError`` naming the option as the caller calls it (``name``: ``--device`` at the command line)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise OptionError(f"{name} must be auto, cpu or cuda (or cuda:N), not {device!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise OptionError(f"{name} must be auto, cpu or cuda (or cuda:N), not {str(device)!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"{name} cuda was asked for but no CUDA GPU is available; use {name} cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise OptionError(f"{name} {device} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def save_weights(model: ColorModel, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
                 dtype: torch.dtype | None = None) -> None:
    """Write a release file; ``dtype=torch.float16`` halves its size. Written atomically."""
    state = {k: (v.detach().to("cpu", dtype) if dtype and v.is_floating_point() else v.detach().cpu())
             for k, v in model.state_dict().items()}
    payload = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
               "config": model.config.to_dict(), "state_dict": state, "metadata": metadata or {}}
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)


def read_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a release file or a training checkpoint without building the model: the
    one reader of vidcolor's weight files. Returns the release layout (``config``, ``state_dict``,
    ``metadata``); a training checkpoint's own dict comes along as ``checkpoint``."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a vidcolor weights file (give the .pt file in it)")
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != ZIP_MAGIC:  # torch.save writes a zip archive: anything else is another kind of file
        raise ModelFileError(f"{path} is not a vidcolor weights file (a .pt file written by vidcolor-export "
                             "or vidcolor-train)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError,
            OSError, AttributeError, TypeError, KeyError, IndexError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err).lower() or "unsupported global" in str(err).lower():
            reason = "it holds pickled Python objects, which are never loaded"
        raise ModelFileError(f"{path} is not a vidcolor weights file ({reason[:160]})") from None
    if isinstance(payload, dict) and "format" not in payload and {"model", "config", "epoch"} <= set(payload):
        # a training checkpoint (last.pt, best.pt) holds its config too: use it as it is, and keep
        # the whole of it (optimiser, history, lineage ...) for the toolkit under "checkpoint"
        payload = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": payload["config"],
                   "state_dict": payload["model"], "checkpoint": payload,
                   "metadata": {"provenance": f"training checkpoint {path.name}, epoch {payload['epoch'] + 1}"}}
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is not a vidcolor weights file (no vidcolor header; "
                             "export a training checkpoint with vidcolor-export)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has weights format {payload.get('format_version')!r}; "
                             f"this vidcolor reads version {FORMAT_VERSION}: upgrade vidcolor")
    try:
        check_config(ModelConfig.from_dict(payload["config"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{path} has an invalid model config: {err}") from None
    return payload


def load_model(name_or_path: str | os.PathLike = "default", device: str | torch.device = "auto") -> ColorModel:
    """Rebuild the network from the config stored with its weights, in eval mode on ``device``."""
    if str(name_or_path) == "default":
        if not DEFAULT_WEIGHTS.is_file():
            raise ModelFileError("no default model is installed; pass --model PATH to a vidcolor weights "
                                 "file (train one with vidcolor-train)")
        name_or_path = DEFAULT_WEIGHTS
    payload = read_weights(name_or_path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    model = build_model(ModelConfig.from_dict(payload["config"]), ab_bins=state.get("ab_bins"))
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise ModelFileError(f"{name_or_path}: its tensors do not fit the vidcolor network "
                             "(a state dict of another model?)") from None
    model.metadata = payload.get("metadata", {})
    return model.to(resolve_device(device)).eval()
