"""A training run's checkpoints: what they hold, how best.pt is chosen, how a run resumes exactly
where last.pt left it (or starts from another run's weights, --init), and its log."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vidcolor.models import ColorModel, ModelConfig
from vidcolor.models.base import L_UNITS
from vidcolor.tempfiles import atomic_write, write_text
from vidcolor.weights import read_weights

COLOR_FLOOR = 0.6  # best.pt needs validation colourfulness >= this fraction of the truth's
LR_FLOOR = 0.05  # cosine schedule ends at this fraction of the initial learning rate
LOG_FIELDS = ["epoch", "train_loss", "val_loss", "val_psnr", "val_psnr_grey", "val_colourfulness", "lr", "images",
              "seconds", "images_per_s"]


@dataclass
class RunState:
    """What a run carries from epoch to epoch and from one process to its resumption."""
    start_epoch: int = 0
    best: tuple = (-1, -math.inf)  # selection_key of best.pt so far
    history: list = field(default_factory=list)  # one log row per epoch
    elapsed_before: float = 0.0  # wall seconds of the run before this process
    lineage: list = field(default_factory=list)  # the runs these weights went through before
    snapshots: list = field(default_factory=list)  # --snapshot-minutes already written
    extra: dict = field(default_factory=dict)  # the a/b prior and class weights of a classification run


def selection_key(row: dict) -> tuple[int, float]:
    """What best.pt maximises: PSNR among epochs at least COLOUR_FLOOR as colourful as the truth;
    below the floor, colourfulness (so a sepia epoch never beats a colourful one)."""
    colourful = row.get("val_colourfulness", 0.0) >= COLOR_FLOOR
    return (1, row["val_psnr"]) if colourful else (0, row.get("val_colourfulness", 0.0))


def save_checkpoint(path: Path, **state) -> None:
    with atomic_write(path) as tmp:
        torch.save(state, tmp)


def resume(path: Path, config: ModelConfig, model, optimizer, scheduler, scaler, args, report) -> RunState:
    """Load last.pt into the run's objects and return its state; a changed --epochs refits the
    cosine schedule to the new plan."""
    ckpt = read_weights(path)["checkpoint"]
    saved = ModelConfig.from_dict(ckpt["config"])
    if saved != config:
        was = saved.to_dict()
        differ = ", ".join(f"{k} {was[k]} (not {v})" for k, v in config.to_dict().items() if was[k] != v)
        raise ValueError(f"--resume: {path} was trained with {differ}; leave out the flags that change them")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    start = ckpt["epoch"] + 1
    if args.planned_epochs is not None and args.epochs != args.planned_epochs:
        # a new plan: the cosine refitted to it, each group at the rate it has at this epoch
        # of the new plan (the scheduler's own recursion would stay where the old plan left it)
        scheduler.T_max = args.epochs
        progress = min(start / args.epochs, 1.0)
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
            floor = base * LR_FLOOR
            group["lr"] = floor + (base - floor) * (1 + math.cos(math.pi * progress)) / 2
        report(f"resuming at epoch {start + 1} of {args.epochs} (the run planned {args.planned_epochs}); "
               f"learning rate refitted to the new plan: {optimizer.param_groups[0]['lr']:.2g}")
    elif start >= args.epochs:
        raise ValueError(f"--resume: {path} has finished its {args.epochs} epochs; give a larger --epochs to "
                         "train on")
    else:
        report(f"resuming at epoch {start + 1} of {args.epochs}, on the run's own schedule")
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    torch.set_rng_state(ckpt["rng"])
    history = ckpt["history"]
    state = RunState(start, max((selection_key(h) for h in history), default=(-1, -math.inf)), history,
                     ckpt.get("wall_seconds", 0.0), ckpt.get("lineage", []), list(ckpt.get("snapshots", [])))
    if "ab_prior" in ckpt:
        state.extra["ab_prior"] = ckpt["ab_prior"].double()
    return state


def start_from(path, model, config: ModelConfig) -> tuple[RunState, dict]:
    """--init: another run's weights loaded where they fit, and what they went through before this
    run (for the model card); returns the state and the weights file read."""
    init = read_weights(path)
    fresh = init_from(model, init)
    # a release file keeps its run's facts in its metadata, a checkpoint in itself
    meta, run = init.get("metadata", {}), init.get("checkpoint", {})
    history_of = run.get("history") or ([meta["history_last"]] if meta.get("history_last") else [])
    lineage = run.get("lineage", meta.get("lineage", [])) + [{
        "checkpoint": str(path), "config": init["config"],
        "epochs": run.get("epoch", meta.get("epochs", 0) - 1) + 1,
        "wall_seconds": run.get("wall_seconds", meta.get("wall_seconds", 0.0)),
        "images": sum(h.get("images", 0) for h in run.get("history", [])),
        "last": (history_of or [{}])[-1], "not_loaded": fresh,
        "prior_correction": meta.get("prior_correction", 0.0)}]
    state = RunState(lineage=lineage)
    if "ab_prior" in run and init["config"].get("num_bins") == config.num_bins:
        state.extra["ab_prior"] = run["ab_prior"].double()
    return state, init


def init_from(model: ColorModel, init: dict) -> list[str]:
    """Load another checkpoint's weights into ``model``: every tensor whose shape fits (a regression
    model's body into a classification model: all but the last conv). When the first conv was
    trained on other L units it is rescaled to give the same response to the new units. Returns
    the names of the tensors left at their fresh values."""
    state = init["state_dict"]
    old = ModelConfig.from_dict(init["config"])
    own = model.state_dict()
    fits = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    first = model.first_conv()
    first_w, first_b = f"{first}.weight", f"{first}.bias"
    if first is not None and old.input_scaling != model.config.input_scaling and first_w in fits:
        # L* = gain * x + offset for the new units x; conv(L*) = (gain W) x + (b + offset sum W)
        gain, offset = L_UNITS[model.config.input_scaling]
        # and the old units u = (L* - old offset) / old gain = from_gain * L* + from_offset
        old_gain, old_offset = L_UNITS[old.input_scaling]
        from_gain, from_offset = 1.0 / old_gain, -old_offset / old_gain
        # the old net saw u = from_gain * L* + from_offset; express u in the new units x
        w = fits[first_w].float()
        fits[first_w] = w * from_gain * gain
        fits[first_b] = fits[first_b].float() + (w.sum(dim=(1, 2, 3)) * (from_gain * offset + from_offset))
    model.load_state_dict(fits, strict=False)
    return sorted(set(own) - set(fits) - {"ab_bins"})  # the bins are the model's own, never trained


def stringify(d: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in d.items()}


def write_log(path: Path, history: list[dict]) -> None:
    """log.csv: one row per epoch, written whole (atomically) after each."""
    lines = io.StringIO(newline="")
    writer = csv.DictWriter(lines, fieldnames=LOG_FIELDS)
    writer.writeheader()
    writer.writerows(history)
    write_text(path, lines.getvalue())
