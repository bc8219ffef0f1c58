"""The networks: ``base`` (config and base class), one module per body (``table1``,
``lite0_unet``), ``registry`` (body name -> class) and ``abbins`` (the classification head's bins)."""
from .base import ColorModel, ModelConfig
from .lite0_unet import UNetColorNet
from .registry import BODIES, build_model, check_config
from .table1 import ColorNet

__all__ = ["BODIES", "ColorNet", "ColorModel", "ModelConfig", "UNetColorNet", "build_model", "check_config"]
