"""The install run: environment, settings files, model files, Nuke plugin, in that order.

A failing step is reported with its fix and the others still run (the model files do not need
the environment, nor the plugin the model files), so one run shows every problem at once.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from sam2matting.backend.cli import exit_codes
from sam2matting.protocol import paths

from . import environment, gpu, init_block, licence, nuke_installs, nuke_plugin
from .cli import InstallOptions
from .models import Registry, install_file, offline_fetcher, online_fetcher
from .platforms import Platform
from .project import install_command, project_version
from .report import Reporter
from .runner import Command, CommandError, DryRunner, Runner
from .state import ConfigFileError, InstallState, ensure_connection_file, update_config


@dataclass
class Context:
    options: InstallOptions
    platform: Platform
    reporter: Reporter
    runner: Runner
    state: InstallState
    version: str


def make_context(options: InstallOptions, reporter: Optional[Reporter] = None) -> Context:
    reporter = reporter or Reporter(verbose=options.verbose)
    runner: Runner = DryRunner(reporter) if options.dry_run else Runner(reporter)
    return Context(
        options,
        Platform.current(),
        reporter,
        runner,
        InstallState.load(options.home),
        project_version(options.source_root),
    )


def install(options: InstallOptions, reporter: Optional[Reporter] = None) -> int:
    ctx = make_context(options, reporter)
    ctx.reporter.info(
        f"SAM2Matting {ctx.version} installer ({'dry run' if options.dry_run else 'installing'})"
    )
    ctx.state.version = ctx.version
    ctx.state.source = str(options.source_root)
    python = step_env(ctx)
    step_kernels(ctx, python)
    step_settings(ctx)
    step_models(ctx)
    step_nuke(ctx, python)
    if not options.dry_run:
        ctx.state.save(options.home)
    _next_steps(ctx, python)
    ctx.reporter.summary("Dry run" if options.dry_run else "Install")
    return exit_codes.FAILURE if ctx.reporter.problems else exit_codes.OK


# ---------------------------------------------------------------- environment


def step_env(ctx: Context) -> Optional[Path]:
    """Create or reuse the backend environment; returns its Python (None when skipped/failed)."""
    opts, rep = ctx.options, ctx.reporter
    rep.step("Backend environment (torch, sam2, sam2matting)")
    if opts.no_env:
        rep.info("skipped (--no-env)")
        return None
    fresh = False
    if opts.python is not None:
        python = opts.python
        if not python.exists():
            rep.problem(
                f"--python {python} does not exist", fix="give the path of a python executable"
            )
            return None
        ctx.state.env_dir, ctx.state.env_created = None, False  # not ours to delete
    else:
        python = Path(str(ctx.platform.venv_python(ctx.platform.path(str(opts.env_dir)))))
        if not python.exists():
            if not environment.create_venv(opts.env_dir, python, ctx.runner, rep):
                return None
            fresh = True
        # Created now, or by an earlier run for this same folder: --remove-env may delete it.
        ctx.state.env_created = fresh or (
            ctx.state.env_created and ctx.state.env_dir == str(opts.env_dir)
        )
        ctx.state.env_dir = str(opts.env_dir)
    request = _env_request(ctx, fresh)
    if not environment.apply(python, request, ctx.runner, rep):
        return None
    ctx.state.env_python = str(python)
    return python


def step_kernels(ctx: Context, python: Optional[Path]) -> None:
    """Compile the matting engine's kernels into the environment's cache now, so the first
    frame does not (about 8 s on 2 cores; `backend/matting/warmup.py`). Not fatal: without it
    the first frame compiles them."""
    if python is None:
        return
    rep = ctx.reporter
    rep.step("Matting kernels (compiled once per machine)")
    command = Command(
        [str(python), "-m", "sam2matting.backend.matting.warmup"], "compiling the matting kernels"
    )
    try:
        ctx.runner.run(command, timeout_s=600)
    except (CommandError, subprocess.TimeoutExpired) as exc:
        rep.note(f"{exc}; the first frame will compile them instead (about 8 s, once)")
        return
    if not ctx.options.dry_run:
        rep.ok("compiled (or already in the cache)")


def _env_request(ctx: Context, fresh: bool) -> environment.EnvRequest:
    opts = ctx.options
    nvidia = gpu.detect_nvidia()
    index, why = environment.resolve_torch_index(opts.torch_index, nvidia, ctx.platform.system)
    if opts.offline is None:
        ctx.reporter.info(f"torch: {opts.torch_spec} ({why})")
    return environment.EnvRequest(
        source_root=opts.source_root,
        project_version=ctx.version,
        torch_spec=opts.torch_spec,
        torch_index=index,
        reinstall_torch=opts.reinstall_torch,
        extras=("backend", "dev") if opts.dev else ("backend",),
        offline=opts.offline,
        fresh=fresh,
    )


# ---------------------------------------------------------------- settings files


def step_settings(ctx: Context) -> None:
    rep, opts = ctx.reporter, ctx.options
    rep.step("Settings files")
    connection = paths.default_connection_file()
    config = paths.default_config_file()
    settings = {"models_dir": str(opts.models_dir)} if opts.models_dir else {}
    if opts.dry_run:
        rep.info(f"would keep or write {connection} (mode 0600) and {config}")
        return
    rep.ok(f"connection file {connection}: {ensure_connection_file(connection)}")
    try:
        changed = update_config(config, settings, replace=bool(settings))
    except ConfigFileError as exc:
        rep.problem(str(exc), fix=f"fix the JSON in {config} by hand, or delete the file")
        return
    rep.ok(f"config file {config}: {'updated' if changed else 'unchanged'}")


def models_dir(ctx: Context) -> Path:
    """--models-dir, else the backend's own setting (env, config file, default)."""
    if ctx.options.models_dir is not None:
        return ctx.options.models_dir
    from sam2matting.backend.config import BackendConfig

    return BackendConfig.load().models_dir


