#!/usr/bin/env python3
"""Install SAM2Matting for Nuke: ``python3 installer/install.py [--help | doctor | --uninstall]``.

Runs with the system Python before any environment exists: standard library only, and the
project is imported straight from this source tree (docs/INSTALL.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict


def source_packages(root: Path) -> Dict[str, str]:
    """Import name -> folder: pyproject.toml's package-dir, read by installer/project.py (loaded
    by its path, since nothing of the project is importable yet)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_sam2matting_project", root / "installer" / "project.py"
    )
    assert spec is not None
    assert spec.loader is not None
    project = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(project)
    folders: Dict[str, str] = project.package_dirs(root)
    return folders


def use_source_tree(root: Path) -> None:
    """Make `sam2matting.*` importable from the checkout at `root` without installing it."""
    import importlib.util
    import types

    top = types.ModuleType("sam2matting")
    top.__path__ = []  # a package whose only parts are below
    sys.modules["sam2matting"] = top
    for name, folder in source_packages(root).items():
        spec = importlib.util.spec_from_file_location(
            name, root / folder / "__init__.py", submodule_search_locations=[str(root / folder)]
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        setattr(top, name.rsplit(".", 1)[1], module)
        spec.loader.exec_module(module)


if __name__ == "__main__":
    if sys.version_info < (3, 8):
        sys.exit("The installer needs Python 3.8 or newer (the backend itself needs 3.10+).")
    use_source_tree(Path(__file__).resolve().parent.parent)
    from sam2matting.installer.cli import main

    sys.exit(main())
