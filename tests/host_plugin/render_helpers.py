"""Render scenes for the render-check tests: a SAM2Matte whose cache holds known mattes, Writes
in every place a studio puts them, and one oracle for all of them: every frame either renders
the true matte or fails with the missing-frame list. Never black without an error."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

import nuke
from nuke import _exr
from sam2matting_nuke import render_check

from . import plates
from .helpers import controller, read_image

FIRST, LAST = 1001, 1008


def matte_value(frame: int) -> float:
    """The alpha the cache holds on `frame`: different every frame, never 0."""
    return round(0.1 + 0.05 * (frame - FIRST), 4)


def fill_cache(node, frames: Iterable[int], folder: Optional[Path] = None) -> Path:
    """Mattes as the backend leaves them (A and obj1.A, constant per frame); returns the folder."""
    folder = folder or Path(controller(node).state().cache_dir)
    (folder / "matte").mkdir(parents=True, exist_ok=True)
    for frame in frames:
        alpha = [matte_value(frame)] * (plates.WIDTH * plates.HEIGHT)
        blob = _exr.encode(
            plates.WIDTH, plates.HEIGHT, {"A": alpha, "obj1.A": alpha}, _exr.FLOAT, _exr.ZIP
        )
        (folder / "matte" / f"matte.{frame}.exr").write_bytes(blob)
    return folder


def make_write(source, folder: Path, name: str = "WriteMatte", parent=None):
    """A Write of all channels as 32-bit float EXR (inside `parent` when given)."""
    if parent is not None:
        with parent:
            write = nuke.nodes.Write(name=name)
    else:
        write = nuke.nodes.Write(name=name)
    write.setInput(0, source)
    write["file"].setValue(str(folder / "out.####.exr"))
    write["file_type"].setValue("exr")
    write["datatype"].setValue("32 bit float")
    write["channels"].setValue("all")
    write["create_directories"].setValue(True)
    return write


Outcome = Union[float, render_check.RenderCheckError]


def outcomes(write, frames: Iterable[int], folder: Path, **kw) -> Dict[int, Outcome]:
    """Render frame by frame: the alpha written (one value, checked constant) or the error."""
    out: Dict[int, Outcome] = {}
    render_check.before_render()
    for frame in frames:
        try:
            nuke.execute(write, frame, frame, **kw)
        except render_check.RenderCheckError as exc:
            out[frame] = exc
            continue
        alpha = set(read_image(folder / f"out.{frame:04d}.exr").plane("rgba.alpha"))
        assert len(alpha) == 1, f"frame {frame}: the alpha is not the cached constant: {alpha}"
        out[frame] = round(alpha.pop(), 4)
    return out


def assert_never_silently_black(
    got: Dict[int, Outcome], cached: Iterable[int], shift: int = 0
) -> List[int]:
    """Frames whose source matte (frame - shift) is cached render exactly it; the others fail
    with a message naming them. Returns the frames that failed."""
    have = set(cached)
    failed = []
    for frame, result in sorted(got.items()):
        source = frame - shift
        if source in have:
            assert result == matte_value(source), f"frame {frame}: {result}"
        else:
            assert isinstance(result, render_check.MissingMatteError), f"frame {frame}: {result}"
            assert "Missing in its range" in str(result)
            failed.append(frame)
    return failed
