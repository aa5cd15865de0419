"""Protocol throughput on loopback: small request/reply messages per second, and the time to
send a 4096x2160 half-float RGB plate frame (put_frames) and to echo it back, on each endpoint
(the 1.0 one, and the 1.1 authenticated one with PLAIN and with CURVE).

    python benchmarks/protocol_bench.py [--seconds 3] [--frames 10] [--mechanism plain ...]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any, Dict, List

import zmq

from sam2matting.protocol.client import Client
from sam2matting.protocol.connection import ConnectionInfo, new_key
from sam2matting.protocol.envelope import Message
from sam2matting.protocol.server import ServerEndpoint

try:
    from benchmarks.common import print_table, write_result
except ImportError:  # run as a script: benchmarks/ is on sys.path
    from common import print_table, write_result  # type: ignore[no-redef]

W, H = 4096, 2160


def serve(endpoint: ServerEndpoint, stop: threading.Event) -> None:
    """A bare endpoint that acknowledges frames and echoes get_matte: transport cost only."""
    while not stop.is_set():
        msg = endpoint.poll(0.05)
        if msg is None:
            continue
        if msg.msg_type == "ping_request":
            endpoint.send(
                msg, "ping_reply", {"server_time": time.time(), "uptime_s": 0.0, "jobs_running": 0}
            )
        elif msg.msg_type == "put_frames_request":
            stored = [f["frame"] for f in msg.content["frames"]]
            endpoint.send(
                msg, "put_frames_reply", {"shot_id": msg.content["shot_id"], "stored": stored}
            )
            endpoint.last_frames = msg.buffers  # type: ignore[attr-defined]
        elif msg.msg_type == "get_matte_request":
            buffers = getattr(endpoint, "last_frames", [])
            endpoint.send(
                msg,
                "get_matte_reply",
                {
                    "shot_id": msg.content["shot_id"],
                    "frame": msg.content["frame"],
                    "objects": [],
                    "matte_path": None,
                    "matte": {"buffer": 0, "encoding": "exr", "colourspace": "raw"},
                },
                buffers,
            )


def frame_request(frame: int) -> Dict[str, Any]:
    image = {
        "buffer": 0,
        "encoding": "raw",
        "dtype": "float16",
        "shape": [H, W, 3],
        "channels": ["R", "G", "B"],
        "colourspace": "scene_linear",
        "origin": "top_left",
    }
    return {"shot_id": "bench", "frames": [{"frame": frame, "image": image}]}


def bench_small(client: Client, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        client.ping()
        count += 1
    return count / (time.perf_counter() - start)


def bench_frames(client: Client, n: int, pixels: bytes) -> Dict[str, List[float]]:
    send_ms, echo_ms = [], []
    for i in range(n):
        t0 = time.perf_counter()
        client.request("put_frames_request", frame_request(1001 + i), [pixels], timeout_s=60)
        t1 = time.perf_counter()
        reply: Message = client.request(
            "get_matte_request", {"shot_id": "bench", "frame": 1001 + i}, timeout_s=60
        )
        t2 = time.perf_counter()
        assert memoryview(reply.buffers[0]).nbytes == len(pixels)
        send_ms.append((t1 - t0) * 1e3)
        echo_ms.append((t2 - t1) * 1e3)
    return {"send_ms": send_ms, "echo_ms": echo_ms}


def run(mechanism: str, seconds: float, n: int, pixels: bytes) -> Dict[str, Any]:
    """One endpoint: `legacy` (the 1.0 endpoint, no transport authentication), `plain` (the
    1.1 default on loopback) or `curve` (1.1 beyond loopback: encrypted)."""
    endpoint = ServerEndpoint(
        ConnectionInfo(new_key()), auth_mechanism="" if mechanism == "legacy" else mechanism
    )
    info = endpoint.bind()
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(endpoint, stop), daemon=True)
    thread.start()
    client = Client(info, timeout_s=60)
    try:
        rate = bench_small(client, seconds)
        frames = bench_frames(client, n, pixels)
    finally:
        client.close()
        stop.set()
        thread.join()
        endpoint.close()
    return {
        "small_request_reply_per_s": rate,
        "frame_send_ms_median": statistics.median(frames["send_ms"]),
        "frame_echo_ms_median": statistics.median(frames["echo_ms"]),
        "frame_send_ms": frames["send_ms"],
        "frame_echo_ms": frames["echo_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument(
        "--mechanism",
        action="append",
        choices=("legacy", "plain", "curve"),
        help="endpoint(s) to measure (default: all three)",
    )
    args = parser.parse_args()
    pixels = bytes(bytearray(range(256)) * (W * H * 3 * 2 // 256))
    mb = len(pixels) / 1e6
    results: Dict[str, Any] = {"frame_bytes": len(pixels)}
    rows = []
    for mechanism in args.mechanism or ["legacy", "plain", "curve"]:
        got = run(mechanism, args.seconds, args.frames, pixels)
        results[mechanism] = got
        rows.append(
            [
                mechanism,
                got["small_request_reply_per_s"],
                got["frame_send_ms_median"],
                got["frame_echo_ms_median"],
            ]
        )
    zmq.Context.instance().term()
    print_table(
        ["endpoint", "ping req/reply per s", f"put_frames {mb:.0f} MB, ms", "echo back, ms"],
        rows,
    )
    print("wrote", write_result("protocol", results))


if __name__ == "__main__":
    main()
