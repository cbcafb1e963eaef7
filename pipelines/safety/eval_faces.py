"""Face detection measured on COCO photos against faces derived from person keypoints.

COCO has no face boxes, but its person keypoints mark the nose and eyes with a visibility flag
(2: labelled and visible). A person whose nose and both eyes are visible is a face to find; a
detection is correct when it holds the nose of any person whose nose is labelled (visible or
not: a half-hidden face that is found is not a false alarm). Recall: faces with a detection
on their nose / faces; precision: correct detections / detections.

    python -m pipelines.safety.eval_faces --data DIR [--size 384] [--json]

``DIR`` holds ``person_keypoints_val2017.json`` and ``images/``; ``--size`` resizes each photo's
long side first, as the fetch stage stores it (``--image-size``; 0 keeps the photo's size).
"""
from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import cv2

from quality_filters.faces import FaceConfig, detect_faces

NOSE, LEFT_EYE, RIGHT_EYE = 0, 1, 2  # COCO keypoint order; each is (x, y, visibility)
VISIBLE = 2


def _point(keypoints, i: int):
    return keypoints[3 * i], keypoints[3 * i + 1], keypoints[3 * i + 2]


def _inside(box, x: float, y: float) -> bool:
    bx, by, bw, bh = box
    return bx <= x <= bx + bw and by <= y <= by + bh


def score_image(boxes, people, scale: float = 1.0) -> dict[str, int]:
    """Counts for one image: ``people`` are COCO keypoint lists in the photo's pixels, ``boxes``
    detections (x, y, w, h) in the pixels of the photo scaled by ``scale``."""
    noses = [(x * scale, y * scale) for x, y, v in (_point(k, NOSE) for k in people) if v > 0]
    faces = [(x * scale, y * scale) for k in people
             for x, y, v in [_point(k, NOSE)]
             if v == VISIBLE and _point(k, LEFT_EYE)[2] == VISIBLE
             and _point(k, RIGHT_EYE)[2] == VISIBLE]
    return {"faces": len(faces), "found": sum(any(_inside(b, *f) for b in boxes) for f in faces),
            "detections": len(boxes),
            "correct": sum(any(_inside(b, *n) for n in noses) for b in boxes)}


def evaluate(data: Path, size: int = 384, config: FaceConfig = FaceConfig(),
             detector=None) -> dict:
    """Recall and precision of ``detector`` (default: ``detect_faces`` with ``config``)."""
    coco = json.loads((data / "person_keypoints_val2017.json").read_text())
    people = collections.defaultdict(list)
    for ann in coco["annotations"]:
        people[ann["image_id"]].append(ann["keypoints"])
    detector = detector or (lambda pixels: detect_faces(pixels, config))
    totals, images, seconds = collections.Counter(), 0, 0.0
    for image in coco["images"]:
        pixels = cv2.imread(str(data / "images" / image["file_name"]))
        if pixels is None:
            continue
        scale = min(1.0, size / max(pixels.shape[:2])) if size else 1.0
        if scale < 1.0:
            pixels = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        start = time.perf_counter()
        boxes = detector(pixels)
        seconds += time.perf_counter() - start
        totals.update(score_image(boxes, people[image["id"]], scale))
        images += 1
    return {"images": images, **totals,
            "recall": round(totals["found"] / max(1, totals["faces"]), 4),
            "precision": round(totals["correct"] / max(1, totals["detections"]), 4),
            "ms_per_image": round(1000 * seconds / max(1, images), 1), "size": size}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = evaluate(args.data, args.size)
    print(json.dumps(result) if args.json else
          f"faces {result['found']}/{result['faces']} found (recall {result['recall']:.2f}), "
          f"{result['correct']}/{result['detections']} detections right (precision "
          f"{result['precision']:.2f}), {result['ms_per_image']} ms an image")
    return result


if __name__ == "__main__":
    main()
