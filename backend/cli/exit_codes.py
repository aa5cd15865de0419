"""Exit codes of the `sam2matting` command line (documented in docs/CLI.md)."""

OK = 0
FAILURE = 1  # the work failed; the message says why
USAGE = 2  # bad command line (argparse uses 2 too)
SETUP = 3  # the installation is incomplete: missing model file, missing package; run doctor
PARTIAL = 4  # finished, but some frames or images could not be produced (listed on stderr)
BACKEND_UNREACHABLE = 5  # no backend answered at the connection file's endpoint
INTERRUPTED = 130  # Ctrl-C / SIGINT
