"""`sam2matting` command line: one entry point, one module per subcommand, imported lazily.

Each subcommand module exposes `add_arguments(parser)` and `run(args) -> int` (an exit code from
`exit_codes`). Lazy imports keep `sam2matting --help` fast: torch loads only for commands that
need it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import List, Optional

from sam2matting.backend.cli import exit_codes

# name -> (module, one-line help). Order is the order `--help` lists them in.
COMMANDS = {
    "serve": ("sam2matting.backend.cli.serve", "run the backend server the Nuke plugin talks to"),
    "demo": ("sam2matting.backend.cli.demo", "generate a demo shot and matte it end to end"),
    "render": (
        "sam2matting.backend.cli.render",
        "farm render: matte a plate sequence from a shot file, resumable",
    ),
    "farm": (
        "sam2matting.backend.cli.farm",
        "render-farm job (Open Job Description): bundle a shot, run its Track/Matte tasks",
    ),
    "matte-image": (
        "sam2matting.backend.cli.matte_image",
        "matte one image from a mask (float EXR alpha out)",
    ),
    "eval": (
        "sam2matting.backend.cli.evaluate",
        "score an engine on images with ground-truth alpha (SAD, MSE, Grad, Conn)",
    ),
    "doctor": ("sam2matting.installer.doctor", "check the installation and say how to fix it"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam2matting",
        description="SAM2Matting for Nuke: video mattes from a few clicks.",
        epilog="Run 'sam2matting COMMAND --help' for a command's options.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Parse the command name first, then let the chosen module add its own options.
    known, _rest = parser.parse_known_args(argv)
    if known.command is None:
        parser.print_help()
        return exit_codes.USAGE
    # sam2 draws a tqdm bar per propagation call; our commands report progress themselves.
    # tqdm reads this only when imported, so it is set before any command imports sam2.
    os.environ.setdefault("TQDM_DISABLE", "1")
    module = importlib.import_module(COMMANDS[known.command][0])
    sub = argparse.ArgumentParser(
        prog=f"sam2matting {known.command}", description=COMMANDS[known.command][1]
    )
    sub.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    module.add_arguments(sub)
    args = sub.parse_args(argv[argv.index(known.command) + 1 :])
    args.verbose = args.verbose or known.verbose
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
