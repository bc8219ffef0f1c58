"""The ``vidcolor-train`` command line: its options, the model and recipe they ask for, and every
check that can refuse a run before anything is loaded (a resumed run's own settings filled in)."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from vidcolor.errors import OptionError
from vidcolor.models import ModelConfig, check_config
from vidcolor.weights import ModelFileError, read_weights

from .colourful import LOSS as COLOURFUL_LOSS
from .data import DataError
from .recipes import DEFAULT_RECIPE, RECIPES, Recipe

DEFAULT_EPOCHS = 40


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
            raise OptionError(f"--resume: {last} was trained with --{name} {theirs}, not {mine}; "
                             f"leave --{name} out to continue it")
        if mine is None and theirs is not None:
            setattr(args, name, int(theirs) if name == "size" else str(theirs))
    args.recipe = args.recipe or DEFAULT_RECIPE
    # the run's own plan unless --epochs says otherwise (the schedule is then refitted to it)
    args.planned_epochs = int(saved["epochs"]) if saved.get("epochs") is not None else None
    if args.epochs is None:
        args.epochs = args.planned_epochs or DEFAULT_EPOCHS
    if args.recipe not in RECIPES:
        raise OptionError(f"--recipe {args.recipe} is not one of {sorted(RECIPES)}")


def check_args(args) -> None:
    """Refuse what would fail later or silently destroy work, before anything is loaded."""
    if not Path(args.data).is_dir():
        raise DataError(f"--data {args.data}: no such folder")
    resume_defaults(args)
    for name in ("batch_size", "epochs"):
        if getattr(args, name) < 1:
            raise OptionError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    if args.samples_per_epoch is not None and args.samples_per_epoch < 1:
        raise OptionError(f"--samples-per-epoch must be at least 1, not {args.samples_per_epoch}")
    out = Path(args.out)
    if args.resume and not (out / "last.pt").is_file():
        raise DataError(f"--resume: {out / 'last.pt'} not found; start the run without --resume")
    if args.resume and args.init:
        raise OptionError("--resume and --init exclude each other: a resumed run keeps its own weights")
    if args.init and not Path(args.init).is_file():
        raise DataError(f"--init {args.init}: no such checkpoint")
    if RECIPES[args.recipe].loss == COLOURFUL_LOSS and not (args.init or args.resume):
        raise OptionError(f"--recipe {args.recipe} fine-tunes a trained classifier: give --init WEIGHTS "
                         "(a release such as vidcolor/weights/default.pt, or a checkpoint)")
    config, _ = resolve_config(args)  # a recipe's bad override or a size off its body's stride, now
    try:
        check_config(config)
    except ValueError as err:
        raise OptionError(f"--{err}") from None
    if args.split and not Path(args.split).is_file():
        raise DataError(f"--split {args.split}: no such file")
    if not args.resume and not args.overwrite and any((out / n).exists() for n in ("last.pt", "log.csv")):
        raise DataError(f"{out} already holds a run; pass --resume to continue it or --overwrite to start afresh")
