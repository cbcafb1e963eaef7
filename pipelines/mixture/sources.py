"""Mixture sources beside the corpus: existing datasets read into typed records. Pure: no Beam.

Each reader yields records (or a ``Rejection`` for an entry it cannot use: a missing image, an
unusable line) in a fixed order, so that a rerun gives the same mixture.

``coco``: COCO-format JSON files (captions and/or instances, joined by image id) and the folder
their ``file_name``s are in → ``LabelledImage`` records. Boxes are COCO's ``[x, y, w, h]`` in
pixels, stored as ``[ymin, xmin, ymax, xmax]`` fractions clipped to the image; crowd regions
(``iscrowd: 1``, one box around many objects) are left out, as COCO's own detection evaluation
leaves them out. An image whose file is missing or unreadable is a Rejection, not a crash.

``openimages``: Open Images box CSVs (``ImageID,LabelName,XMin,XMax,YMin,YMax``, normalised; the
other columns optional; ``IsGroupOf`` boxes left out, as crowd regions are), the label map
(``LabelName,DisplayName``, with or without a header) and the folder of ``<ImageID>.jpg``.

``vqa``: VQ²A-style jsonl, one ``{"image", "question", "answer", "lang"}`` a line (``image`` a
file name in the image folder) → ``VqaTriplet`` records.

``text``: plain-text files (one document per block of lines between blank lines) or jsonl files
(one ``{"text": …}`` a line, with an optional ``"id"``) → ``PageText`` records.
"""
from __future__ import annotations

import collections
import csv
import json
from pathlib import Path
from typing import Iterator

from PIL import Image

from schemas import BoxedObject, LabelledImage, PageText, Rejection, VqaTriplet

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


def coco_labels(annotation_files: list[str | Path]) -> tuple[str, ...]:
    """Every category name the files define (the "no" answers of object-aware VQA)."""
    names = set()
    for path in annotation_files:
        names.update(c["name"] for c in json.loads(Path(path).read_text("utf-8"))
                     .get("categories", []))
    return tuple(sorted(names))


def read_label_map(path: str | Path) -> dict[str, str]:
    """Open Images' ``LabelName,DisplayName`` CSV (MID → name), with or without a header."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if rows and rows[0][:2] == ["LabelName", "DisplayName"]:
        rows = rows[1:]
    return {row[0]: row[1] for row in rows}


OPENIMAGES_COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")


def _openimages_boxes(box_files, names: dict[str, str]) -> dict[str, list[BoxedObject]]:
    boxes = collections.defaultdict(list)
    for path in box_files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = set(OPENIMAGES_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: not an Open Images box CSV (no {sorted(missing)})")
            for row in reader:
                if row.get("IsGroupOf", "0") == "1":
                    continue
                if row["LabelName"] not in names:
                    raise ValueError(f"{path}: label {row['LabelName']!r} is not in the label map")
                box = [float(row[k]) for k in ("YMin", "XMin", "YMax", "XMax")]
                boxes[row["ImageID"]].append(BoxedObject(label=names[row["LabelName"]], box=box))
    return boxes


def read_openimages(box_files: list[str | Path], label_map: str | Path, image_dir: str | Path,
                    lang: str = "en") -> Iterator[LabelledImage | Rejection]:
    """Every image the box files name, in id order, as a LabelledImage (or a Rejection)."""
    boxes = _openimages_boxes(box_files, read_label_map(label_map))
    for image_id in sorted(boxes):
        path = Path(image_dir) / f"{image_id}.jpg"
        if not path.is_file():
            yield Rejection(stage=SOURCE_STAGE, reason="image_missing", record_id=image_id,
                            url=str(path))
            continue
        data = path.read_bytes()
        with Image.open(path) as im:
            width, height = im.size
        yield LabelledImage(image_id=image_id, image=data, width=width, height=height,
                            captions=[], objects=boxes[image_id], lang=lang)


def _jsonl(path: str | Path) -> Iterator[tuple[int, dict | None]]:
    """(line number, object) of each non-blank line; None where the line is not a JSON object."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = None
            yield number, obj if isinstance(obj, dict) else None


VQA_FIELDS = ("image", "question", "answer", "lang")


def read_vqa(files: list[str | Path], image_dir: str | Path) -> Iterator[VqaTriplet | Rejection]:
    """Every line of the jsonl files, in file and line order, as a VqaTriplet (or a Rejection)."""
    images: dict[str, bytes | None] = {}
    for path in files:
        for number, obj in _jsonl(path):
            where = f"{path}:{number}"
            if obj is None or any(not isinstance(obj.get(k), str) for k in VQA_FIELDS):
                yield Rejection(stage=SOURCE_STAGE, reason="bad_vqa_line", record_id=where,
                                url=str(path), detail=f"needs string fields {VQA_FIELDS}")
                continue
            name = obj["image"]
            if name not in images:
                file = Path(image_dir) / name
                images[name] = file.read_bytes() if file.is_file() else None
            if images[name] is None:
                yield Rejection(stage=SOURCE_STAGE, reason="image_missing", record_id=where,
                                url=str(Path(image_dir) / name))
                continue
            yield VqaTriplet(image_id=name, image=images[name], question=obj["question"].strip(),
                             answer=obj["answer"].strip(), lang=obj["lang"])


def read_texts(files: list[str | Path]) -> Iterator[PageText | Rejection]:
    """Documents of plain-text files (blocks between blank lines) and jsonl files (``text``)."""
    for path in files:
        if str(path).endswith(".jsonl"):
            for number, obj in _jsonl(path):
                if obj is None or not isinstance(obj.get("text"), str):
                    yield Rejection(stage=SOURCE_STAGE, reason="bad_text_line",
                                    record_id=f"{path}:{number}", url=str(path))
                    continue
                yield PageText(url=str(obj.get("id") or f"{path}#{number}"), text=obj["text"])
            continue
        blocks = Path(path).read_text("utf-8").split("\n\n")
        for number, block in enumerate(b for b in blocks if b.strip()):
            yield PageText(url=f"{path}#{number}", text=" ".join(block.split()))
