#!/usr/bin/env bash
# Runs the Nuke-side tests (protocol + host plugin) on every Python that Nuke ships
# (13: 3.7, 14: 3.9, 15: 3.10, 16: 3.11), each in a venv holding only pyzmq (the version the
# installer vendors for that Python), the test tools, and this package without dependencies:
# no numpy, no torch, as inside Nuke.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHONS=${SAM2MATTING_NUKE_PYTHONS:-"3.7 3.9 3.10 3.11"}
VENVS=.venv-nuke
status=0

find_python() {  # newest installed patch release of a minor version, via pyenv or PATH
    local minor=$1 root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for candidate in $(ls -d "$root"/versions/"$minor".* 2>/dev/null | sort -V -r) ; do
        [ -x "$candidate/bin/python" ] && { echo "$candidate/bin/python"; return; }
    done
    command -v "python$minor" || true
}

for minor in $PYTHONS; do
    python=$(find_python "$minor")
    if [ -z "$python" ]; then
        echo "nuke-side: Python $minor not found (install it with: pyenv install $minor)" >&2
        status=1
        continue
    fi
    zmq_pin="pyzmq==27.3.0"
    [ "$minor" = "3.7" ] && zmq_pin="pyzmq==26.2.1"  # last release with cp37 wheels
    venv="$VENVS/py${minor/./}"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
    fi
    "$venv/bin/python" -m pip install -q "$zmq_pin" pytest pytest-timeout hypothesis
    # setuptools' deprecation chatter is noise here; show the log only when the install fails
    if ! "$venv/bin/python" -m pip install -q --no-deps --force-reinstall . >"$venv/install.log" 2>&1; then
        cat "$venv/install.log" >&2
        status=1
        continue
    fi
    # Prove the Nuke-side environment is as lean as Nuke's: no numpy, no torch.
    if "$venv/bin/python" -c "import numpy" 2>/dev/null || "$venv/bin/python" -c "import torch" 2>/dev/null; then
        echo "nuke-side $minor: numpy or torch leaked into the Nuke-side environment" >&2
        status=1
    fi
    echo "== Nuke-side tests on Python $minor ($("$venv/bin/python" --version 2>&1))"
    targets=(tests/protocol)
    [ -d tests/host_plugin ] && targets+=(tests/host_plugin)
    # The main suite fuzzes with thousands of messages; a few hundred per extra interpreter
    # suffice to catch version-specific breakage.
    SAM2MATTING_FUZZ_EXAMPLES=${SAM2MATTING_FUZZ_EXAMPLES:-300} \
        "$venv/bin/python" -m pytest -q -p no:cacheprovider "${targets[@]}" || status=1
done
exit $status