# ---------------------------------------------------------------- model files


def step_models(ctx: Context) -> None:
    rep, opts = ctx.reporter, ctx.options
    rep.step("Model files")
    if opts.no_models:
        rep.info("skipped (--no-models)")
        return
    try:
        folder = models_dir(ctx)
    except (ValueError, OSError) as exc:
        rep.problem(f"cannot read the backend settings: {exc}", fix="fix the config file")
        return
    ctx.state.models_dir = str(folder)
    registry = Registry.load()
    files = [registry.trackers[name] for name in opts.models]
    heads = [registry.heads[name] for name in opts.models if name in registry.heads]
    if heads and _heads_allowed(ctx):
        files += heads
    elif heads:
        again = install_command(f"--models {','.join(opts.models)} {licence.ACCEPT_FLAG}")
        rep.note(
            f"the SAM2Matting heads for {', '.join(h.short for h in heads)} were not installed: "
            f"their licence (CC BY-NC 4.0, non-commercial) was not accepted. To install them: "
            f"{again}"
        )
    fetch = (
        offline_fetcher(opts.offline) if opts.offline else online_fetcher(rep, ctx.platform.environ)
    )
    for model in files:
        if opts.dry_run:
            rep.info(f"would verify or fetch {model.name} into {folder / model.filename}")
        else:
            install_file(model, folder, fetch, rep, opts.offline)


def _heads_allowed(ctx: Context) -> bool:
    if ctx.options.dry_run:
        return bool(ctx.options.accept_licence or licence.accepted_on(ctx.options.home))
    allowed = licence.decide(ctx.options.accept_licence, ctx.options.home)
    if allowed:
        when = licence.accepted_on(ctx.options.home)
        ctx.reporter.info(f"SAM2Matting heads: CC BY-NC 4.0 accepted on {when}: non-commercial use")
    return allowed


# ---------------------------------------------------------------- Nuke plugin


def step_nuke(ctx: Context, env_python: Optional[Path]) -> None:
    rep, opts = ctx.reporter, ctx.options
    rep.step("Nuke plugin")
    if opts.no_nuke:
        rep.info("skipped (--no-nuke)")
        return
    pythons = _nuke_pythons(ctx)
    plugin_dir = plugin_folder(opts)
    if not _place_plugin(ctx, plugin_dir):
        return
    _vendor_pyzmq(ctx, plugin_dir, pythons, env_python)
    ctx.state.nuke_pythons = [f"{p[0]}.{p[1]}" for p in pythons]
    if opts.nuke_path_only:
        _print_nuke_path(ctx, plugin_dir)
    else:
        _write_init_block(ctx, plugin_dir)


def _vendor_pyzmq(
    ctx: Context, plugin_dir: Path, pythons: List[Tuple[int, int]], env_python: Optional[Path]
) -> None:
    missing = []
    for python in pythons:
        folder = plugin_dir / nuke_plugin.VENDOR / nuke_installs.python_tag(python)
        version = nuke_plugin.vendored_pyzmq(folder)
        if version == nuke_installs.pyzmq_requirement(python).split("==")[1]:
            ctx.reporter.ok(f"pyzmq {version} for Python {python[0]}.{python[1]} is in {folder}")
        else:
            missing.append(python)
    pip_python = _pip_python(ctx, env_python) if missing else None
    for python in missing:
        if pip_python is None:
            break
        major = next((m for m, p in nuke_installs.NUKE_PYTHONS.items() if p == python), None)
        tags = ctx.platform.pip_platform_tags(major)
        nuke_plugin.vendor_pyzmq(
            plugin_dir, python, pip_python, tags, ctx.options.offline, ctx.runner, ctx.reporter
        )


