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
import contextlib
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from vidcolor.color import lab_of_pixels, lab_to_rgb, to_uint8
from vidcolor.colorizer import AUTOCAST_DTYPES, Colorizer, inference_precision, training_precision
from vidcolor.models import ColorModel, ModelConfig, build_model

from .checkpoints import (COLOR_FLOOR, LR_FLOOR, RunState, init_from, resume, save_checkpoint, selection_key,
                          start_from, stringify, write_log)
from .colourful import LOSS as COLOURFUL_LOSS
from .command import run
from .data import ColorImages, make_split
from .metrics import colourfulness, psnr
from .objective import loss_fn, make_criterion, restore_prior
from .plots import image_sheet, loss_curve
from .trainargs import check_args, get_args_parser, resolve_config
from .recipes import RECIPES, Recipe

__all__ = ["COLOR_FLOOR", "init_from", "restore_prior", "make_criterion", "resolve_config", "get_args_parser", "RECIPES",
           "main", "cli"]

LOSS_NAMES = {"ce": "rebalanced CE", COLOURFUL_LOSS: "a/b MSE + colourfulness"}  # for the loss plot
VAL_SIDE = 256  # validation images are squashed to this side and judged at it, whatever the train size
SHEET_IMAGES = 8  # fixed validation images on the sample sheet


def amp_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--amp`` on ``device`` (None: fp32); the rule is the package's
    (``vidcolor.colorizer.training_precision``)."""
    return AUTOCAST_DTYPES[training_precision(choice, device)]


def validation_precision(dtype: torch.dtype | None, device: torch.device) -> str:
    """The precision an epoch's validation colours in: the one inference would use for a model
    trained in ``dtype`` (fp16 for bf16 on CUDA, which inference refuses)."""
    trained = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    return inference_precision(trained, device)


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr)


def param_groups(model: ColorModel, lr: float, encoder_lr: float) -> list[dict]:
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
    losses, psnrs, greys, color, color_truth, preds = [], [], [], [], [], []
    scale = colorizer.config.ab_scale
    for rgb in loader:
        rgb = rgb.to(colorizer.device)
        lab = lab_of_pixels(rgb)
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
        color.extend(colourfulness(p) for p in out8)
        color_truth.extend(colourfulness(t) for t in truth)
        if len(preds) < SHEET_IMAGES:
            preds.extend(out8[:SHEET_IMAGES - len(preds)])
    return dict(loss=float(torch.cat(losses).mean()), psnr=float(np.mean(psnrs)), psnr_grey=float(np.mean(greys)),
                colourfulness=float(np.mean(color) / max(np.mean(color_truth), 1e-6)), preds=preds)


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


@dataclass
class Training:
    """One process's share of a run: where it writes, what it trains, and on what."""
    args: argparse.Namespace
    out: Path
    rank: int
    world: int
    device: torch.device
    config: ModelConfig
    recipe: Recipe
    split: dict
    model: ColorModel
    optimizer: torch.optim.Optimizer
    scheduler: object
    dtype: torch.dtype | None
    scaler: object
    state: RunState


