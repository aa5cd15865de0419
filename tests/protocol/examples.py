"""One small valid example of every message type (tiny buffers), for goldens and round trips."""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Tuple

# 2x3 float16 RGB pixels, deterministic
RAW_PIXELS = struct.pack("<18e", *[i / 17 for i in range(18)])
MASK_PIXELS = bytes([0, 255, 255, 0, 255, 0])
EXR_BYTES = b"v/1\x01" + bytes(60)  # opaque to the protocol: only the envelope is checked here

RAW_IMAGE = {
    "buffer": 0,
    "encoding": "raw",
    "dtype": "float16",
    "shape": [2, 3, 3],
    "channels": ["R", "G", "B"],
    "colourspace": "scene_linear",
    "origin": "top_left",
}
SHOT = {
    "shot_id": "sh010",
    "revision": 3,
    "objects": [{"id": 1, "name": "hero"}],
    "prompts": [
        {
            "seq": 0,
            "frame": 1001,
            "object_id": 1,
            "points": [[1.5, 2.0]],
            "labels": [1],
            "box": None,
            "has_mask": False,
        }
    ],
    "frames_stored": [[1001, 1003]],
    "frames_matted": [[1001, 1001]],
    "cache_dir": "/cache/sh010",
    "matte_pattern": "/cache/sh010/matte/matte.####.exr",
    "tracker": "flow",
    "engine": "closed_form",
}
CAP = {
    "name": "flow",
    "label": "Optical flow (fallback)",
    "available": True,
    "reason": None,
    "fallback": True,
    "params": [
        {
            "name": "working_size",
            "type": "int",
            "default": 960,
            "help": "long side",
            "choices": [],
            "min": 256,
            "max": 4096,
        }
    ],
}

# msg_type -> (content, buffers)
EXAMPLES: Dict[str, Tuple[Dict[str, Any], List[bytes]]] = {
    "describe_request": (
        {
            "fs_probe": {"path": "/tmp/p/probe.txt", "token": "0123456789abcdef"},
            "client_version": "0.1.0",
        },
        [],
    ),
    "describe_reply": (
        {
            "package_version": "0.1.0",
            "protocol_version": "1.0",
            "server_id": "server-1",
            "hostname": "ws1",
            "shares_filesystem": True,
            "device": {
                "type": "cpu",
                "name": "x86_64",
                "memory_total_bytes": None,
                "memory_free_bytes": None,
                "note": "no CUDA",
            },
            "trackers": [CAP],
            "engines": [dict(CAP, name="closed_form", params=[])],
            "limits": {"max_buffers": 64},
            "shots": ["sh010"],
        },
        [],
    ),
    "open_shot_request": (
        {
            "shot_id": "sh010",
            "width": 3,
            "height": 2,
            "pixel_aspect": 1.0,
            "first_frame": 1001,
            "last_frame": 1003,
            "colourspace": "scene_linear",
            "tracker": "flow",
            "engine": "closed_form",
            "tracker_params": {},
            "engine_params": {"band": 12},
            "cache_dir": "/cache/sh010",
        },
        [],
    ),
    "open_shot_reply": (
        dict(SHOT, restored=False, frames_stale=[{"object_id": 1, "ranges": [[1002, 1003]]}]),
        [],
    ),
    "put_frames_request": (
        {
            "shot_id": "sh010",
            "frames": [
                {"frame": 1001, "image": RAW_IMAGE, "path": None, "colourspace": None},
                {
                    "frame": 1002,
                    "image": None,
                    "path": "/plates/p.1002.exr",
                    "colourspace": "acescg",
                },
            ],
        },
        [RAW_PIXELS],
    ),
    "put_frames_reply": ({"shot_id": "sh010", "stored": [1001, 1002], "invalidated": []}, []),
    "add_prompt_request": (
        {
            "shot_id": "sh010",
            "frame": 1001,
            "object": {"id": 1, "name": "hero"},
            "points": [[1.5, 0.5]],
            "labels": [1],
            "box": [0.0, 0.0, 3.0, 2.0],
            "mask": {
                "buffer": 0,
                "encoding": "raw",
                "dtype": "uint8",
                "shape": [2, 3],
                "channels": ["A"],
                "colourspace": "raw",
                "origin": "bottom_left",
            },
            "clear_old": True,
            "matte": "exr",
        },
        [MASK_PIXELS],
    ),
    "add_prompt_reply": (
        {
            "shot_id": "sh010",
            "frame": 1001,
            "object_id": 1,
            "revision": 4,
            "invalidated": [[1002, 1003]],
            "matte_path": None,
            "matte": {
                "buffer": 0,
                "encoding": "exr",
                "dtype": None,
                "shape": None,
                "channels": ["A", "obj1.A"],
                "colourspace": "raw",
                "origin": "top_left",
            },
        },
        [EXR_BYTES],
    ),
    "remove_object_request": ({"shot_id": "sh010", "object_id": 1}, []),
    "remove_object_reply": ({"shot_id": "sh010", "object_id": 1, "revision": 5}, []),
    "remove_prompt_request": ({"shot_id": "sh010", "object_id": 1, "frame": 1002}, []),
    "remove_prompt_reply": (
        {
            "shot_id": "sh010",
            "object_id": 1,
            "frame": 1002,
            "revision": 6,
            "invalidated": [[1002, 1003]],
        },
        [],
    ),
    "propagate_request": (
        {
            "shot_id": "sh010",
            "start_frame": 1001,
            "direction": "both",
            "first_frame": 1001,
            "last_frame": 1003,
            "objects": [1],
            "matte": "path",
        },
        [],
    ),
    "propagate_reply": (
        {"job_id": "job-1", "shot_id": "sh010", "frames_planned": 3, "unchanged": []},
        [],
    ),
    "progress": (
        {
            "job_id": "job-1",
            "shot_id": "sh010",
            "frame": 1002,
            "done": 1,
            "total": 3,
            "objects": [1],
            "matte_path": "/cache/sh010/matte/matte.1002.exr",
            "matte": None,
            "frames_per_second": 12.5,
        },
        [],
    ),
    "done": ({"job_id": "job-1", "shot_id": "sh010", "frames_done": 3, "elapsed_s": 0.25}, []),
    "cancelled": ({"job_id": "job-1", "shot_id": "sh010", "frames_done": 1, "elapsed_s": 0.1}, []),
    "error": (
        {
            "code": "unknown_shot",
            "message": "no shot sh011",
            "hint": "open it",
            "details": {"shot_id": "sh011"},
        },
        [],
    ),
    "cancel_request": ({"job_id": "job-1", "shot_id": None}, []),
    "cancel_reply": ({"cancelled": ["job-1"]}, []),
    "get_matte_request": ({"shot_id": "sh010", "frame": 1002, "matte": "path"}, []),
    "get_matte_reply": (
        {
            "shot_id": "sh010",
            "frame": 1002,
            "objects": [1],
            "matte_path": "/cache/sh010/matte/matte.1002.exr",
            "matte": None,
        },
        [],
    ),
    "close_shot_request": ({"shot_id": "sh010", "delete_cache": False}, []),
    "close_shot_reply": ({"shot_id": "sh010"}, []),
    "ping_request": ({}, []),
    "ping_reply": ({"server_time": 1795600000.0, "uptime_s": 12.0, "jobs_running": 0}, []),
    "shutdown_request": ({}, []),
    "shutdown_reply": ({}, []),
}
