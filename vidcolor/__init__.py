"""vidcolor: automatic colourization of black-and-white photographs and video."""
from .image import colorize_image, read_image, write_image
from .model import ColorNet, ModelConfig
from .pipeline import Colorizer
from .weights import ModelFileError, load_model, save_weights

__version__ = "0.1.0"
__all__ = ["ColorNet", "Colorizer", "ModelConfig", "ModelFileError", "colorize_image", "load_model",
           "read_image", "save_weights", "write_image", "__version__"]
