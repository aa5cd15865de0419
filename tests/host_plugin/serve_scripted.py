"""`python serve_scripted.py --connection-file PATH`: the scripted backend as a process, standing
in for `sam2matting serve` when a test lets the plugin start its backend. Stops on
shutdown_request, or after 60 s in any case (a test never leaves it running)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "fake_nuke"), str(HERE.parent.parent)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connection-file", required=True)
    args = parser.parse_args()
    os.environ["SAM2MATTING_CONNECTION_FILE"] = args.connection_file
    from tests.host_plugin.scripted_backend import ScriptedBackend

    with ScriptedBackend(Path(args.connection_file).parent / "cache") as backend:
        backend.wait_stopped(60.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