def _run(args) -> dict:
    run = prepare(args)
    args, state, rank, world = run.args, run.state, run.rank, run.world
    net = torch.nn.parallel.DistributedDataParallel(run.model) if world > 1 else run.model
    cache = not args.no_cache
    train_set = ColorImages(args.data, run.split["train"], run.config, args.size, train=True, seed=args.seed,
                             length=args.samples_per_epoch, cache=cache)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    # every crop of the epoch is trained, the last batch smaller if need be
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    val_set = ColorImages(args.data, run.split["validation"], run.config, VAL_SIDE, train=False, cache=cache)
    val_loader = DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers)
    criterion = make_criterion(run.config, run.recipe, run.model, train_set, state.extra)
    if args.init and not args.resume:
        restore_prior(run.model, run.recipe, run.init, state.extra.get("class_weights"))
    val_criterion = loss_fn(run.recipe.loss)
    sheet_truth = [val_set[i].numpy() for i in range(min(SHEET_IMAGES, len(val_set)))]
    wall_start = time.perf_counter() - state.elapsed_before
    result = {}
    for epoch in range(state.start_epoch, args.epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        bar = tqdm(total=len(sampler), desc=f"epoch {epoch + 1}/{args.epochs}",
                   unit="img", disable=args.quiet or rank != 0, leave=False, file=sys.stderr)
        total, count = train_one_epoch(net, loader, run.optimizer, criterion, run.device, run.dtype, run.scaler, bar,
                                       run.recipe.clip)
        bar.close()
        stats = torch.tensor([total, count], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(stats)
        current_lr = run.optimizer.param_groups[0]["lr"]
        run.scheduler.step()
        if rank == 0:
            result = end_of_epoch(run, epoch, stats, current_lr, time.perf_counter() - t0, val_loader, val_criterion,
                                  sheet_truth, time.perf_counter() - wall_start)
        if world > 1:
            dist.barrier()
        if args.max_minutes and time.perf_counter() - wall_start > args.max_minutes * 60:
            break
    if rank == 0 and state.history:
        chosen = max(state.history, key=selection_key)
        report(f"done: {len(state.history)} epoch{'s' if len(state.history) != 1 else ''}, "
               f"{sum(h['images'] for h in state.history)} crops, "
               f"{(time.perf_counter() - wall_start) / 60:.1f} min; best.pt is epoch {chosen['epoch']} "
               f"({chosen['val_psnr'] - chosen['val_psnr_grey']:+.2f} dB over grey, colourfulness "
               f"{chosen['val_colourfulness']:.2f})")
    if world > 1:
        dist.destroy_process_group()
    return result


def prepare(args) -> Training:
    """The process group, the run folder and its split, the model, optimiser and schedule, and
    the state a resumed run (or one started from other weights) goes on from."""
    rank, world, device = setup_distributed(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config, recipe = resolve_config(args)
    args.size = config.size  # the recipe's when none was given
    # the run's split lives in the run folder; --split seeds it (its photos keep their splits)
    split_path = out / "split.json"
    if rank == 0:
        make_split(args.data, split_path, seed=args.seed, base=args.split)
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
    lr = recipe.lr
    optimizer = make_optimizer(recipe.optimizer, param_groups(model, lr, recipe.encoder_lr), lr, recipe.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=lr * LR_FLOOR)
    dtype = amp_dtype(args.amp, device)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    init = None
    if args.resume:
        state = resume(out / "last.pt", config, model, optimizer, scheduler, scaler, args, report)
    elif args.init:
        state, init = start_from(args.init, model, config)
    else:
        state = RunState()
    run = Training(args, out, rank, world, device, config, recipe, split, model, optimizer, scheduler, dtype,
                   scaler, state)
    run.init = init
    return run


def end_of_epoch(run: Training, epoch: int, stats: torch.Tensor, current_lr: float, seconds: float, val_loader,
                 val_criterion, sheet_truth: list, wall: float) -> dict:
    """Rank 0 after an epoch: validate, log and plot, keep last.pt (best.pt, snapshots), report."""
    args, state, config, model = run.args, run.state, run.config, run.model
    train_loss = float(stats[0] / max(stats[1], 1))
    # validation as inference will colour (fp32 with --amp off, on CUDA too; fp16 for bf16 on CUDA)
    colorizer = Colorizer(model, precision=validation_precision(run.dtype, run.device))
    val = evaluate_batches(colorizer, val_loader, val_criterion)
    row = dict(epoch=epoch + 1, train_loss=train_loss, val_loss=val["loss"], val_psnr=val["psnr"],
               val_psnr_grey=val["psnr_grey"], val_colourfulness=val["colourfulness"],
               lr=current_lr, images=int(stats[1]), seconds=round(seconds, 2),
               images_per_s=round(float(stats[1]) / seconds, 2))
    history = state.history
    history.append(row)
    write_log(run.out / "log.csv", history)
    loss_curve({"train loss": [h["train_loss"] for h in history],
                "val a/b L1" if config.head == "classification" else "val loss":
                    [h["val_loss"] for h in history]}, run.out / "loss.png",
               title=f"{LOSS_NAMES.get(run.recipe.loss, run.recipe.loss)}, {args.recipe}",
               panel={"val PSNR - grey PSNR (dB)": [h["val_psnr"] - h["val_psnr_grey"] for h in history],
                      "val colourfulness / truth's": [h["val_colourfulness"] for h in history]})
    grey = [np.repeat(np.asarray(to_uint8(lab_of_pixels(t)[:1] / 100.0)).transpose(1, 2, 0), 3, axis=2)
            for t in sheet_truth]
    image_sheet([[g, p, t] for g, p, t in zip(grey, val["preds"], sheet_truth)], run.out / "samples.png",
                labels=["grey", "prediction", "truth"])
    key = selection_key(row)
    due = [m for m in (args.snapshot_minutes or []) if m not in state.snapshots and wall >= m * 60]
    split = run.split
    checkpoint = dict(model=model.state_dict(), optimizer=run.optimizer.state_dict(),
                      scheduler=run.scheduler.state_dict(), scaler=run.scaler.state_dict() if run.scaler else {},
                      epoch=epoch, config=config.to_dict(), recipe=run.recipe.to_dict(), args=stringify(vars(args)),
                      rng=torch.get_rng_state(), best_psnr=max(h["val_psnr"] for h in history),
                      best_key=list(max(state.best, key)), history=history, wall_seconds=wall,
                      lineage=state.lineage, snapshots=state.snapshots + due,
                      data={"root": str(args.data), "train": len(split["train"]),
                            "validation": len(split["validation"]), "test": len(split["test"]),
                            "skipped": len(split.get("skipped", {}))}, **state.extra)
    save_checkpoint(run.out / "last.pt", **checkpoint)
    if key > state.best:
        state.best = key
        save_checkpoint(run.out / "best.pt", **checkpoint)
    for m in due:  # a copy at a fixed wall time, for comparisons at equal compute
        save_checkpoint(run.out / f"snapshot-{m:g}min.pt", **checkpoint)
    state.snapshots += due
    model.train()
    report(f"epoch {epoch + 1}/{args.epochs}: loss {train_loss:.4f}, validation "
           f"{row['val_psnr'] - row['val_psnr_grey']:+.2f} dB over grey, colourfulness "
           f"{row['val_colourfulness']:.2f} of the truth's, {row['images_per_s']:.1f} img/s"
           + (" (best so far)" if state.best == key else ""))
    return row


def report(line: str) -> None:
    """One line of the run's story on stderr, between the progress bars."""
    tqdm.write(f"vidcolor-train: {line}", file=sys.stderr)


def cli(argv: list[str] | None = None) -> None:
    """The ``vidcolor-train`` command."""
    run("vidcolor-train", get_args_parser, main, argv,
        interrupted="interrupted; last.pt holds the last finished epoch: rerun with --resume")


if __name__ == "__main__":
    cli()
