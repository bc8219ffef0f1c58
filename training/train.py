"""Train the colourization network on a folder of colour photos.

    python -m training.train --data DIR --out RUN_DIR [--recipe adam-mae-swish] [--size 128]
    torchrun --nproc_per_node 2 -m training.train --data DIR --out RUN_DIR    # data-parallel

Every epoch appends to RUN_DIR/log.csv, redraws loss.png and samples.png, and keeps last.pt and
best.pt. best.pt is chosen so that it does not reward sepia: the best validation PSNR among epochs
whose colourfulness is at least COLOUR_FLOOR of the truth's (until one is, the most colourful).
``--resume`` continues from RUN_DIR/last.pt exactly.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
import contextlib
import csv
import math
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from vidcolor.models.abbins import ab_histogram, rebalance_weights, soft_cross_entropy, soft_encode
from vidcolor.color import lab_to_rgb, rgb_to_lab, to_uint8
from vidcolor.models import ColourModel, ModelConfig, build_model, check_config
from vidcolor.models.base import L_UNITS
from vidcolor.tempfiles import atomic_write
from vidcolor.colorizer import Colorizer, cpu_has_bf16
from vidcolor.weights import ModelFileError, read_weights

from .command import run
from .colourful import LOSS as COLOURFUL_LOSS, ColourfulMSE, keeps_prior_correction
from .data import ColourImages, DataError, make_split, rgb_to_lab_np
from .export import correct_prior
from .metrics import colourfulness, psnr
from .plots import image_sheet, loss_curve
from .recipes import DEFAULT_RECIPE, RECIPES, Recipe

LOSS_NAMES = {"ce": "rebalanced CE", COLOURFUL_LOSS: "a/b MSE + colourfulness"}  # for the loss plot
VAL_SIDE = 256  # validation images are squashed to this side and judged at it, whatever the train size
SHEET_IMAGES = 8  # fixed validation images on the sample sheet
DEFAULT_EPOCHS = 40
LR_FLOOR = 0.05  # cosine schedule ends at this fraction of the initial learning rate
COLOUR_FLOOR = 0.6  # best.pt needs validation colourfulness >= this fraction of the truth's
PRIOR_SIDE = 64  # px: training photos are reduced to this side to measure the a/b prior
LOG_FIELDS = ["epoch", "train_loss", "val_loss", "val_psnr", "val_psnr_grey", "val_colourfulness", "lr", "images",
              "seconds", "images_per_s"]


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of colour photos (searched recursively)")
    p.add_argument("--out", required=True, help="run folder for checkpoints, log and figures")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help=f"training recipe (default {DEFAULT_RECIPE}; --resume takes the run's own)")
    p.add_argument("--optimizer", choices=["adam", "adamw", "rmsprop"], help="override the recipe's optimiser")
    p.add_argument("--loss", choices=["mae", "mse"], help="override a regression recipe's loss")
    p.add_argument("--activation", choices=["swish", "relu"], help="override the recipe's activation")
    p.add_argument("--input-scaling", choices=["raw", "normalized", "centered"],
                   help="override the recipe's L scaling (0..100, 0..1, -1..1)")
    p.add_argument("--lr", type=float, help="initial learning rate (cosine-decayed per epoch)")
    p.add_argument("--clip", type=float, help="clip the gradient norm to this (0: off); default the recipe's")
    p.add_argument("--encoder-lr", type=float, default=None,
                   help="lite0-unet: the encoder's learning rate as a fraction of --lr (0: frozen, the recipe's "
                        "default; 0.1 fine-tunes it, best with --init from a frozen run)")
    p.add_argument("--weight-decay", type=float, default=None, help="AdamW's decoupled weight decay (the recipe's)")
    p.add_argument("--batch-size", type=int, default=16, help="per process")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs in all (default {DEFAULT_EPOCHS}; --resume: the run's own plan, or a new total)")
    p.add_argument("--size", type=int, default=None,
                   help="training crop side, a multiple of 8 (table1) or 32 (lite0-unet); default the recipe's "
                        "(160 for lite0-ce-classify, 256 for the others; --resume: the run's own)")
    p.add_argument("--samples-per-epoch", type=int, default=None,
                   help="random crops per epoch (default: one per training image); more suits small folders")
    p.add_argument("--split", default=None,
                   help="split.json to start from: its photos keep their splits, new photos are added by a hash of "
                        "their ID; the run's own split is RUN_DIR/split.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0,
                   help="data loader processes (0: crops are made between steps, from photos cached in RAM)")
    p.add_argument("--no-cache", action="store_true",
                   help="read photos from disk every epoch instead of keeping them decoded in RAM")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], default="auto",
                   help="mixed precision: bf16 on a CPU that has it, bf16/fp16 on CUDA")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    p.add_argument("--snapshot-minutes", type=float, nargs="*", default=None,
                   help="also keep snapshot-<M>min.pt from the first epoch past each M minutes of wall time")
    p.add_argument("--init", default=None,
                   help="start from the weights of this checkpoint (last.pt/best.pt) instead of random; "
                        "the size and schedule may differ, the network must be the same")
    p.add_argument("--resume", action="store_true",
                   help="continue from RUN_DIR/last.pt (a larger --epochs stretches the rest of the schedule)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in a RUN_DIR that already holds a run (its log and checkpoints are replaced)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def resolve_config(args) -> tuple[ModelConfig, Recipe]:
    """The model config and the recipe of ``args.recipe`` with the overrides given."""
    base = RECIPES[args.recipe or DEFAULT_RECIPE]
    changes = {key: getattr(args, key) for key in ("optimizer", "loss", "activation", "input_scaling", "lr", "clip",
                                                   "encoder_lr", "weight_decay") if getattr(args, key, None) is not None}
    recipe = replace(base, **changes)
    return recipe.model_config(getattr(args, "size", None)), recipe


def amp_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    if choice == "off":
        return None
    if choice == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_bf16() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[choice]


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr)


def param_groups(model: ColourModel, lr: float, encoder_lr: float) -> list[dict]:
    """The parameters to train: a lite0-unet's encoder frozen (``encoder_lr`` 0) or at
    ``encoder_lr`` x ``lr``; everything else at ``lr``."""
    encoder = model.encoder_parameters()
    if not encoder:
        return [{"params": list(model.parameters()), "lr": lr}]
    model.freeze_encoder(encoder_lr == 0)
    ids = {id(p) for p in encoder}
    groups = [{"params": [p for p in model.parameters() if id(p) not in ids], "lr": lr}]
    if encoder_lr:
        groups.append({"params": encoder, "lr": lr * encoder_lr})
    return groups


def loss_fn(name: str):
    """The regression loss on a/b in -1..1 (validation also reports L1 for classification)."""
    return F.mse_loss if name == "mse" else F.l1_loss


class RebalancedCrossEntropy:
    """Zhang et al.'s loss: targets soft-encoded over the 5 nearest a/b bins (Gaussian, sigma 5) at
    the logits' resolution, each pixel weighted by the rebalancing weight of its nearest bin."""

    def __init__(self, centres: torch.Tensor, class_weights: torch.Tensor, ab_scale: float):
        self.centres = centres
        self.class_weights = class_weights
        self.ab_scale = ab_scale

    def __call__(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """logits (N,Q,s,s); ab the dataset's target (N,2,S,S) in -1..1, area-reduced to s x s."""
        ab = F.adaptive_avg_pool2d(ab.float(), logits.shape[-2:]) * self.ab_scale
        with torch.no_grad():
            idx, w = soft_encode(ab, self.centres.to(ab.device))
            pixel_w = self.class_weights.to(ab.device)[idx[:, 0]]
        return soft_cross_entropy(logits, idx, w, pixel_w)


def ab_prior(dataset: ColourImages, centres: torch.Tensor) -> torch.Tensor:
    """Pixel counts per a/b bin over the training photos, each reduced to PRIOR_SIDE on its long side."""
    counts = torch.zeros(len(centres), dtype=torch.float64)
    for i in range(len(dataset.ids)):
        rgb = dataset.image(i)
        scale = PRIOR_SIDE / max(rgb.shape[:2])
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        counts += ab_histogram(rgb_to_lab_np(small)[None, 1:], centres)
    return counts


def make_criterion(config: ModelConfig, recipe: Recipe, model: ColourModel, train_set: ColourImages, state: dict):
    """The training loss; for classification builds (or reuses from ``state``) the a/b prior and
    its rebalancing weights, and stores them in ``state`` for the checkpoint."""
    if config.head == "regression":
        return loss_fn(recipe.loss)
    if "ab_prior" not in state:
        state["ab_prior"] = ab_prior(train_set, model.ab_bins.cpu())
    state["class_weights"] = rebalance_weights(state["ab_prior"])  # also what export's prior correction uses
    if recipe.loss == COLOURFUL_LOSS:
        return ColourfulMSE(model.ab_bins, config.temperature, config.ab_scale)
    return RebalancedCrossEntropy(model.ab_bins, state["class_weights"], config.ab_scale)


def restore_prior(model: ColourModel, recipe: Recipe, init: dict, class_weights: torch.Tensor | None) -> float:
    """A released classification model had part of its rebalancing taken out of its last bias
    (``vidcolor-export --prior-correction``); the rebalanced cross-entropy goes on from the
    uncorrected logits, so put that share back (with this run's class weights); the decoded-colour
    loss trains the release's output as it is. Returns the share restored (0: none)."""
    strength = float(init.get("metadata", {}).get("prior_correction") or 0.0)
    if (not strength or class_weights is None or model.config.head != "classification"
            or keeps_prior_correction(recipe.loss)):
        return 0.0
    correct_prior(model, class_weights, -strength)
    return strength


def init_from(model: ColourModel, init: dict) -> list[str]:
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


def train_one_epoch(model, loader, optimizer, criterion, device, dtype, scaler, bar,
                    clip: float = 0.0) -> tuple[float, int]:
    model.train()
    total, count = 0.0, 0
    start = time.perf_counter()
    for lightness, ab in loader:
        lightness = lightness.to(device).contiguous(memory_format=torch.channels_last)
        ab = ab.to(device)
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with autocast:
            pred = model(lightness)
        loss = criterion(pred.float(), ab)
        if not math.isfinite(loss.item()):  # before the step: a NaN must not reach the weights
            raise FloatingPointError("training loss is not finite; lower --lr or use --amp off")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
        total += loss.item() * len(lightness)
        count += len(lightness)
        if bar is not None:
            bar.update(len(lightness))
            bar.set_postfix(loss=f"{total / count:.4f}", img_s=f"{count / (time.perf_counter() - start):.1f}")
    return total, count


@torch.no_grad()
def evaluate_batches(colorizer: Colorizer, loader, criterion) -> dict:
    """Run validation images through inference as a user would; loss on a/b, PSNR on RGB, and
    colourfulness as a fraction of the truth's (ratio of the means). Returns a dict with loss,
    psnr, psnr_grey, colourfulness and the first predictions as uint8 RGB (preds)."""
    losses, psnrs, greys, colour, colour_truth, preds = [], [], [], [], [], []
    scale = colorizer.config.ab_scale
    for rgb in loader:
        rgb = rgb.to(colorizer.device)
        lab = rgb_to_lab(rgb.permute(0, 3, 1, 2).float() / 255.0)
        lightness = lab[:, :1]
        ab_small = colorizer.predict_ab(lightness)
        ab_pred = colorizer.upsample_ab(ab_small, *lab.shape[-2:])
        out = lab_to_rgb(torch.cat((lightness, ab_pred), dim=1))
        losses.append(criterion(ab_pred / scale, (lab[:, 1:] / scale).clamp(-1, 1), reduction="none")
                      .mean(dim=(1, 2, 3)).cpu())
        out8 = to_uint8(out).permute(0, 2, 3, 1).cpu().numpy()
        grey8 = to_uint8(lab_to_rgb(torch.cat((lightness, torch.zeros_like(ab_pred)), dim=1))).permute(0, 2, 3, 1)
        truth = rgb.cpu().numpy()
        psnrs.extend(psnr(p, t) for p, t in zip(out8, truth))
        greys.extend(psnr(g, t) for g, t in zip(grey8.cpu().numpy(), truth))
        colour.extend(colourfulness(p) for p in out8)
        colour_truth.extend(colourfulness(t) for t in truth)
        if len(preds) < SHEET_IMAGES:
            preds.extend(out8[:SHEET_IMAGES - len(preds)])
    return dict(loss=float(torch.cat(losses).mean()), psnr=float(np.mean(psnrs)), psnr_grey=float(np.mean(greys)),
                colourfulness=float(np.mean(colour) / max(np.mean(colour_truth), 1e-6)), preds=preds)


def selection_key(row: dict) -> tuple[int, float]:
    """What best.pt maximises: PSNR among epochs at least COLOUR_FLOOR as colourful as the truth;
    below the floor, colourfulness (so a sepia epoch never beats a colourful one)."""
    colourful = row.get("val_colourfulness", 0.0) >= COLOUR_FLOOR
    return (1, row["val_psnr"]) if colourful else (0, row.get("val_colourfulness", 0.0))


def setup_distributed(device_arg: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts a process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_arg == "auto":
        device_arg = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(f"cuda:{local}" if device_arg == "cuda" and world > 1 else device_arg)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def save_checkpoint(path: Path, **state) -> None:
    with atomic_write(path) as tmp:
        torch.save(state, tmp)


def resume_defaults(args) -> None:
    """Fill --recipe and --size: a resumed run's own (from its last.pt), else the defaults. A
    resumed run given another recipe or size is refused with the flags that would match."""
    saved = {}
    last = Path(args.out) / "last.pt"
    if args.resume and last.is_file():
        try:
            saved = read_weights(last).get("checkpoint", {}).get("args", {})
        except ModelFileError as err:
            raise DataError(f"--resume: {err}; start afresh with --overwrite") from None
    for name in ("recipe", "size"):
        mine, theirs = getattr(args, name), saved.get(name)
        if mine is not None and theirs is not None and str(mine) != str(theirs):
            raise ValueError(f"--resume: {last} was trained with --{name} {theirs}, not {mine}; "
                             f"leave --{name} out to continue it")
        if mine is None and theirs is not None:
            setattr(args, name, int(theirs) if name == "size" else str(theirs))
    args.recipe = args.recipe or DEFAULT_RECIPE
    # the run's own plan unless --epochs says otherwise (the schedule is then refitted to it)
    args.planned_epochs = int(saved["epochs"]) if saved.get("epochs") is not None else None
    if args.epochs is None:
        args.epochs = args.planned_epochs or DEFAULT_EPOCHS
    if args.recipe not in RECIPES:
        raise ValueError(f"--recipe {args.recipe} is not one of {sorted(RECIPES)}")


def check_args(args) -> None:
    """Refuse what would fail later or silently destroy work, before anything is loaded."""
    if not Path(args.data).is_dir():
        raise DataError(f"--data {args.data}: no such folder")
    resume_defaults(args)
    for name in ("batch_size", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    if args.samples_per_epoch is not None and args.samples_per_epoch < 1:
        raise ValueError(f"--samples-per-epoch must be at least 1, not {args.samples_per_epoch}")
    out = Path(args.out)
    if args.resume and not (out / "last.pt").is_file():
        raise DataError(f"--resume: {out / 'last.pt'} not found; start the run without --resume")
    if args.resume and args.init:
        raise ValueError("--resume and --init exclude each other: a resumed run keeps its own weights")
    if args.init and not Path(args.init).is_file():
        raise DataError(f"--init {args.init}: no such checkpoint")
    if RECIPES[args.recipe].loss == COLOURFUL_LOSS and not (args.init or args.resume):
        raise ValueError(f"--recipe {args.recipe} fine-tunes a trained classifier: give --init WEIGHTS "
                         "(a release such as vidcolor/weights/default.pt, or a checkpoint)")
    config, _ = resolve_config(args)  # a recipe's bad override or a size off its body's stride, now
    try:
        check_config(config)
    except ValueError as err:
        raise ValueError(f"--{err}") from None
    if args.split and not Path(args.split).is_file():
        raise DataError(f"--split {args.split}: no such file")
    if not args.resume and not args.overwrite and any((out / n).exists() for n in ("last.pt", "log.csv")):
        raise DataError(f"{out} already holds a run; pass --resume to continue it or --overwrite to start afresh")


def main(args) -> dict:
    check_args(args)
    fresh = not Path(args.out).exists()
    try:
        return _run(args)
    except BaseException:
        # a run that failed before its first epoch was saved leaves no folder behind
        if fresh and not (Path(args.out) / "last.pt").exists():
            shutil.rmtree(args.out, ignore_errors=True)
        raise


def _run(args) -> dict:
    rank, world, device = setup_distributed(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config, recipe = resolve_config(args)
    args.size = config.size  # the recipe's when none was given
    lr, clip = recipe.lr, recipe.clip
    # the run's split lives in the run folder; --split seeds it (its photos keep their splits)
    split_path = out / "split.json"
    if rank == 0:
        split = make_split(args.data, split_path, seed=args.seed, base=args.split)
    if world > 1:
        dist.barrier()
    split = make_split(args.data, split_path, seed=args.seed, base=args.split)
    if rank == 0:
        report(f"{recipe.name} ({config.body}, {config.head}) at {config.size} px on {args.data}: "
               f"{len(split['train'])} photos to train on, {len(split['validation'])} to validate, "
               f"{len(split['test'])} kept for the test, {len(split.get('skipped', {}))} skipped; "
               f"{args.epochs} epochs on {device}")

    torch.manual_seed(args.seed)
    # a fresh lite0-unet starts from the ImageNet encoder (a resumed or --init run replaces it)
    model = build_model(config, pretrained=config.body != "table1" and not args.resume)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(recipe.optimizer, param_groups(model, lr, recipe.encoder_lr), lr, recipe.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=lr * LR_FLOOR)
    dtype = amp_dtype(args.amp, device)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    start_epoch, best, history, elapsed_before, lineage, extra = 0, (-1, -math.inf), [], 0.0, [], {}
    snapshots_done: list[float] = []
    if args.resume:
        ckpt = read_weights(out / "last.pt")["checkpoint"]
        saved = ModelConfig.from_dict(ckpt["config"])
        if saved != config:
            was = saved.to_dict()
            differ = ", ".join(f"{k} {was[k]} (not {v})" for k, v in config.to_dict().items() if was[k] != v)
            raise ValueError(f"--resume: {out / 'last.pt'} was trained with {differ}; leave out the flags that "
                             "change them")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch = ckpt["epoch"] + 1
        if args.planned_epochs is not None and args.epochs != args.planned_epochs:
            # a new plan: the cosine refitted to it, each group at the rate it has at this epoch
            # of the new plan (the scheduler's own recursion would stay where the old plan left it)
            scheduler.T_max = args.epochs
            progress = min(start_epoch / args.epochs, 1.0)
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
                floor = base * LR_FLOOR
                group["lr"] = floor + (base - floor) * (1 + math.cos(math.pi * progress)) / 2
            report(f"resuming at epoch {start_epoch + 1} of {args.epochs} (the run planned {args.planned_epochs}); "
                   f"learning rate refitted to the new plan: {optimizer.param_groups[0]['lr']:.2g}")
        elif start_epoch >= args.epochs:
            raise ValueError(f"--resume: {out / 'last.pt'} has finished its {args.epochs} epochs; give a larger "
                             "--epochs to train on")
        else:
            report(f"resuming at epoch {start_epoch + 1} of {args.epochs}, on the run's own schedule")
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"])
        start_epoch, history = ckpt["epoch"] + 1, ckpt["history"]
        best = max((selection_key(h) for h in history), default=best)
        elapsed_before = ckpt.get("wall_seconds", 0.0)
        lineage = ckpt.get("lineage", [])
        snapshots_done = list(ckpt.get("snapshots", []))
        if "ab_prior" in ckpt:
            extra["ab_prior"] = ckpt["ab_prior"].double()
    elif args.init:
        init = read_weights(args.init)
        fresh = init_from(model, init)
        # what these weights went through before this run, for the model card
        # (a release file keeps its run's facts in its metadata, a checkpoint in itself)
        meta, run = init.get("metadata", {}), init.get("checkpoint", {})
        history_of = run.get("history") or ([meta["history_last"]] if meta.get("history_last") else [])
        lineage = run.get("lineage", meta.get("lineage", [])) + [{
            "checkpoint": str(args.init), "config": init["config"],
            "epochs": run.get("epoch", meta.get("epochs", 0) - 1) + 1,
            "wall_seconds": run.get("wall_seconds", meta.get("wall_seconds", 0.0)),
            "images": sum(h.get("images", 0) for h in run.get("history", [])),
            "last": (history_of or [{}])[-1], "not_loaded": fresh,
            "prior_correction": meta.get("prior_correction", 0.0)}]
        if "ab_prior" in run and init["config"].get("num_bins") == config.num_bins:
            extra["ab_prior"] = run["ab_prior"].double()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model

    cache = not args.no_cache
    train_set = ColourImages(args.data, split["train"], config, args.size, train=True, seed=args.seed,
                             length=args.samples_per_epoch, cache=cache)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    # every crop of the epoch is trained, the last batch smaller if need be
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    val_set = ColourImages(args.data, split["validation"], config, VAL_SIDE, train=False, cache=cache)
    val_loader = DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers)
    criterion = make_criterion(config, recipe, model, train_set, extra)
    if args.init and not args.resume:
        restore_prior(model, recipe, init, extra.get("class_weights"))
    val_criterion = loss_fn(recipe.loss)
    sheet_truth = [val_set[i].numpy() for i in range(min(SHEET_IMAGES, len(val_set)))]

    wall_start = time.perf_counter() - elapsed_before
    result = {}
    for epoch in range(start_epoch, args.epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        bar = tqdm(total=len(sampler), desc=f"epoch {epoch + 1}/{args.epochs}",
                   unit="img", disable=args.quiet or rank != 0, leave=False, file=sys.stderr)
        total, count = train_one_epoch(net, loader, optimizer, criterion, device, dtype, scaler, bar, clip)
        bar.close()
        stats = torch.tensor([total, count], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(stats)
        train_loss = float(stats[0] / max(stats[1], 1))
        current_lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        seconds = time.perf_counter() - t0
        if rank == 0:
            # validation in the precision the run trains in (fp32 with --amp off, on CUDA too)
            colorizer = Colorizer(model, precision={torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32"))
            val = evaluate_batches(colorizer, val_loader, val_criterion)
            row = dict(epoch=epoch + 1, train_loss=train_loss, val_loss=val["loss"], val_psnr=val["psnr"],
                       val_psnr_grey=val["psnr_grey"], val_colourfulness=val["colourfulness"],
                       lr=current_lr, images=int(stats[1]), seconds=round(seconds, 2),
                       images_per_s=round(float(stats[1]) / seconds, 2))
            history.append(row)
            write_log(out / "log.csv", history)
            loss_curve({"train loss": [h["train_loss"] for h in history],
                        "val a/b L1" if config.head == "classification" else "val loss":
                            [h["val_loss"] for h in history]}, out / "loss.png",
                       title=f"{LOSS_NAMES.get(recipe.loss, recipe.loss)}, {args.recipe}",
                       panel={"val PSNR - grey PSNR (dB)": [h["val_psnr"] - h["val_psnr_grey"] for h in history],
                              "val colourfulness / truth's": [h["val_colourfulness"] for h in history]})
            grey = [np.repeat(np.asarray(to_uint8(rgb_to_lab(torch.from_numpy(t).permute(2, 0, 1).float() / 255)[:1]
                                                  / 100.0)).transpose(1, 2, 0), 3, axis=2) for t in sheet_truth]
            image_sheet([[g, p, t] for g, p, t in zip(grey, val["preds"], sheet_truth)], out / "samples.png",
                        labels=["grey", "prediction", "truth"])
            key = selection_key(row)
            wall = time.perf_counter() - wall_start
            due = [m for m in (args.snapshot_minutes or []) if m not in snapshots_done and wall >= m * 60]
            state = dict(model=model.state_dict(), optimizer=optimizer.state_dict(),
                         scheduler=scheduler.state_dict(), scaler=scaler.state_dict() if scaler else {},
                         epoch=epoch, config=config.to_dict(), recipe=recipe.to_dict(), args=stringify(vars(args)), rng=torch.get_rng_state(),
                         best_psnr=max(h["val_psnr"] for h in history), best_key=list(max(best, key)),
                         history=history, wall_seconds=wall, lineage=lineage, snapshots=snapshots_done + due,
                         data={"root": str(args.data), "train": len(split["train"]),
                               "validation": len(split["validation"]), "test": len(split["test"]),
                               "skipped": len(split.get("skipped", {}))}, **extra)
            save_checkpoint(out / "last.pt", **state)
            if key > best:
                best = key
                save_checkpoint(out / "best.pt", **state)
            for m in due:  # a copy at a fixed wall time, for comparisons at equal compute
                save_checkpoint(out / f"snapshot-{m:g}min.pt", **state)
            snapshots_done += due
            model.train()
            result = row
            report(f"epoch {epoch + 1}/{args.epochs}: loss {train_loss:.4f}, validation "
                   f"{row['val_psnr'] - row['val_psnr_grey']:+.2f} dB over grey, colourfulness "
                   f"{row['val_colourfulness']:.2f} of the truth's, {row['images_per_s']:.1f} img/s"
                   + (" (best so far)" if best == key else ""))
        if world > 1:
            dist.barrier()
        if args.max_minutes and time.perf_counter() - wall_start > args.max_minutes * 60:
            break
    if rank == 0 and history:
        chosen = max(history, key=selection_key)
        report(f"done: {len(history)} epoch{'s' if len(history) != 1 else ''}, "
               f"{sum(h['images'] for h in history)} crops, "
               f"{(time.perf_counter() - wall_start) / 60:.1f} min; best.pt is epoch {chosen['epoch']} "
               f"({chosen['val_psnr'] - chosen['val_psnr_grey']:+.2f} dB over grey, colourfulness "
               f"{chosen['val_colourfulness']:.2f})")
    if world > 1:
        dist.destroy_process_group()
    return result


def report(line: str) -> None:
    """One line of the run's story on stderr, between the progress bars."""
    tqdm.write(f"vidcolor-train: {line}", file=sys.stderr)


def stringify(d: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in d.items()}


def write_log(path: Path, history: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(history)


def cli(argv: list[str] | None = None) -> None:
    """The ``vidcolor-train`` command."""
    run("vidcolor-train", get_args_parser, main, argv,
        interrupted="interrupted; last.pt holds the last finished epoch: rerun with --resume")


if __name__ == "__main__":
    cli()
