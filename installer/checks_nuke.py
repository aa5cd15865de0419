"""Doctor checks for the Nuke side: installs found, and whether the plugin would load in each.

"Would load" means: the plugin folder is on Nuke's plugin path (the init.py block or NUKE_PATH),
it holds the plugin, the vendored protocol and pyzmq for that Nuke's Python, and, where the
Nuke's own Python executable exists, that Python really imports `zmq` and
`sam2matting.protocol` from the vendor folders.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import List, Optional, Tuple

from . import init_block, nuke_installs
from .checks import MISSING, NOTE, OK, WRONG, Check, DoctorContext
from .nuke_installs import NukeInstall, python_tag
from .nuke_plugin import COMMON, VENDOR, vendored_pyzmq
from .project import PROTOCOL_PACKAGE, install_command

AREA = "Nuke"
IMPORT_TEST = (
    "import sys; sys.path[:0] = sys.argv[1:]; import zmq, sam2matting.protocol; "
    "print(zmq.__version__)"
)


def plugin_dirs(ctx: DoctorContext) -> List[Tuple[Path, str]]:
    """Plugin folders Nuke will load, with where each is registered."""
    found: List[Tuple[Path, str]] = []
    init_py = Path(ctx.state.init_py or str(ctx.platform.nuke_user_dir() / "init.py"))
    block_dir = init_block.plugin_path_in(init_block.read_text(init_py))
    if block_dir:
        found.append((Path(block_dir), f"the block in {init_py}"))
    for entry in ctx.environ.get("NUKE_PATH", "").split(ctx.platform.pathsep):
        if entry and (Path(entry) / VENDOR / COMMON / "sam2matting").is_dir():
            found.append((Path(entry), "NUKE_PATH"))
    return found


def nuke(ctx: DoctorContext) -> List[Check]:
    roots = nuke_installs.search_roots(ctx.platform, ctx.nuke_roots)
    installs = nuke_installs.find_installs(ctx.platform, roots)
    wanted = bool(ctx.state.plugin_dir) or not ctx.state.version  # --no-nuke installs skip this
    registered = plugin_dirs(ctx)
    checks: List[Check] = []
    if registered:
        where, how = registered[0]
        checks.append(Check(AREA, "plugin path", OK, f"{where} (from {how})"))
    else:
        checks.append(
            Check(
                AREA,
                "plugin path",
                MISSING if wanted else NOTE,
                "the plugin is not on Nuke's plugin path (no block in ~/.nuke/init.py, "
                "not in NUKE_PATH)",
                install_command(),
                required=wanted,
            )
        )
    if not installs:
        checks.append(
            Check(
                AREA,
                "Nuke",
                NOTE,
                "no Nuke install found in "
                f"{', '.join(map(str, roots))} (set SAM2MATTING_NUKE_SEARCH or "
                "pass --nuke-root)",
                required=False,
            )
        )
    plugin = registered[0][0] if registered else None
    for install in installs:
        checks.append(_install_check(ctx, install, plugin, wanted))
    return checks


def _install_check(
    ctx: DoctorContext, install: NukeInstall, plugin: Optional[Path], wanted: bool
) -> Check:
    python = install.python
    if python is None:
        return Check(
            AREA,
            install.name,
            NOTE,
            f"{install.folder}: this Nuke's Python is unknown to this version of SAM2Matting",
            required=False,
        )
    label = f"{install.name} (Python {python[0]}.{python[1]})"
    fix = install_command()
    if plugin is None:
        return Check(AREA, label, MISSING if wanted else NOTE, "plugin not registered", fix, wanted)
    problem = _plugin_problem(plugin, python)
    if problem:
        return Check(AREA, label, MISSING, problem, fix, wanted)
    if install.python_exe is None or not ctx.import_test:
        return Check(
            AREA,
            label,
            OK,
            f"plugin folder complete (import not tried: "
            f"{'no python executable found' if ctx.import_test else 'skipped'})",
        )
    return _import_test(install, plugin, python, label, fix, wanted)


def _plugin_problem(plugin: Path, python: Tuple[int, int]) -> Optional[str]:
    if not (plugin / "init.py").is_file():
        return f"{plugin} has no init.py"
    vendored = (plugin / VENDOR / COMMON).joinpath(*PROTOCOL_PACKAGE.split("."))
    if not (vendored / "__init__.py").is_file():
        return f"{plugin / VENDOR / COMMON} lacks {PROTOCOL_PACKAGE}"
    version = vendored_pyzmq(plugin / VENDOR / python_tag(python))
    if version is None:
        return (
            f"no pyzmq for Python {python[0]}.{python[1]} in {plugin / VENDOR / python_tag(python)}"
        )
    return None


def _import_test(
    install: NukeInstall, plugin: Path, python: Tuple[int, int], label: str, fix: str, wanted: bool
) -> Check:
    vendor = [str(plugin / VENDOR / python_tag(python)), str(plugin / VENDOR / COMMON)]
    try:
        proc = subprocess.run(
            [str(install.python_exe), "-c", IMPORT_TEST, *vendor],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(AREA, label, WRONG, f"{install.python_exe} did not run: {exc}", fix, wanted)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Check(
            AREA, label, WRONG, f"its Python cannot import the plugin's needs: {tail}", fix, wanted
        )
    return Check(
        AREA,
        label,
        OK,
        f"plugin loads: {install.python_exe} imports pyzmq "
        f"{proc.stdout.strip()} and sam2matting.protocol from {plugin / VENDOR}",
    )
