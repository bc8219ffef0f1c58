"""Training recipes: how a network is trained, apart from what it is (``vidcolor.models.ModelConfig``).

A ``Recipe`` is stored in every checkpoint beside the model's config; ``RECIPES`` are the named ones
``--recipe`` chooses from, each field overridable by its flag. The default is the shipped model's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from vidcolor.models import ModelConfig
from vidcolor.models.abbins import DEFAULT_TEMPERATURE, gamut_bins

from .colourful import LOSS as COLOURFUL_LOSS

CLASSIFICATION_LOSSES = ("ce", COLOURFUL_LOSS)
REGRESSION_LOSSES = ("mae", "mse")
OPTIMIZERS = ("adam", "adamw", "rmsprop")


@dataclass(frozen=True)
class Recipe:
    name: str  # the RECIPES key it started from
    optimizer: str  # "adam", "adamw" or "rmsprop"
    loss: str  # regression: "mae" or "mse"; classification: "ce" (rebalanced) or "mse-colourful"
    lr: float  # initial learning rate, cosine-decayed per epoch
    body: str = "table1"  # the network it trains (ModelConfig.body)
    head: str = "regression"  # ModelConfig.head
    activation: str = "swish"  # table1's activation (ModelConfig.activation)
    input_scaling: str = "raw"  # how L* is fed (ModelConfig.input_scaling)
    size: int = 256  # default training crop side
    clip: float = 0.0  # gradient-norm clipping (0: off)
    encoder_lr: float = 0.0  # lite0-unet: the encoder's rate as a fraction of lr (0: frozen)
    weight_decay: float = 0.0  # AdamW's decoupled weight decay

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"--optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        losses = CLASSIFICATION_LOSSES if self.head == "classification" else REGRESSION_LOSSES
        if self.loss not in losses:
            raise ValueError(f"--loss {self.loss} does not fit the {self.head} head of {self.name}")

    def model_config(self, size: int | None = None) -> ModelConfig:
        """The network this recipe trains, at crop side ``size`` (default the recipe's)."""
        classify = self.head == "classification"
        # validation decodes at Zhang et al.'s T; an export stores the release's own
        return ModelConfig(body=self.body, head=self.head, num_bins=len(gamut_bins()) if classify else 0,
                           activation=self.activation, input_scaling=self.input_scaling, size=size or self.size,
                           temperature=DEFAULT_TEMPERATURE)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "Recipe | None":
        """The recipe a checkpoint was trained with: stored, or (older checkpoints) rebuilt from the
        recipe name in its arguments and the training keys its config kept; None if it cannot tell."""
        if ckpt.get("recipe"):
            return cls(**ckpt["recipe"])
        name = ckpt.get("args", {}).get("recipe")
        if name not in RECIPES:
            return None
        known = {f.name for f in fields(cls)} - {"name", "size"}
        return replace(RECIPES[name], **{k: v for k, v in ckpt.get("config", {}).items() if k in known})


RECIPES = {r.name: r for r in (
    # lr: Keras's default 1e-3 diverged within one epoch with raw L input here; 3e-4 trains both stably
    # the paper's favourite: sharper edges; raw L input worked better than normalised with Adam
    Recipe("adam-mae-swish", optimizer="adam", loss="mae", lr=3e-4),
    # the paper's other working recipe: better colours, softer edges
    Recipe("rmsprop-mse-relu", optimizer="rmsprop", loss="mse", lr=3e-4, activation="relu",
           input_scaling="normalized"),
    # Zhang et al. 2016 on the Table I body: Q logits over a/b bins, soft-encoded targets, class-
    # rebalanced cross-entropy. With raw L at 3e-4 its loss climbed; L in -1..1, 1e-4 and clipping train
    Recipe("adam-ce-classify", optimizer="adam", loss="ce", lr=1e-4, head="classification",
           input_scaling="centered", clip=1.0),
    # fine-tuning a trained classifier (--init) on its decoded colour: annealed-mean MSE plus a
    # colourfulness hinge (training/colourful.py); the release's prior correction stays folded in
    Recipe("adam-mse-colourful-classify", optimizer="adam", loss=COLOURFUL_LOSS, lr=3e-5, head="classification",
           input_scaling="centered", clip=1.0),
    # the shipped model's: the lite0-unet body (vidcolor/models/lite0_unet.py), an ImageNet-trained
    # EfficientNet-Lite0 encoder kept frozen with its BatchNorm statistics under a light U-Net decoder
    # and the same rebalanced classification head. Only the decoder learns (fast; a few hundred
    # photos overfit anything more); --encoder-lr 0.1 with --init from such a run fine-tunes the
    # whole network (stage 2). L* in -1..1 is the (x - 127) / 128 the encoder was trained with
    Recipe("lite0-ce-classify", optimizer="adamw", loss="ce", lr=3e-4, body="lite0-unet", head="classification",
           activation="relu", input_scaling="centered", size=160, clip=1.0, weight_decay=0.05),
)}
DEFAULT_RECIPE = "lite0-ce-classify"  # the shipped model's; --recipe adam-mae-swish trains the paper's network
