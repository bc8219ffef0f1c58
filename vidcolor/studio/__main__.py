"""``python -m vidcolor.studio DIR``: the same as ``vidcolor-studio DIR``."""
from .cli import main

main(prog_name="vidcolor-studio")
