"""A real backend server on loopback for tests, and a small synthetic shot with known truth."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np

from sam2matting.backend.config import BackendConfig
from sam2matting.backend.server.app import BackendServer
from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key

W, H = 128, 96
FIRST = 1001


@dataclass
class Running:
    server: BackendServer
    thread: threading.Thread

    def client(self, **kwargs: Any) -> Client:
        return Client(self.server.info, timeout_s=60, **kwargs)

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "server did not stop"


def start_server(cache_root: Path, **settings: Any) -> Running:
    config = BackendConfig(
        cache_root=cache_root,
        models_dir=cache_root.parent / "models",
        log_dir=cache_root.parent / "logs",
        device=settings.pop("device", "cpu"),
        default_tracker=settings.pop("tracker", "flow"),
        default_engine=settings.pop("engine", "auto"),
        **settings,
    )
    server = BackendServer(config, ConnectionInfo(new_key()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Running(server, thread)


def disc_center(i: int) -> Tuple[float, float]:
    return 34.0 + 4.0 * i, 40.0 + 1.5 * i


def texture(seed: int = 7, lo: float = 0.05, hi: float = 0.35, cell: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(lo, hi, size=(H // cell + 1, W // cell + 1, 3)).astype(np.float32)
    return np.kron(base, np.ones((cell, cell, 1), np.float32))[:H, :W]


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return np.roll(np.roll(image, dy, axis=0), dx, axis=1)


def frame_truth(i: int, radius: float = 18.0) -> Tuple[np.ndarray, np.ndarray]:
    """Frame i of a bright textured disc moving over a blocky background: (rgb linear, alpha).

    Both layers carry texture (the disc's moves with it) so optical flow has something to follow.
    """
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) + 0.5
    cx, cy = disc_center(i)
    dist = np.hypot(xx - cx, yy - cy)
    alpha = np.clip(radius + 0.5 - dist, 0.0, 1.0)  # anti-aliased edge
    fg = _shift(texture(seed=11, lo=0.55, hi=0.95, cell=6), round(cx), round(cy))
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * texture()
    return rgb.astype(np.float32), alpha.astype(np.float32)


def raw_frame(frame: int, i: int) -> Tuple[Dict[str, Any], bytes]:
    rgb, _ = frame_truth(i)
    image = {
        "buffer": 0,
        "encoding": "raw",
        "dtype": "float16",
        "shape": [H, W, 3],
        "channels": ["R", "G", "B"],
        "colourspace": "scene_linear",
        "origin": "top_left",
    }
    return {"frame": frame, "image": image}, rgb.astype("<f2").tobytes()


def put_all(client: Client, shot_id: str, n: int) -> None:
    for i in range(n):
        entry, pixels = raw_frame(FIRST + i, i)
        client.request("put_frames_request", {"shot_id": shot_id, "frames": [entry]}, [pixels])


def open_shot(client: Client, shot_id: str, n: int, **extra: Any) -> Dict[str, Any]:
    content = {
        "shot_id": shot_id,
        "width": W,
        "height": H,
        "first_frame": FIRST,
        "last_frame": FIRST + n - 1,
        **extra,
    }
    return client.request("open_shot_request", content).content


def box_prompt(shot_id: str, frame: int, obj: int = 1, name: str = "disc") -> Dict[str, Any]:
    cx, cy = disc_center(frame - FIRST)
    return {
        "shot_id": shot_id,
        "frame": frame,
        "object": {"id": obj, "name": name},
        "box": [cx - 20, cy - 20, cx + 20, cy + 20],
    }


def iou(alpha: np.ndarray, truth: np.ndarray) -> float:
    a, b = alpha > 0.5, truth > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def events(job: Any) -> Iterator[Any]:
    yield from job.events(idle_timeout_s=120)


def frames_of(progress: List[Any]) -> List[int]:
    return [p.content["frame"] for p in progress]
