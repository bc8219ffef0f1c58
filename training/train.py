"""Train the colourization network on a folder of colour photos.

    python -m training.train --data DIR --out RUN_DIR [--recipe adam-mae-swish] [--size 128]
    torchrun --nproc_per_node 2 -m training.train --data DIR --out RUN_DIR    # data-parallel

Every epoch appends to RUN_DIR/log.csv, redraws loss.png and samples.png, and keeps last.pt and
best.pt (by validation PSNR). ``--resume`` continues from RUN_DIR/last.pt exactly.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from vidcolor.color import lab_to_rgb, rgb_to_lab, to_uint8
from vidcolor.model import ColorNet, ModelConfig
from vidcolor.pipeline import Colorizer, cpu_has_bf16

from .data import ColourImages, make_split
from .metrics import psnr
from .plots import image_sheet, loss_curve

# lr: Keras's default 1e-3 diverged within one epoch with raw L input here; 3e-4 trains both stably
RECIPES = {
    # the paper's favourite: sharper edges; raw L input worked better than normalised with Adam
    "adam-mae-swish": dict(optimizer="adam", loss="mae", activation="swish", input_scaling="raw", lr=3e-4),
    # the paper's other working recipe: better colours, softer edges
    "rmsprop-mse-relu": dict(optimizer="rmsprop", loss="mse", activation="relu", input_scaling="normalized",
                             lr=3e-4),
}
VAL_SIDE = 256  # validation images are squashed to this side and judged at it, whatever the train size
SHEET_IMAGES = 8  # fixed validation images on the sample sheet
LR_FLOOR = 0.05  # cosine schedule ends at this fraction of the initial learning rate
LOG_FIELDS = ["epoch", "train_loss", "val_loss", "val_psnr", "lr", "images", "seconds", "images_per_s"]


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of colour photos (searched recursively)")
    p.add_argument("--out", required=True, help="run folder for checkpoints, log and figures")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="adam-mae-swish")
    p.add_argument("--optimizer", choices=["adam", "rmsprop"], help="override the recipe's optimiser")
    p.add_argument("--loss", choices=["mae", "mse"], help="override the recipe's loss")
    p.add_argument("--activation", choices=["swish", "relu"], help="override the recipe's activation")
    p.add_argument("--input-scaling", choices=["raw", "normalized"], help="override the recipe's L scaling")
    p.add_argument("--lr", type=float, help="initial learning rate (cosine-decayed per epoch)")
    p.add_argument("--batch-size", type=int, default=16, help="per process")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--size", type=int, default=256, help="training crop side, a multiple of 8")
    p.add_argument("--samples-per-epoch", type=int, default=None,
                   help="random crops per epoch (default: one per training image); more suits small folders")
    p.add_argument("--split", default=None, help="split.json to use (default RUN_DIR/split.json, made if absent)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="data loader processes")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], default="auto",
                   help="mixed precision: bf16 on a CPU that has it, bf16/fp16 on CUDA")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    p.add_argument("--init", default=None,
                   help="start from the weights of this checkpoint (last.pt/best.pt) instead of random; "
                        "the size and schedule may differ, the network must be the same")
    p.add_argument("--resume", action="store_true",
                   help="continue from RUN_DIR/last.pt (a larger --epochs stretches the rest of the schedule)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def resolve_config(args) -> tuple[ModelConfig, float]:
    recipe = dict(RECIPES[args.recipe])
    for key in ("optimizer", "loss", "activation", "input_scaling", "lr"):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    lr = recipe.pop("lr")
    return ModelConfig(size=args.size, **recipe), lr


def amp_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    if choice == "off":
        return None
    if choice == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_bf16() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[choice]


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.RMSprop(params, lr=lr)


def loss_fn(name: str):
    return F.l1_loss if name == "mae" else F.mse_loss


def train_one_epoch(model, loader, optimizer, criterion, device, dtype, scaler, bar) -> tuple[float, int]:
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
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if not math.isfinite(loss.item()):
            raise FloatingPointError("training loss is not finite; lower --lr or use --amp off")
        total += loss.item() * len(lightness)
        count += len(lightness)
        if bar is not None:
            bar.update(len(lightness))
            bar.set_postfix(loss=f"{total / count:.4f}", img_s=f"{count / (time.perf_counter() - start):.1f}")
    return total, count


@torch.no_grad()
def evaluate_batches(colorizer: Colorizer, loader, criterion) -> tuple[float, float, list[np.ndarray]]:
    """Run validation images through inference as a user would; loss on a/b, PSNR on RGB.
    Returns (mean loss, mean PSNR, first predictions as uint8 RGB)."""
    losses, psnrs, preds = [], [], []
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
        truth = rgb.cpu().numpy()
        psnrs.extend(psnr(p, t) for p, t in zip(out8, truth))
        if len(preds) < SHEET_IMAGES:
            preds.extend(out8[:SHEET_IMAGES - len(preds)])
    return float(torch.cat(losses).mean()), float(np.mean(psnrs)), preds


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
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(args) -> dict:
    rank, world, device = setup_distributed(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config, lr = resolve_config(args)
    split_path = Path(args.split) if args.split else out / "split.json"
    if rank == 0:
        split = make_split(args.data, split_path, seed=args.seed)
    if world > 1:
        dist.barrier()
    split = make_split(args.data, split_path, seed=args.seed)

    torch.manual_seed(args.seed)
    model = ColorNet(config).to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(config.optimizer, model.parameters(), lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=lr * LR_FLOOR)
    dtype = amp_dtype(args.amp, device)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    start_epoch, best, history, elapsed_before, lineage = 0, -math.inf, [], 0.0, []
    if args.resume:
        ckpt = torch.load(out / "last.pt", map_location=device, weights_only=True)
        if ckpt["config"] != config.to_dict():
            raise SystemExit(f"--resume: {out / 'last.pt'} was trained with {ckpt['config']}, not {config.to_dict()}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        # a resume may lengthen the run: the cosine continues from the current rate to the new end
        scheduler.T_max = args.epochs
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"])
        start_epoch, best, history = ckpt["epoch"] + 1, ckpt["best_psnr"], ckpt["history"]
        elapsed_before = ckpt.get("wall_seconds", 0.0)
        lineage = ckpt.get("lineage", [])
    elif args.init:
        init = torch.load(args.init, map_location=device, weights_only=True)
        model.load_state_dict(init["model"] if "model" in init else init["state_dict"])
        # what these weights went through before this run, for the model card
        lineage = init.get("lineage", []) + [{
            "checkpoint": str(args.init), "config": init.get("config", {}), "epochs": init.get("epoch", -1) + 1,
            "wall_seconds": init.get("wall_seconds", 0.0), "images": sum(h["images"] for h in init.get("history", [])),
            "last": (init.get("history") or [{}])[-1]}]
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model

    train_set = ColourImages(args.data, split["train"], config, args.size, train=True, seed=args.seed,
                             length=args.samples_per_epoch)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler, num_workers=args.workers,
                        drop_last=True, persistent_workers=args.workers > 0)
    val_set = ColourImages(args.data, split["validation"], config, VAL_SIDE, train=False)
    val_loader = DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers)
    criterion = loss_fn(config.loss)
    sheet_truth = [val_set[i].numpy() for i in range(min(SHEET_IMAGES, len(val_set)))]

    wall_start = time.perf_counter() - elapsed_before
    result = {}
    for epoch in range(start_epoch, args.epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        bar = tqdm(total=len(sampler) // args.batch_size * args.batch_size, desc=f"epoch {epoch + 1}/{args.epochs}",
                   unit="img", disable=args.quiet or rank != 0, leave=False, file=sys.stderr)
        total, count = train_one_epoch(net, loader, optimizer, criterion, device, dtype, scaler, bar)
        bar.close()
        stats = torch.tensor([total, count], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(stats)
        train_loss = float(stats[0] / max(stats[1], 1))
        current_lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        seconds = time.perf_counter() - t0
        if rank == 0:
            colorizer = Colorizer(model, precision="bf16" if dtype == torch.bfloat16 else "fp32"
                                  if device.type == "cpu" else "fp16")
            val_loss, val_psnr, preds = evaluate_batches(colorizer, val_loader, criterion)
            row = dict(epoch=epoch + 1, train_loss=train_loss, val_loss=val_loss, val_psnr=val_psnr,
                       lr=current_lr, images=int(stats[1]), seconds=round(seconds, 2),
                       images_per_s=round(float(stats[1]) / seconds, 2))
            history.append(row)
            write_log(out / "log.csv", history)
            loss_curve({"train loss": [h["train_loss"] for h in history],
                        "val loss": [h["val_loss"] for h in history]}, out / "loss.png",
                       title=f"{config.loss} on a/b, {args.recipe}")
            grey = [np.repeat(np.asarray(to_uint8(rgb_to_lab(torch.from_numpy(t).permute(2, 0, 1).float() / 255)[:1]
                                                  / 100.0)).transpose(1, 2, 0), 3, axis=2) for t in sheet_truth]
            image_sheet([[g, p, t] for g, p, t in zip(grey, preds, sheet_truth)], out / "samples.png",
                        labels=["grey", "prediction", "truth"])
            state = dict(model=model.state_dict(), optimizer=optimizer.state_dict(),
                         scheduler=scheduler.state_dict(), scaler=scaler.state_dict() if scaler else {},
                         epoch=epoch, config=config.to_dict(), args=stringify(vars(args)), rng=torch.get_rng_state(),
                         best_psnr=max(best, val_psnr), history=history,
                         wall_seconds=time.perf_counter() - wall_start, lineage=lineage,
                         data={"root": str(args.data), "train": len(split["train"]),
                               "validation": len(split["validation"]), "test": len(split["test"]),
                               "skipped": len(split.get("skipped", {}))})
            save_checkpoint(out / "last.pt", **state)
            if val_psnr > best:
                best = val_psnr
                save_checkpoint(out / "best.pt", **state)
            model.train()
            result = row
        if world > 1:
            dist.barrier()
        if args.max_minutes and time.perf_counter() - wall_start > args.max_minutes * 60:
            break
    if world > 1:
        dist.destroy_process_group()
    return result


def stringify(d: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in d.items()}


def write_log(path: Path, history: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(history)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
