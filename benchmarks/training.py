"""Training-step throughput: with the real streaming data loader vs with batches already in memory.

    python benchmarks/training.py [--data ../shared/corpus] [--steps 12] [--sizes 160,256] [--recipe NAME]

The recipe is the shipped model's (lite0-ce-classify: frozen ImageNet encoder, decoder trained)
unless --recipe names another (adam-mae-swish: the Table I paper's network).

The loader keeps up when 'loader' images/s is at least 90% of 'in memory' images/s.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from training.data import ColorImages, make_split  # noqa: E402
from training.recipes import DEFAULT_RECIPE, RECIPES  # noqa: E402
from training.train import (amp_dtype, get_args_parser, make_criterion, make_optimizer, param_groups,  # noqa: E402
                            resolve_config)
from vidcolor.models import build_model  # noqa: E402


def step_rate(model, optimizer, criterion, batches, dtype, steps: int) -> float:
    """Images per second over ``steps`` training steps drawn from ``batches`` (after one warm-up)."""
    it = iter(batches)
    seen = 0

    def one():
        light, ab = next(it)
        light = light.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=dtype) if dtype else torch.autocast("cpu", enabled=False):
            pred = model(light)
        loss = criterion(pred.float(), ab)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return len(light)

    one()
    start = time.perf_counter()
    for _ in range(steps):
        seen += one()
    return seen / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "corpus"))
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--sizes", default="160,256")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        split = make_split(args.data, Path(tmp) / "split.json")
    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, batch {args.batch_size}, "
          f"loader workers {args.workers}, recipe {args.recipe}")
    print(f"\n{'size':>5} {'in memory img/s':>16} {'loader img/s':>13} {'busy':>6}")
    for size in map(int, args.sizes.split(",")):
        targs = get_args_parser().parse_args(["--data", args.data, "--out", "-", "--size", str(size),
                                              "--recipe", args.recipe])
        config, recipe = resolve_config(targs)
        torch.manual_seed(0)
        model = build_model(config, pretrained=config.body != "table1").to(memory_format=torch.channels_last).train()
        optimizer = make_optimizer(recipe.optimizer, param_groups(model, recipe.lr, recipe.encoder_lr), recipe.lr,
                                   recipe.weight_decay)
        dtype = amp_dtype("auto", torch.device("cpu"))
        data = ColorImages(args.data, split["train"], config, size, train=True, length=args.batch_size * 4 * args.steps)
        criterion = make_criterion(config, recipe, model, data, {})
        loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, num_workers=args.workers, drop_last=True)
        in_memory = list(itertools.islice(iter(loader), 3))
        memory_rate = step_rate(model, optimizer, criterion, itertools.cycle(in_memory), dtype, args.steps)
        loader_rate = step_rate(model, optimizer, criterion, loader, dtype, args.steps)
        print(f"{size:5d} {memory_rate:16.2f} {loader_rate:13.2f} {loader_rate / memory_rate:6.0%}")


if __name__ == "__main__":
    main()
