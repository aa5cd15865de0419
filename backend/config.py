"""Backend settings: one dataclass, filled from defaults, the config file and environment variables.

Every setting and environment variable is documented in docs/CONFIGURATION.md.
Precedence, lowest to highest: built-in default < config file < environment < command line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sam2matting.protocol import paths

# Environment variable -> setting name. Values are parsed by the setting's type.
ENV_VARS: Dict[str, str] = {
    "SAM2MATTING_MODELS": "models_dir",
    "SAM2MATTING_CACHE": "cache_root",
    "SAM2MATTING_ALLOWED_ROOTS": "allowed_roots",  # os.pathsep-separated
    "SAM2MATTING_DEVICE": "device",
    "SAM2MATTING_OFFLOAD_TO_CPU": "offload_state_to_cpu",
    "SAM2MATTING_MEMORY_WINDOW": "memory_window",
    "SAM2MATTING_EXR_COMPRESSION": "exr_compression",
    "SAM2MATTING_LOG_DIR": "log_dir",
    "SAM2MATTING_TRACKER": "default_tracker",
    "SAM2MATTING_ENGINE": "default_engine",
    "SAM2MATTING_OCIO": "ocio_config",
}


@dataclass(frozen=True)
class BackendConfig:
    models_dir: Path = field(default_factory=lambda: paths.home_dir() / "models")
    cache_root: Path = field(default_factory=lambda: paths.home_dir() / "cache")
    # Folders the backend may read plates from when the host sends paths instead of pixels.
    allowed_roots: Tuple[Path, ...] = ()
    device: str = "auto"  # "auto" | "cuda" | "cuda:N" | "cpu"
    # Keep tracker memory (mask memories, object pointers) in host RAM instead of GPU memory.
    offload_state_to_cpu: bool = False
    # Non-conditioning frames of tracker memory kept around the current frame (SAM2 attends to 7).
    memory_window: int = 16
    exr_compression: str = "zip"  # "none" | "zip" | "zips" | "piz" | "dwaa" (lossy) ...
    log_dir: Path = field(default_factory=lambda: paths.home_dir() / "logs")
    default_tracker: str = "auto"  # "auto" picks the best available: a SAM2.1 model, else "flow"
    default_engine: str = "auto"  # "auto" picks the best available engine
    # OCIO config for plate colourspaces beyond the built-in ones ("" = use $OCIO if set).
    ocio_config: str = ""

    @classmethod
    def load(
        cls,
        config_file: Optional[Path] = None,
        environ: Optional[Mapping[str, str]] = None,
        overrides: Optional[Mapping[str, Any]] = None,
    ) -> BackendConfig:
        """Defaults, then the JSON config file (if it exists), then environment, then overrides."""
        environ = os.environ if environ is None else environ
        values: Dict[str, Any] = {}
        path = config_file or paths.default_config_file(environ)
        if path.is_file():
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a JSON object of settings")
            values.update(data.get("backend", {}))
        for var, name in ENV_VARS.items():
            if var in environ:
                values[name] = environ[var]
        values.update(overrides or {})
        return replace(cls(), **_coerce(values))


def _coerce(values: Mapping[str, Any]) -> Dict[str, Any]:
    """Parse strings from files and the environment into each setting's type."""
    known = {f.name: f for f in fields(BackendConfig)}
    out: Dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            raise ValueError(f"unknown backend setting {name!r}; known: {', '.join(sorted(known))}")
        default = getattr(BackendConfig(), name)
        out[name] = _parse(name, raw, default)
    return out


def _parse(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
            raise ValueError(f"setting {name}: {raw!r} is not a yes/no value")
        return text in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, Path):
        return Path(str(raw)).expanduser()
    if isinstance(default, tuple):
        items: List[str] = raw.split(os.pathsep) if isinstance(raw, str) else list(raw)
        return tuple(Path(p).expanduser() for p in items if p)
    return str(raw)
