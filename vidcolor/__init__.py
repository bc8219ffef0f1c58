"""vidcolor: automatic colourization of black-and-white photographs and video."""
from .folder import FolderSummary, colorize_folder
from .image import colorize_image, read_image, write_image
from .model import ColorNet, ModelConfig
from .pipeline import Colorizer, colorize_video
from .weights import ModelFileError, load_model, save_weights

__version__ = "0.1.0"
__all__ = ["ColorNet", "Colorizer", "FolderSummary", "ModelConfig", "ModelFileError", "colorize_folder",
           "colorize_image", "colorize_video", "load_model", "read_image", "save_weights", "write_image",
           "__version__"]
