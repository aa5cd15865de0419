"""Write the texture pack the GPU machine trains from (it cannot see /work/shared/data).

    .venv/bin/python benchmarks/refiner_pack_textures.py --out .carry/refiner_textures.npz

Photos come from the shared plates and DAVIS frames (never alphamatting_dev, which is refused).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from sam2matting.backend.matting.synthetic.textures import TexturePool, pack_textures

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(".carry/refiner_textures.npz"))
    # 24 MB leaves room to carry a 32 MB checkpoint beside it (a device call carries 64 MiB).
    p.add_argument("--max-mb", type=float, default=24.0)
    p.add_argument("--crop", type=int, default=384)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "folders", nargs="*", type=Path, default=[DATA / "plates", DATA / "davis" / "JPEGImages"]
    )
    args = p.parse_args()
    start = time.monotonic()
    count = pack_textures(args.out, args.max_mb, args.folders, crop=args.crop, seed=args.seed)
    pool = TexturePool.from_pack(args.out)
    sources = sorted({Path(s).parent.name for s in pool.sources})
    print(
        f"{count} crops, {args.out.stat().st_size / 2**20:.1f} MB in "
        f"{time.monotonic() - start:.0f}s from {len(set(pool.sources))} photos "
        f"({', '.join(sources)})"
    )


if __name__ == "__main__":
    main()
