"""The plugin folder Nuke loads, and what it needs from outside Nuke: pyzmq and the protocol.

Layout of a plugin folder (the repository's host_plugin/ with --link, or its copy under
~/.sam2matting/nuke by default)::

    init.py, menu.py, ...         the host plugin (copied from host_plugin/)
    vendor/common/sam2matting/protocol/      pure Python, shared by every Nuke
    vendor/common/sam2matting-X.dist-info/   so package_version() works on Python 3.7
    vendor/py37/ py39/ py310/ py311/         pyzmq built for each Nuke's Python

The host plugin's init.py puts vendor/common and vendor/py<XY> for the running Python on
sys.path.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

from .nuke_installs import python_tag, pyzmq_requirement
from .project import PROTOCOL_PACKAGE, package_folder
from .report import Reporter
from .runner import Command, CommandError, Runner

VENDOR = "vendor"
COMMON = "common"
# Marks a plugin copy made by the installer: only such a folder is synced into or deleted.
MARKER = ".sam2matting-plugin"
_SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def _source_files(src: Path, skip_top: Sequence[str]) -> Iterator[Path]:
    """Files under src (relative), leaving out caches and the top-level names in skip_top."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP and not (rel == Path() and d in skip_top)
        )
        for name in sorted(filenames):
            if not name.endswith((".pyc", ".pyo")) and not (rel == Path() and name in skip_top):
                yield rel / name


def sync_tree(
    src: Path, dest: Path, skip_top: Sequence[str] = (), dry_run: bool = False
) -> List[str]:
    """Make dest a copy of src (except skip_top); only changed files are written.

    Returns the relative paths written or removed. Files under dest that src no longer has are
    removed, except in the top-level names of skip_top (dest's own vendor/ folder).
    """
    wanted = set(_source_files(src, skip_top))
    changed: List[str] = []
    for rel in sorted(wanted):
        target = dest / rel
        if target.is_file() and filecmp.cmp(src / rel, target, shallow=False):
            continue
        changed.append(str(rel))
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, target)
    if dest.is_dir():
        for rel in set(_source_files(dest, skip_top)) - wanted:
            changed.append(f"removed {rel}")
            if not dry_run:
                (dest / rel).unlink()
    return changed


def is_ours(folder: Path) -> bool:
    """True for a folder the installer may sync into or delete: missing, empty or marked."""
    if not folder.exists():
        return True
    return folder.is_dir() and ((folder / MARKER).is_file() or not any(folder.iterdir()))


def copy_plugin(src: Path, dest: Path, dry_run: bool = False) -> List[str]:
    """Sync the host plugin into dest (its vendor/ folder stays), marking dest as ours."""
    changed = sync_tree(src, dest, skip_top=(VENDOR, MARKER), dry_run=dry_run)
    if not dry_run and not (dest / MARKER).is_file():
        dest.mkdir(parents=True, exist_ok=True)
        (dest / MARKER).write_text(
            "Plugin copy made by the SAM2Matting installer; --uninstall deletes this folder.\n",
            encoding="utf-8",
        )
    return changed


def vendor_protocol(
    plugin_dir: Path, source_root: Path, version: str, link: bool, dry_run: bool = False
) -> bool:
    """vendor/common/sam2matting/protocol (+ a dist-info for the version); True if changed.

    With `link`, the protocol folder is a symlink to the source tree so that edits show up in
    Nuke at once (a copy where the OS refuses symlinks).
    """
    common = plugin_dir / VENDOR / COMMON
    target = common.joinpath(*PROTOCOL_PACKAGE.split("."))
    src = package_folder(PROTOCOL_PACKAGE, source_root)
    changed = _write_metadata(common, version, dry_run)
    if link and not dry_run:
        linked = _symlink(src, target)
        if linked is not None:
            return linked or changed
    if target.is_symlink() and not dry_run:
        target.unlink()
    return bool(sync_tree(src, target, dry_run=dry_run)) or changed


def _symlink(src: Path, target: Path) -> Optional[bool]:
    """True: linked now; False: was linked already; None: the OS refused (copy instead)."""
    if target.is_symlink() and Path(os.readlink(target)) == src:
        return False
    if target.is_symlink():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(src, target_is_directory=True)
    except OSError:  # Windows without developer mode
        return None
    return True


def _write_metadata(common: Path, version: str, dry_run: bool) -> bool:
    dist = common / f"sam2matting-{version}.dist-info"
    text = f"Metadata-Version: 2.1\nName: sam2matting\nVersion: {version}\n"
    meta = dist / "METADATA"
    if meta.is_file() and meta.read_text(encoding="utf-8") == text:
        return False
    if not dry_run:
        for old in common.glob("sam2matting-*.dist-info"):
            shutil.rmtree(old)
        dist.mkdir(parents=True)
        meta.write_text(text, encoding="utf-8")
        (dist / "INSTALLER").write_text("sam2matting-installer\n", encoding="utf-8")
    return True


def vendored_pyzmq(folder: Path) -> Optional[str]:
    """The pyzmq version vendored in a vendor/py<XY> folder, or None."""
    for dist in sorted(folder.glob("pyzmq-*.dist-info")):
        if (folder / "zmq" / "__init__.py").is_file():
            return dist.name[len("pyzmq-") : -len(".dist-info")]
    return None


def foreign_wheel_args(python: Tuple[int, int], platform_tags: Sequence[str]) -> List[str]:
    """pip options that pick binary wheels for another Python and OS build (install/download)."""
    abi = f"cp{python[0]}{python[1]}" + ("m" if python < (3, 8) else "")
    args = [
        "--only-binary=:all:",
        "--no-deps",
        "--implementation",
        "cp",
        "--python-version",
        f"{python[0]}.{python[1]}",
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]
    for tag in platform_tags:
        args += ["--platform", tag]
    return args


def vendor_command(
    pip_python: Path,
    target: Path,
    python: Tuple[int, int],
    platform_tags: Sequence[str],
    offline: Optional[Path],
) -> Command:
    """pip install --target for another Python and OS build: binary wheels only."""
    argv = [
        str(pip_python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--target",
        str(target),
        "--no-compile",
        *foreign_wheel_args(python, platform_tags),
    ]
    if offline is not None:
        argv += ["--no-index", "--find-links", str(offline)]
    return Command(
        [*argv, pyzmq_requirement(python)], f"vendoring pyzmq for Python {python[0]}.{python[1]}"
    )


def vendor_pyzmq(
    plugin_dir: Path,
    python: Tuple[int, int],
    pip_python: Path,
    platform_tags: Sequence[str],
    offline: Optional[Path],
    runner: Runner,
    reporter: Reporter,
) -> bool:
    """Install pyzmq into vendor/py<XY>/: built in a temp folder, then swapped in."""
    folder = plugin_dir / VENDOR / python_tag(python)
    wanted = pyzmq_requirement(python).split("==")[1]
    staging = folder.with_name(f".{folder.name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    try:
        runner.run(vendor_command(pip_python, staging, python, platform_tags, offline))
    except CommandError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        fix = (
            f"put the {pyzmq_requirement(python)} wheel for this platform into {offline}"
            if offline
            else "check the network (pip must reach PyPI) and re-run"
        )
        reporter.problem(str(exc), fix=fix)
        return False
    if not runner.dry_run:
        if folder.exists():
            shutil.rmtree(folder)
        staging.replace(folder)
        reporter.ok(f"pyzmq {wanted} for Python {python[0]}.{python[1]} vendored into {folder}")
    return True
