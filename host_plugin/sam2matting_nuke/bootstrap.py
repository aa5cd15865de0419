"""Making SAM2Matting importable inside Nuke, before anything else of the plugin is imported.

The installer vendors `sam2matting.protocol` into <plugin>/vendor/common and pyzmq into
<plugin>/vendor/py<major><minor> for each Nuke Python. Run from a source checkout (no vendor
folder), the protocol is registered from the checkout's protocol folder instead (the folder
pyproject.toml maps `sam2matting.protocol` to, read by the checkout's installer/project.py).
Standard library only; no Nuke.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

log = logging.getLogger(__name__)

PathLike = Union[str, Path]


def vendor_dirs(plugin_dir: PathLike, version: Optional[Tuple[int, int]] = None) -> List[Path]:
    """vendor/common and vendor/py<XY> for this Python, in that order."""
    major, minor = version or sys.version_info[:2]
    vendor = Path(plugin_dir) / "vendor"
    return [vendor / "common", vendor / f"py{major}{minor}"]


def add_to_path(dirs: Sequence[Path]) -> List[str]:
    """Put existing folders first on sys.path (once each, in the given order); returns them."""
    added = []
    for folder in reversed(list(dirs)):
        text = str(folder)
        if folder.is_dir() and text not in sys.path:
            sys.path.insert(0, text)
            added.append(text)
    return added


def protocol_importable() -> bool:
    try:
        importlib.import_module("sam2matting.protocol.errors")
    except ImportError:
        return False
    return True


def register_checkout_protocol(protocol_dir: Path) -> None:
    """Load <checkout>/protocol as `sam2matting.protocol` (a namespace `sam2matting` if needed)."""
    package = sys.modules.get("sam2matting")
    if package is None:
        package = types.ModuleType("sam2matting")
        package.__path__ = []  # a namespace-like parent: its children are registered by hand
        sys.modules["sam2matting"] = package
    spec = importlib.util.spec_from_file_location(
        "sam2matting.protocol",
        str(protocol_dir / "__init__.py"),
        submodule_search_locations=[str(protocol_dir)],
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {protocol_dir} as sam2matting.protocol")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sam2matting.protocol"] = module
    spec.loader.exec_module(module)
    package.protocol = module  # type: ignore[attr-defined]


def checkout_protocol(plugin_dir: PathLike) -> Optional[Path]:
    """The protocol folder of the source checkout holding this plugin, if it is one."""
    root = Path(plugin_dir).resolve().parent
    project = root / "installer" / "project.py"
    if not (project.is_file() and (root / "pyproject.toml").is_file()):
        return None
    spec = importlib.util.spec_from_file_location("_sam2matting_project", str(project))
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = module.package_dirs(root).get("sam2matting.protocol")
    return None if folder is None else root / folder


def ensure_protocol(plugin_dir: PathLike) -> Optional[str]:
    """None when `sam2matting.protocol` imports; else what is wrong and how to fix it."""
    if protocol_importable():
        return None
    checkout = checkout_protocol(plugin_dir)
    if checkout is not None and (checkout / "__init__.py").is_file():
        register_checkout_protocol(checkout)
        if protocol_importable():
            log.info("SAM2Matting: using the protocol from the checkout %s", checkout)
            return None
    vendored = Path(plugin_dir) / "vendor" / "common"
    return (
        f"SAM2Matting's protocol package is missing from {vendored}: re-run the installer "
        "(python3 installer/install.py)"
    )


def pyzmq_problem(version: Optional[Tuple[int, int]] = None) -> Optional[str]:
    """None when pyzmq imports; else the installer command that vendors it for this Python."""
    try:
        importlib.import_module("zmq")
    except ImportError:
        major, minor = version or sys.version_info[:2]
        return (
            f"pyzmq is not installed for this Nuke's Python {major}.{minor}, so the node cannot "
            "reach the backend (rendering from the cache still works). Fix: python3 "
            f"installer/install.py --nuke-python {major}.{minor}"
        )
    return None


def prepare(plugin_dir: PathLike) -> List[str]:
    """Everything init.py needs: paths, the protocol, pyzmq. Returns the problems found."""
    add_to_path(vendor_dirs(plugin_dir))
    problems = [p for p in (ensure_protocol(plugin_dir), pyzmq_problem()) if p]
    for problem in problems:
        log.warning("SAM2Matting: %s", problem)
    return problems
