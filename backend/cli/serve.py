"""`sam2matting serve`: run the backend until a shutdown request, Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from sam2matting.backend.cli import exit_codes
from sam2matting.protocol import paths
from sam2matting.protocol.connection import (
    DEFAULT_IP,
    ConnectionInfo,
    is_loopback,
    new_key,
    normalise_bind_ip,
    read_connection_file,
    write_connection_file,
)
from sam2matting.protocol.errors import ProtocolError

log = logging.getLogger("sam2matting.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connection-file",
        type=Path,
        default=None,
        help="where to write the endpoint and key (default: $SAM2MATTING_CONNECTION_FILE or "
        "~/.sam2matting/connection.json); an existing file's key is reused",
    )
    parser.add_argument(
        "--ip",
        default=None,
        help="interface to bind (default: 127.0.0.1; ::1 for IPv6 loopback). Anything beyond "
        "loopback (an interface address, 0.0.0.0, '*', '::') lets other machines connect: "
        "see docs/SECURITY.md",
    )
    parser.add_argument(
        "--legacy-transport",
        choices=("auto", "on", "off"),
        default="auto",
        help="also accept protocol 1.0 clients on the unauthenticated endpoint (auto: only "
        "when bound to loopback)",
    )
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: any free one)")
    parser.add_argument("--cache-root", type=Path, help="folder for shot caches")
    parser.add_argument("--models-dir", type=Path, help="folder holding model files")
    parser.add_argument("--tracker", help="default tracker (e.g. sam2.1-tiny, flow; auto)")
    parser.add_argument("--engine", help="default matting engine (auto picks the best)")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--allowed-root",
        type=Path,
        action="append",
        default=None,
        help="folder the backend may read plates from by path (repeatable)",
    )
    parser.add_argument("--log-file", type=Path, help="log file (default: <log dir>/backend.log)")
    parser.add_argument(
        "--config", type=Path, help="config file (default: ~/.sam2matting/config.json)"
    )


def _overrides(args: argparse.Namespace) -> Dict[str, Any]:
    pairs = {
        "cache_root": args.cache_root,
        "models_dir": args.models_dir,
        "default_tracker": args.tracker,
        "default_engine": args.engine,
        "device": args.device,
        "allowed_roots": args.allowed_root,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _connection(path: Path, ip: Optional[str], port: Optional[int]) -> ConnectionInfo:
    """Reuse the key of a valid existing file (hosts keep working); fresh key otherwise.

    A key is reused only from a file this user owns, that is no symlink and that nobody else
    can read: otherwise it may be known to someone else. Then a new key is written and the
    replacement is said loudly (hosts holding the old key must reconnect).
    """
    key = new_key()
    if os.path.lexists(path):
        try:
            key = read_connection_file(path).key
        except ProtocolError as exc:
            _say(
                f"not reusing the key in {path}: {exc.message}. A NEW key is written; "
                "running Nuke sessions must reconnect (Reconnect on the node)."
            )
    bind = normalise_bind_ip(ip or DEFAULT_IP)
    if not is_loopback(bind):
        _say(
            f"binding {bind}: other machines can connect to this backend. Only holders of the "
            "key can use it, and plates travel encrypted (CURVE) on the authenticated endpoint; "
            "see docs/SECURITY.md."
        )
    return ConnectionInfo(key, ip=bind, port=port or 0)


def _say(text: str) -> None:
    """A warning the person starting the backend must see, and the log keeps."""
    log.warning(text)
    print(f"sam2matting serve: warning: {text}", file=sys.stderr)


def _setup_logging(log_file: Path) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def run(args: argparse.Namespace) -> int:
    import zmq

    from sam2matting.backend.config import BackendConfig
    from sam2matting.backend.server.app import BackendServer
    from sam2matting.backend.threads import apply_cpu_threads

    try:
        config = BackendConfig.load(args.config, overrides=_overrides(args))
        _setup_logging(args.log_file or config.log_dir / "backend.log")
        apply_cpu_threads()
    except ValueError as exc:
        print(f"sam2matting serve: bad configuration: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    conn_path = args.connection_file or paths.default_connection_file()
    try:
        info = _connection(conn_path, args.ip, args.port)
        server = BackendServer(config, info, legacy=args.legacy_transport)
    except (ValueError, zmq.ZMQError) as exc:  # --device cuda without a GPU, a bad --ip
        print(f"sam2matting serve: {exc}", file=sys.stderr)
        return exit_codes.SETUP
    write_connection_file(conn_path, server.info)
    log.info("connection file %s", conn_path)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop())
    server.serve_forever()
    log.info("stopped")
    return exit_codes.OK
