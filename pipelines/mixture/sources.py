"""Mixture sources beside the corpus: existing datasets read into typed records. Pure: no Beam.

``coco``: COCO-format JSON files (captions and/or instances, joined by image id) and the folder
their ``file_name``s are in → ``LabelledImage`` records. Boxes are COCO's ``[x, y, w, h]`` in
pixels, stored as ``[ymin, xmin, ymax, xmax]`` fractions clipped to the image; crowd regions
(``iscrowd: 1``, one box around many objects) are left out, as COCO's own detection evaluation
leaves them out. An image whose file is missing or unreadable is a Rejection, not a crash.
"""
from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Iterator

from schemas import BoxedObject, LabelledImage, Rejection

SOURCE_STAGE = "source"


def coco_box(bbox: list[float], width: int, height: int) -> list[float]:
    """COCO ``[x, y, w, h]`` pixels → ``[ymin, xmin, ymax, xmax]`` fractions in [0, 1]."""
    x, y, w, h = bbox
    clip = lambda v: min(max(v, 0.0), 1.0)
    return [clip(y / height), clip(x / width), clip((y + h) / height), clip((x + w) / width)]


def _load(paths: list[str | Path]) -> tuple[dict, dict, dict]:
    """(images by id, captions by image id, objects by image id) from every file."""
    images, captions, objects = {}, collections.defaultdict(list), collections.defaultdict(list)
    for path in paths:
        data = json.loads(Path(path).read_text("utf-8"))
        if "images" not in data:
            raise ValueError(f"{path}: not a COCO annotation file (no \"images\" list)")
        images.update({im["id"]: im for im in data["images"]})
        names = {c["id"]: c["name"] for c in data.get("categories", [])}
        for ann in data.get("annotations", []):
            if "caption" in ann:
                captions[ann["image_id"]].append(" ".join(ann["caption"].split()))
            elif "bbox" in ann and not ann.get("iscrowd", 0):
                objects[ann["image_id"]].append((names[ann["category_id"]], ann["bbox"]))
    return images, captions, objects


def read_coco(annotation_files: list[str | Path], image_dir: str | Path,
              lang: str = "en") -> Iterator[LabelledImage | Rejection]:
    """Every image the files list, in id order, as a LabelledImage (or a Rejection)."""
    images, captions, objects = _load(annotation_files)
    for image_id in sorted(images):
        info = images[image_id]
        path = Path(image_dir) / info["file_name"]
        if not path.is_file():
            yield Rejection(stage=SOURCE_STAGE, reason="image_missing", record_id=str(image_id),
                            url=str(path))
            continue
        w, h = info["width"], info["height"]
        boxed = [BoxedObject(label=label, box=coco_box(bbox, w, h))
                 for label, bbox in objects[image_id]]
        yield LabelledImage(image_id=str(image_id), image=path.read_bytes(), width=w, height=h,
                            captions=captions[image_id], objects=boxed, lang=lang)
