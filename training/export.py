"""Export a training checkpoint as release weights: fp16 tensors, the model config, provenance
and the test-split metrics of exactly those fp16 weights.

    python -m training.export RUN_DIR/best.pt OUT.pt [--no-eval]
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from vidcolor.models import ColorModel, ModelConfig, build_model
from vidcolor.colorizer import Colorizer
from vidcolor.tempfiles import already_exists
from vidcolor.weights import read_weights, save_weights

from .command import run
from .colourful import keeps_prior_correction
from .evaluate import evaluate_images, format_table
from .recipes import Recipe


def load_checkpoint(path: Path, size: int | None = None, temperature: float | None = None) -> tuple[ColorModel, dict]:
    """The network of a training checkpoint; ``size`` sets the inference side stored in its config
    (the network is fully convolutional: it may be used at another side than it was trained at),
    ``temperature`` the default annealed-mean T of a classification model."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such checkpoint")
    payload = read_weights(path)
    if "checkpoint" not in payload:
        raise ValueError(f"{path} is not a training checkpoint (a release file: it is exported already)")
    ckpt = payload["checkpoint"]
    config = ModelConfig.from_dict(ckpt["config"])
    if size:
        config = ModelConfig.from_dict({**config.to_dict(), "size": size})
    if temperature is not None:
        if config.head != "classification":
            raise ValueError("--temperature applies only to a classification model")
        config = ModelConfig.from_dict({**config.to_dict(), "temperature": temperature})
    model = build_model(config, ab_bins=ckpt["model"].get("ab_bins"))
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def correct_prior(model: ColorModel, class_weights: torch.Tensor, strength: float) -> None:
    """Undo part of the class rebalancing in the logits: bias_q -= strength * log w_q.

    Trained with rebalancing weights w, a classifier's softmax leans towards rare colours in
    proportion to w (its odds are the data's times w); ``strength`` 1 takes that lean out
    entirely (the plain posterior: safe, greyish colours), 0 keeps it (vivid, and tints even
    neutral photos), values between trade the two. A per-class constant on the logits is exactly
    a change of the last conv's bias, so the released model is an ordinary classification model."""
    if model.config.head != "classification":
        raise ValueError("--prior-correction applies only to a classification model")
    last = model.logits_conv()
    with torch.no_grad():
        last.bias -= strength * torch.log(class_weights.to(last.bias))


def inherited_correction(ckpt: dict) -> float:
    """The share of the class rebalancing already folded into a checkpoint's logits: a run that
    fine-tuned a release on its decoded colour (``mse-colourful``) kept the release's correction."""
    recipe = Recipe.from_checkpoint(ckpt)
    if recipe is None or not keeps_prior_correction(recipe.loss) or not ckpt.get("lineage"):
        return 0.0
    return float(ckpt["lineage"][-1].get("prior_correction") or 0.0)


def export(checkpoint: Path, out: Path, evaluate: bool = True, progress: bool = False,
           size: int | None = None, temperature: float | None = None, prior_correction: float = 0.0) -> dict:
    model, ckpt = load_checkpoint(checkpoint, size, temperature)
    if not isinstance(ckpt.get("data"), dict) or "root" not in ckpt["data"] or "epoch" not in ckpt:
        raise ValueError(f"{checkpoint}: not a training checkpoint (it does not say what it was trained on); "
                         "vidcolor-export takes best.pt or last.pt of a vidcolor-train run")
    if prior_correction:
        if "class_weights" not in ckpt:
            raise ValueError(f"{checkpoint} holds no class weights to correct for (not a classification run)")
        correct_prior(model, ckpt["class_weights"], prior_correction)
    # round to fp16 and back so the metrics describe the shipped tensors, not the fp32 ones (the
    # a/b bin centres are multiples of 10: exact in fp16 too)
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    args = ckpt.get("args", {})
    history = ckpt.get("history", [])
    metadata = {
        "provenance": f"trained by vidcolor's training/ from {ckpt['data']['root']}",
        "data": ckpt.get("data", {}),
        "recipe": args.get("recipe", ""),
        "train_args": args,
        "epochs": ckpt["epoch"] + 1,
        "train_size": ckpt["config"]["size"],
        "best_val_psnr": ckpt.get("best_psnr"),
        "wall_seconds": round(ckpt.get("wall_seconds", 0.0), 1),
        "lineage": ckpt.get("lineage", []),  # earlier runs these weights were initialised from (--init)
        "total_wall_seconds": round(ckpt.get("wall_seconds", 0.0)
                                    + sum(s.get("wall_seconds", 0.0) for s in ckpt.get("lineage", [])), 1),
        "hardware": f"{platform.machine()} {platform.processor() or ''} torch {torch.__version__}".strip(),
        "history_last": history[-1] if history else {},
        # share of the rebalancing taken out of the logits, with what an earlier release took out
        "prior_correction": inherited_correction(ckpt) + prior_correction,
    }
    if evaluate:
        split_file = checkpoint.with_name("split.json")  # the run's own split, beside its checkpoints
        ids = json.loads(split_file.read_text())["test"]
        report = evaluate_images(Colorizer(model, precision="fp32"), Path(ckpt["data"]["root"]), ids,
                                 progress=progress)
        metadata["metrics"] = {"split": "test", "images": report["images"], **report["mean"]}
        metadata["metrics_summary"] = report["summary"]
        metadata["metrics_per_image"] = report["per_image"]
        metadata["metrics_table"] = format_table(report)
    save_weights(model, out, metadata=metadata, dtype=torch.float16)
    return metadata


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse an output that cannot be written, or would replace a file unasked, before any work."""
    if out.is_dir():
        raise ValueError(f"{out} is a folder; give the weights file's name (e.g. {out / 'model.pt'})")
    if not out.parent.is_dir():
        raise ValueError(f"{out}: output folder {out.parent} does not exist")
    if out.exists() and not overwrite:
        raise ValueError(already_exists(out, "--overwrite"))


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--size", type=int, default=None, help="inference side to store (default: the training side)")
    p.add_argument("--temperature", type=float, default=None,
                   help="classification models: the default annealed-mean T to store (lower = likeliest colour)")
    p.add_argument("--prior-correction", type=float, default=0.0,
                   help="classification models: 0..1, how much of the class rebalancing to take out of the "
                        "logits (0 = none: vivid; 1 = all: safe, greyish); choose it on the validation split")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--quiet", action="store_true")
    return p


def main(args) -> dict:
    """Export ``args.checkpoint`` to ``args.out``; returns the metadata written."""
    check_output(args.out, args.overwrite)
    meta = export(args.checkpoint, args.out, evaluate=not args.no_eval, progress=not args.quiet, size=args.size,
                  temperature=args.temperature, prior_correction=args.prior_correction)
    if "metrics_table" in meta:
        print(meta["metrics_table"])
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return meta


def cli(argv: list[str] | None = None) -> None:
    """The ``vidcolor-export`` command."""
    run("vidcolor-export", get_args_parser, main, argv)


if __name__ == "__main__":
    cli()