def plugin_folder(opts: InstallOptions) -> Path:
    if opts.link:
        return opts.source_root / "host_plugin"
    return opts.plugin_dir or opts.home / "nuke"


def _nuke_pythons(ctx: Context) -> List[Tuple[int, int]]:
    platform, rep = ctx.platform, ctx.reporter
    roots = nuke_installs.search_roots(platform, ctx.options.nuke_roots)
    installs = nuke_installs.find_installs(platform, roots)
    for nuke in installs:
        py = (
            f"Python {nuke.python[0]}.{nuke.python[1]}"
            if nuke.python
            else "unknown Python: skipped"
        )
        rep.info(f"found {nuke.name} ({py}) in {nuke.folder}")
    if not installs:
        rep.note(
            f"no Nuke install found in {', '.join(map(str, roots))}; pass --nuke-root DIR, or "
            "--nuke-python 3.10 (etc.) to prepare the plugin for a Nuke installed elsewhere"
        )
    return sorted(set(nuke_installs.pythons_for(installs)) | set(ctx.options.nuke_pythons))


def _place_plugin(ctx: Context, plugin_dir: Path) -> bool:
    opts, rep = ctx.options, ctx.reporter
    source = opts.source_root / "host_plugin"
    if not (source / "init.py").is_file():
        rep.note(f"{source} has no init.py yet: Nuke will find the folder but load nothing")
    done = "would be" if opts.dry_run else "were"
    if opts.link:
        rep.ok(f"plugin folder: {plugin_dir} (this checkout's own folder)")
    elif not nuke_plugin.is_ours(plugin_dir):
        rep.problem(
            f"{plugin_dir} holds other files and was not made by the installer; not touching it",
            fix="choose an empty or new folder with --plugin-dir",
        )
        return False
    else:
        changed = nuke_plugin.copy_plugin(source, plugin_dir, dry_run=opts.dry_run)
        rep.ok(f"plugin folder: {plugin_dir} ({len(changed)} file(s) {done} updated)")
    common = plugin_dir / nuke_plugin.VENDOR / nuke_plugin.COMMON
    vendored = nuke_plugin.vendor_protocol(
        plugin_dir, opts.source_root, ctx.version, opts.link, opts.dry_run
    )
    state = f"{done} updated" if vendored else "up to date"
    rep.ok(f"sam2matting.protocol {ctx.version} in {common}: {state}")
    ctx.state.plugin_dir = str(plugin_dir)
    ctx.state.plugin_linked = opts.link
    return True


def _pip_python(ctx: Context, env_python: Optional[Path]) -> Optional[Path]:
    """An interpreter with pip, to run `pip install --target` for the Nuke Pythons."""
    for candidate in (env_python, Path(sys.executable)):
        if candidate is None:
            continue
        if ctx.runner.capture([str(candidate), "-m", "pip", "--version"], 60).returncode == 0:
            return candidate
    ctx.reporter.problem(
        "no Python with pip to vendor pyzmq for Nuke",
        fix="install the backend environment first (drop --no-env), or install python3-pip",
    )
    return None


def _write_init_block(ctx: Context, plugin_dir: Path) -> None:
    rep = ctx.reporter
    init_py = Path(str(ctx.platform.nuke_user_dir())) / "init.py"
    text = init_block.read_text(init_py)
    try:
        new = init_block.apply(text, init_block.render(plugin_dir, ctx.version))
    except init_block.BlockError as exc:
        rep.problem(f"{init_py}: {exc}", fix=f"delete the SAM2Matting marker lines in {init_py}")
        return
    ctx.state.init_py = str(init_py)
    if ctx.options.dry_run:
        rep.info(f"would {'leave' if new == text else 'update'} the SAM2Matting block in {init_py}")
    elif init_block.write_if_changed(init_py, new):
        rep.ok(f"{init_py}: SAM2Matting block written (your own lines are untouched)")
    else:
        rep.ok(f"{init_py}: SAM2Matting block already up to date")


def _print_nuke_path(ctx: Context, plugin_dir: Path) -> None:
    ctx.state.init_py = None
    ctx.reporter.info("Add the plugin folder to NUKE_PATH where your studio sets up Nuke:")
    for line in init_block.nuke_path_lines(plugin_dir, ctx.platform):
        ctx.reporter.info(f"  {line}")


def _next_steps(ctx: Context, python: Optional[Path]) -> None:
    if ctx.options.dry_run or ctx.reporter.problems:
        return
    ctx.reporter.step("Next")
    if python is not None:
        script = python.with_name("sam2matting.exe" if ctx.platform.is_windows else "sam2matting")
        serve = (
            f"{script} serve"
            if script.exists()
            else f"{python} -m sam2matting.backend.cli.main serve"
        )
        ctx.reporter.info(f"start the backend:  {serve}")
    ctx.reporter.info(f"check everything:   {install_command('doctor')}")
