import pytest
import torch
from torch import nn

from vidcolor.models import ColorNet, ModelConfig, check_config

# Table I of the paper: (layer, input C@HxW) for every conv and upsampling at 256x256
TABLE_I_INPUTS = [
    ("conv", 1, 256), ("conv", 64, 128), ("conv", 128, 128), ("conv", 128, 64), ("conv", 256, 64),
    ("conv", 256, 32), ("conv", 512, 32), ("conv", 512, 32), ("conv", 256, 32), ("up", 128, 32),
    ("conv", 128, 64), ("up", 64, 64), ("conv", 64, 128), ("conv", 32, 128), ("conv", 16, 128), ("up", 2, 128),
]
TABLE_I_FILTERS = [64, 128, 128, 256, 256, 512, 512, 256, 128, 64, 32, 16, 2]
TABLE_I_STRIDES = [2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1]
PARAMETERS_WITH_BIASES = 6_219_410


def layer_inputs(model: ColorNet, size: int):
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m, tuple(i[0].shape), tuple(o.shape))))
             for m in model.layers if isinstance(m, (nn.Conv2d, nn.Upsample))]
    out = model(torch.zeros(1, 1, size, size))
    for h in hooks:
        h.remove()
    return seen, out


def test_table_one_shapes_and_parameter_count():
    model = ColorNet()
    seen, out = layer_inputs(model, 256)
    assert len(seen) == len(TABLE_I_INPUTS)
    for (module, shape_in, _), (kind, channels, side) in zip(seen, TABLE_I_INPUTS):
        assert isinstance(module, nn.Conv2d if kind == "conv" else nn.Upsample)
        assert shape_in == (1, channels, side, side)
    convs = [m for m, _, _ in seen if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == TABLE_I_FILTERS
    assert [c.stride[0] for c in convs] == TABLE_I_STRIDES
    assert all(c.kernel_size == (3, 3) for c in convs)
    ups = [m for m, _, _ in seen if isinstance(m, nn.Upsample)]
    assert all(u.mode == "nearest" and u.scale_factor == 2 for u in ups)
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS_WITH_BIASES
    assert out.shape == (1, 2, 256, 256)
    # bottleneck 512@32x32
    assert [s for m, s, _ in seen if isinstance(m, nn.Conv2d) and m.in_channels == 512][0] == (1, 512, 32, 32)


@pytest.mark.parametrize("activation,kind", [("relu", nn.ReLU), ("swish", nn.SiLU)])
def test_activations_and_tanh_output(activation, kind):
    model = ColorNet(ModelConfig.paper(activation=activation))
    acts = [m for m in model.layers if not isinstance(m, (nn.Conv2d, nn.Upsample))]
    assert len(acts) == 13
    assert all(isinstance(a, kind) for a in acts[:-1]) and isinstance(acts[-1], nn.Tanh)
    out = model(torch.randn(2, 1, 64, 64) * 50)
    assert out.shape == (2, 2, 64, 64) and out.abs().max() <= 1.0


def test_input_scalings():
    lightness = torch.full((1, 1, 8, 8), 50.0)
    assert ModelConfig.paper(input_scaling="raw").scale_l(lightness).max() == 50.0
    assert ModelConfig.paper(input_scaling="normalized").scale_l(lightness).max() == pytest.approx(0.5)


def test_any_multiple_of_eight_and_config_round_trip():
    config = ModelConfig.paper(activation="relu", input_scaling="normalized", size=136, ab_scale=110.0)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ColorNet(config)(torch.zeros(1, 1, 136, 136)).shape == (1, 2, 136, 136)
    for bad in (dict(size=100), dict(activation="gelu"), dict(input_scaling="z"), dict(ab_scale=0), dict(body="x")):
        with pytest.raises(ValueError):
            check_config(ModelConfig.paper(**bad))  # the fields at once, the size against the body's stride
    with pytest.raises(ValueError):
        ModelConfig.from_dict({"size": 256, "colour": "red"})
