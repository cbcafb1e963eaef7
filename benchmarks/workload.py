"""The fetch benchmark's workload: a folder of web-like images and the URL list that names them.

Real photos (the COCO photos of the test data when present, else the project's synthetic scenes)
cropped and rescaled to 200–2000 px on the long side: baseline JPEG at quality 85, a share of
them progressive, ~5% PNG (some with transparency) and ~2% corrupt files under image names
(truncated JPEG, random bytes, an HTML page, an empty file). The folder is cached by its
parameters, so runs of the benchmark compare the same bytes.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from pipelines.synthetic import random_scene, render_scene

CORRUPT_KINDS = ("truncated", "garbage", "html", "empty")
HTML = b"<!doctype html><html><head><title>Not found</title></head><body>404</body></html>\n"


@dataclasses.dataclass(frozen=True)
class WorkloadSpec:
    images: int = 3000
    seed: int = 0
    min_long_side: int = 200
    max_long_side: int = 2000
    progressive: float = 0.15  # share of the JPEGs
    png: float = 0.05
    corrupt: float = 0.02
    jpeg_quality: int = 85

    def key(self) -> str:
        return "-".join(f"{v}" for v in dataclasses.astuple(self))


def _sources(data_dir: Path | None) -> list[Path]:
    folder = data_dir / "captions" / "coco-mini-val2017" / "images" if data_dir else None
    return sorted(folder.glob("*.jpg")) if folder and folder.is_dir() else []


def _photo(rng: random.Random, sources: list[Path]) -> Image.Image:
    if not sources:
        return render_scene(random_scene(rng), (640, 480), rng)
    img = Image.open(rng.choice(sources)).convert("RGB")
    w, h = img.size  # a random crop of 60–100% of each side, so aspect ratios vary
    cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return img.crop((x, y, x + cw, y + ch))


def _scaled(img: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(img.size)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                      Image.Resampling.BILINEAR)


def _jpeg(img: Image.Image, spec: WorkloadSpec, progressive: bool) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=spec.jpeg_quality, progressive=progressive)
    return out.getvalue()


def _png(img: Image.Image, transparent: bool) -> bytes:
    if transparent:  # an alpha channel with a fully transparent band
        img = img.convert("RGBA")
        alpha = Image.new("L", img.size, 255)
        alpha.paste(0, (0, 0, img.width, img.height // 4))
        img.putalpha(alpha)
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _corrupt(kind: str, img: Image.Image, spec: WorkloadSpec, rng: random.Random) -> bytes:
    if kind == "truncated":
        data = _jpeg(img, spec, progressive=False)
        return data[: len(data) // 2]
    if kind == "garbage":
        return rng.randbytes(rng.randint(1_000, 50_000))
    return HTML if kind == "html" else b""


def make_one(args) -> dict:
    """Write image ``i`` of the workload; return its manifest row."""
    i, spec, folder, sources = args
    rng = random.Random(f"{spec.seed}-{i}")
    img = _scaled(_photo(rng, sources), rng.randint(spec.min_long_side, spec.max_long_side))
    roll = rng.random()
    if roll < spec.corrupt:
        kind = CORRUPT_KINDS[i % len(CORRUPT_KINDS)]
        data, name = _corrupt(kind, img, spec, rng), f"{i:06d}.jpg"
    elif roll < spec.corrupt + spec.png:
        kind = "png_alpha" if rng.random() < 0.5 else "png"
        data, name = _png(img, kind == "png_alpha"), f"{i:06d}.png"
    else:
        kind = "progressive" if rng.random() < spec.progressive else "jpeg"
        data, name = _jpeg(img, spec, kind == "progressive"), f"{i:06d}.jpg"
    (Path(folder) / name).write_bytes(data)
    return {"name": name, "kind": kind, "bytes": len(data), "width": img.width,
            "height": img.height, "caption": f"benchmark image {i} ({kind})"}


def build_workload(root: str | Path, spec: WorkloadSpec = WorkloadSpec(),
                   data_dir: Path | None = None, processes: int = 2) -> tuple[Path, list[dict]]:
    """→ (folder of images, manifest); reuses a finished folder with the same spec."""
    folder = Path(root) / spec.key()
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        return folder, json.loads(manifest_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    sources = _sources(data_dir)
    jobs = [(i, spec, str(folder), sources) for i in range(spec.images)]
    with ProcessPoolExecutor(processes) as pool:
        manifest = list(pool.map(make_one, jobs, chunksize=32))
    manifest_path.write_text(json.dumps(manifest))
    return folder, manifest


def default_data_dir() -> Path | None:
    path = Path(os.environ.get("OPENWEBLI_TEST_DATA",
                               Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    return path if path.is_dir() else None
