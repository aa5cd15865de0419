"""`--uninstall`: undo what install.json records; models, env and settings only when asked.

Always removed: the init.py block (the user's own lines stay byte for byte), the plugin copy
(or, with --link installs, the vendored packages inside host_plugin/vendor), install.json.
--remove-env deletes the environment only if the installer created it; --remove-models deletes
the registry's model files and the licence record; --purge also the settings files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from sam2matting.backend.cli import exit_codes
from sam2matting.protocol import paths
from sam2matting.protocol.checksums import CACHE_NAME, SIDECAR_SUFFIX

from . import init_block, licence
from .cli import InstallOptions
from .models import Registry
from .nuke_plugin import MARKER, VENDOR
from .report import Reporter
from .state import STATE_FILE
from .steps import Context, make_context, plugin_folder


def uninstall(options: InstallOptions, reporter: Optional[Reporter] = None) -> int:
    ctx = make_context(options, reporter)
    ctx.reporter.info(f"SAM2Matting {ctx.version}: uninstalling")
    _remove_block(ctx)
    _remove_plugin(ctx)
    if options.remove_env:
        _remove_env(ctx)
    if options.remove_models:
        _remove_models(ctx)
    _remove_files(ctx)
    ctx.reporter.summary("Uninstall")
    return exit_codes.FAILURE if ctx.reporter.problems else exit_codes.OK


def _delete(ctx: Context, path: Path, what: str) -> None:
    if not (path.exists() or path.is_symlink()):
        return
    if ctx.options.dry_run:
        ctx.reporter.info(f"would delete {what}: {path}")
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    ctx.reporter.ok(f"deleted {what}: {path}")


def _remove_block(ctx: Context) -> None:
    ctx.reporter.step("Nuke init.py")
    init_py = Path(ctx.state.init_py or str(ctx.platform.nuke_user_dir() / "init.py"))
    text = init_block.read_text(init_py)
    try:
        new = init_block.remove(text)
    except init_block.BlockError as exc:
        ctx.reporter.problem(
            f"{init_py}: {exc}", fix=f"delete the SAM2Matting lines in {init_py} by hand"
        )
        return
    if new == text:
        ctx.reporter.ok(f"no SAM2Matting block in {init_py}")
    elif ctx.options.dry_run:
        ctx.reporter.info(f"would remove the SAM2Matting block from {init_py}")
    else:
        init_block.write_if_changed(init_py, new)
        ctx.reporter.ok(f"removed the SAM2Matting block from {init_py}; your lines are untouched")


def _remove_plugin(ctx: Context) -> None:
    ctx.reporter.step("Plugin files")
    if ctx.state.plugin_linked:
        # The plugin itself is the checkout's host_plugin/: only the vendored packages go.
        linked = Path(ctx.state.plugin_dir or str(ctx.options.source_root / "host_plugin"))
        _delete(ctx, linked / VENDOR / "common", "vendored protocol")
        for folder in sorted((linked / VENDOR).glob("py3*")):
            _delete(ctx, folder, "vendored pyzmq")
        return
    plugin_dir = Path(ctx.state.plugin_dir) if ctx.state.plugin_dir else plugin_folder(ctx.options)
    if (plugin_dir / MARKER).is_file():
        _delete(ctx, plugin_dir, "plugin copy")
    elif plugin_dir.exists():
        ctx.reporter.info(f"kept {plugin_dir}: not a plugin copy made by the installer")
    else:
        ctx.reporter.ok(f"no plugin copy at {plugin_dir}")


def _remove_env(ctx: Context) -> None:
    ctx.reporter.step("Backend environment")
    env_dir = Path(ctx.state.env_dir) if ctx.state.env_dir else ctx.options.env_dir
    if not (env_dir / "pyvenv.cfg").is_file():
        ctx.reporter.ok(f"no environment at {env_dir}")
    elif ctx.state.env_created or env_dir == ctx.options.home / "venv":
        _delete(ctx, env_dir, "environment")
    else:
        ctx.reporter.info(f"kept {env_dir}: the installer did not create it (delete it yourself)")


def _remove_models(ctx: Context) -> None:
    ctx.reporter.step("Model files")
    folder = Path(ctx.state.models_dir) if ctx.state.models_dir else ctx.options.home / "models"
    for model in Registry.load().all_files():
        _delete(ctx, folder / model.filename, model.name)
        _delete(ctx, folder / (model.filename + ".part"), f"partial {model.name}")
        _delete(ctx, folder / (model.filename + SIDECAR_SUFFIX), f"recorded hash of {model.name}")
    _delete(ctx, folder / CACHE_NAME, "hash cache")
    if folder.is_dir() and not any(folder.iterdir()) and not ctx.options.dry_run:
        folder.rmdir()
    if not ctx.options.dry_run:
        licence.forget(ctx.options.home)


def _remove_files(ctx: Context) -> None:
    ctx.reporter.step("Settings files")
    home = ctx.options.home
    _delete(ctx, home / STATE_FILE, "install record")
    if not ctx.options.purge:
        ctx.reporter.info("kept the connection and config files (--purge removes them)")
        return
    _delete(ctx, paths.default_connection_file(), "connection file")
    _delete(ctx, paths.default_config_file(), "config file")
    _delete(ctx, home / licence.LICENCE_FILE, "licence record")
    init_py = Path(ctx.state.init_py or str(ctx.platform.nuke_user_dir() / "init.py"))
    _delete(ctx, init_py.with_name(init_py.name + init_block.BACKUP_SUFFIX), "init.py backup")
    if home.is_dir() and not any(home.iterdir()) and not ctx.options.dry_run:
        home.rmdir()
        ctx.reporter.ok(f"deleted the empty folder {home}")
