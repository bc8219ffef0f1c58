"""The one way every toolkit command runs (as torchvision's references do): a module gives
``get_args_parser()`` and ``main(args)``, which raises ordinary exceptions; ``run`` parses the
command line, shows warnings and errors as one line with the program's name, and exits."""
from __future__ import annotations

import sys
import warnings
from typing import Callable

from vidcolor.command import guarded_stderr
from vidcolor.errors import OptionError

# what a command reports as a one-line error (its library code raises these; anything else is a bug)
ERRORS = (ValueError, OSError, KeyError)


def run(prog: str, get_args_parser: Callable, main: Callable, argv: list[str] | None = None,
        interrupted: str = "interrupted") -> None:
    """Parse ``argv`` (default the command line) with ``get_args_parser()``, call ``main(args)``;
    an error is ``prog: error: <first line>`` on stderr with exit status 1."""
    parser = get_args_parser()
    parser.prog = prog
    args = parser.parse_args(argv)

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prog}: warning: {message}", file=sys.stderr)

    saved = warnings.showwarning
    warnings.showwarning = show_warning
    try:
        with guarded_stderr():  # a dead pipe on stderr (| tee log, Ctrl-C) ends nothing but the output
            try:
                main(args)
            except OptionError as err:  # an option's value: a usage error, exit 2 as every command's
                print(f"{prog}: error: {str(err).splitlines()[0]}", file=sys.stderr)
                sys.exit(2)
            except ERRORS as err:
                sys.exit(f"{prog}: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
            except KeyboardInterrupt:
                print(f"{prog}: {interrupted}", file=sys.stderr)
                sys.exit(130)
    finally:
        warnings.showwarning = saved
