"""`python3 installer/install.py [options]`: options, and the order the install steps run in.

`python3 installer/install.py doctor` runs the same code as `sam2matting doctor`.
Exit codes (sam2matting.backend.cli.exit_codes): 0 done, 1 a step failed (the summary says
which and how to fix it), 2 bad command line, 3 doctor found something required missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from sam2matting.backend.cli import exit_codes
from sam2matting.protocol import paths

from . import environment, licence
from .models import DEFAULT_MODELS, Registry, parse_selection
from .nuke_installs import parse_python
from .project import SOURCE_ROOT

EPILOG = """\
examples:
  python3 installer/install.py                      backend env, SAM2.1 tiny, Nuke plugin
  python3 installer/install.py --models tiny,large --accept-sam2matting-licence
  python3 installer/install.py --offline /mnt/wheels --nuke-path-only   (studio, no internet)
  python3 installer/install.py doctor               what is installed, what is missing
  python3 installer/install.py --uninstall          remove the Nuke block and vendored files
See docs/INSTALL.md and docs/CONFIGURATION.md."""


@dataclass(frozen=True)
class InstallOptions:
    """Everything an install or uninstall run needs, resolved from the command line."""

    home: Path
    env_dir: Path
    python: Optional[Path] = None
    no_env: bool = False
    torch_spec: str = environment.DEFAULT_TORCH_SPEC
    torch_index: str = "auto"
    reinstall_torch: bool = False
    dev: bool = False
    models: Tuple[str, ...] = DEFAULT_MODELS
    no_models: bool = False
    models_dir: Optional[Path] = None
    accept_licence: bool = False
    offline: Optional[Path] = None
    no_nuke: bool = False
    nuke_path_only: bool = False
    link: bool = False
    plugin_dir: Optional[Path] = None
    nuke_roots: Tuple[str, ...] = ()
    nuke_pythons: Tuple[Tuple[int, int], ...] = ()
    dry_run: bool = False
    verbose: bool = False
    uninstall: bool = False
    remove_env: bool = False
    remove_models: bool = False
    purge: bool = False
    source_root: Path = SOURCE_ROOT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="install.py",
        description="Install SAM2Matting for Nuke: backend environment, model files, Nuke plugin.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_env_options(parser.add_argument_group("backend environment"))
    _add_model_options(parser.add_argument_group("model files"))
    _add_nuke_options(parser.add_argument_group("Nuke plugin"))
    general = parser.add_argument_group("general")
    general.add_argument(
        "--offline",
        metavar="DIR",
        type=Path,
        help="take wheels and model files from DIR only (no internet)",
    )
    general.add_argument(
        "--dry-run", action="store_true", help="say what would be done; change nothing"
    )
    general.add_argument("-v", "--verbose", action="store_true", help="show commands and details")
    removal = parser.add_argument_group("uninstall")
    removal.add_argument(
        "--uninstall",
        action="store_true",
        help="remove the init.py block, the plugin copy and vendored packages",
    )
    removal.add_argument(
        "--remove-env",
        action="store_true",
        help="with --uninstall: also delete the environment the installer made",
    )
    removal.add_argument(
        "--remove-models",
        action="store_true",
        help="with --uninstall: also delete the model files and licence record",
    )
    removal.add_argument(
        "--purge",
        action="store_true",
        help="with --uninstall: remove everything, settings files included",
    )
    return parser


def _add_env_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--env",
        metavar="PATH",
        type=Path,
        help="backend venv to create or reuse (default: ~/.sam2matting/venv)",
    )
    group.add_argument(
        "--python",
        metavar="PATH",
        type=Path,
        help="use this existing interpreter's environment instead of a new venv",
    )
    group.add_argument(
        "--no-env",
        action="store_true",
        help="skip the backend environment (plugin machines, tests)",
    )
    group.add_argument(
        "--torch-spec",
        metavar="SPEC",
        default=os.environ.get(environment.TORCH_SPEC_ENV, environment.DEFAULT_TORCH_SPEC),
        help=f"torch requirements (default: '{environment.DEFAULT_TORCH_SPEC}'; "
        f"env {environment.TORCH_SPEC_ENV})",
    )
    group.add_argument(
        "--torch-index",
        metavar="WHICH",
        default=os.environ.get(environment.TORCH_INDEX_ENV, "auto"),
        help="auto (CUDA build matching the driver), pypi, cpu, cuXYZ or an index "
        f"URL (env {environment.TORCH_INDEX_ENV})",
    )
    group.add_argument(
        "--reinstall-torch",
        action="store_true",
        help="reinstall torch even if the requirement is met (switch CPU/CUDA)",
    )
    group.add_argument(
        "--dev", action="store_true", help="also install the development tools (pytest, ruff, mypy)"
    )


def _add_model_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--models",
        metavar="LIST",
        default=",".join(DEFAULT_MODELS),
        help="SAM2.1 trackers to install: tiny,small,base_plus,large or all (default: tiny)",
    )
    group.add_argument("--no-models", action="store_true", help="install no model files")
    group.add_argument(
        "--models-dir",
        metavar="DIR",
        type=Path,
        help="where model files go (written to config.json; default ~/.sam2matting/models)",
    )
    group.add_argument(
        licence.ACCEPT_FLAG,
        dest="accept_licence",
        action="store_true",
        help="accept the non-commercial CC BY-NC 4.0 licence of the official "
        "SAM2Matting heads and install those matching --models",
    )


def _add_nuke_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--no-nuke", action="store_true", help="do not install the Nuke plugin")
    group.add_argument(
        "--nuke-path-only",
        action="store_true",
        help="print the NUKE_PATH / rez lines instead of editing ~/.nuke/init.py",
    )
    group.add_argument(
        "--link",
        action="store_true",
        help="load the plugin from this checkout's host_plugin/ (development) "
        "instead of a copy in ~/.sam2matting/nuke",
    )
    group.add_argument(
        "--plugin-dir",
        metavar="DIR",
        type=Path,
        help="where to copy the plugin (default: ~/.sam2matting/nuke)",
    )
    group.add_argument(
        "--nuke-root",
        metavar="DIR",
        action="append",
        default=[],
        help="look for NukeX.YvZ folders here (repeatable; default: the usual "
        "install folders, or SAM2MATTING_NUKE_SEARCH)",
    )
    group.add_argument(
        "--nuke-python",
        metavar="X.Y",
        action="append",
        default=[],
        help="also vendor pyzmq for this Nuke Python (3.7, 3.9, 3.10, 3.11)",
    )


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> InstallOptions:
    """Check combinations and resolve defaults; parser.error() (exit 2) on nonsense."""
    if args.python and args.no_env:
        parser.error("--python and --no-env exclude each other")
    if (args.remove_env or args.remove_models or args.purge) and not args.uninstall:
        parser.error("--remove-env, --remove-models and --purge go with --uninstall")
    if args.link and args.plugin_dir:
        parser.error("--link uses host_plugin/ in place; --plugin-dir is for the copy")
    if args.offline and not args.offline.is_dir():
        parser.error(f"--offline: {args.offline} is not a folder")
    try:
        models = parse_selection(args.models, Registry.load())
        nuke_pythons = tuple(parse_python(v) for v in args.nuke_python)
        environment.resolve_torch_index(args.torch_index, None, "linux")  # its spelling
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    home = paths.home_dir()
    return InstallOptions(
        home=home,
        env_dir=_absolute(args.env) if args.env else home / "venv",
        python=_absolute(args.python) if args.python else None,
        no_env=args.no_env,
        torch_spec=args.torch_spec,
        torch_index=args.torch_index,
        reinstall_torch=args.reinstall_torch,
        dev=args.dev,
        models=models,
        no_models=args.no_models,
        models_dir=_absolute(args.models_dir) if args.models_dir else None,
        accept_licence=args.accept_licence,
        offline=_absolute(args.offline) if args.offline else None,
        no_nuke=args.no_nuke,
        nuke_path_only=args.nuke_path_only,
        link=args.link,
        plugin_dir=_absolute(args.plugin_dir) if args.plugin_dir else None,
        nuke_roots=tuple(args.nuke_root),
        nuke_pythons=nuke_pythons,
        dry_run=args.dry_run,
        verbose=args.verbose,
        uninstall=args.uninstall,
        remove_env=args.remove_env or args.purge,
        remove_models=args.remove_models or args.purge,
        purge=args.purge,
    )


def _absolute(path: Path) -> Path:
    # Not resolve(): a venv's bin/python is a symlink that must stay inside the venv.
    return path.expanduser().absolute()


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["doctor"]:
        return _doctor(argv[1:])
    parser = build_parser()
    options = options_from_args(parser.parse_args(argv), parser)
    logging.basicConfig(
        level=logging.DEBUG if options.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .steps import install
    from .uninstall import uninstall

    try:
        return uninstall(options) if options.uninstall else install(options)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: nothing half-written was left behind; re-run to finish", file=sys.stderr
        )
        return exit_codes.INTERRUPTED


def _doctor(argv: List[str]) -> int:
    from . import doctor

    parser = argparse.ArgumentParser(prog="install.py doctor", description=doctor.DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    doctor.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    return doctor.run(args)
