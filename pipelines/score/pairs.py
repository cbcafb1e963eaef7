"""Image–caption pairs for training and evaluating the contrastive scorer.

- ``make_pairs``: generated pairs (``pipelines.synthetic``), the default.
- ``load_pairs(SRC)``: real pairs from a corpus folder (``openwebli build``: image bytes + alt
  text), an image–caption folder (each image with a same-named ``.txt`` beside it, as
  img2dataset's ``files`` output writes them), or a COCO captions JSON (its images in an
  ``images/`` folder beside it, or beside the JSON).

Two examples with the same ``content`` (scene, sign word, image) match: batches hold one of
each, retrieval counts any of them as a hit, and held-out splits never share one with training.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
from pathlib import Path

from PIL import Image

from pipelines import synthetic

RENDER_HEIGHT = 72  # rendered small; the model's own preprocess resizes to 64 and crops
RENDER_ASPECTS = (1.0, 1.6)  # width / height; training on 0.6–3 did no better on site images
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclasses.dataclass(frozen=True)
class Example:
    """A pair. Two examples with the same ``content`` (scene, sign word, image) match."""

    image: Image.Image
    caption: str
    lang: str
    content: str


def make_pairs(n: int, seed: int, sign_fraction: float = 0.2) -> list[Example]:
    """n generated examples, in random languages: scenes, and signs with a word on them."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        lang = rng.choice(synthetic.LANGS)
        size = (round(RENDER_HEIGHT * rng.uniform(*RENDER_ASPECTS)), RENDER_HEIGHT)
        if rng.random() < sign_fraction:
            word = rng.choice(synthetic.SIGN_WORDS)
            image = synthetic.render_sign(word, size, rng)
            examples.append(Example(image, synthetic.sign_caption(word, lang), lang, word))
        else:
            scene = synthetic.random_scene(rng)
            image = synthetic.render_scene(scene, size, rng)
            examples.append(Example(image, synthetic.scene_caption(scene, lang), lang, str(scene)))
    return examples


def _open(data: bytes | Path) -> Image.Image:
    image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    return image.convert("RGB")


def _corpus(folder: Path) -> list[Example]:
    from pipelines.corpus_io import read_records
    from pipelines.corpus_io import input_record_type

    record_cls = input_record_type(str(folder), "train-scorer --pairs")
    return [Example(_open(p.image_bytes), p.alt_text, p.lang, p.sha256)
            for p in read_records(str(folder), record_cls)]


def _caption_folder(folder: Path) -> list[Example]:
    out = []
    for image in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        caption = image.with_suffix(".txt")
        if caption.is_file() and caption.read_text(encoding="utf-8").strip():
            text = " ".join(caption.read_text(encoding="utf-8").split())
            out.append(Example(_open(image), text, "und", str(image.relative_to(folder))))
    return out


def _coco(annotations: Path) -> list[Example]:
    coco = json.loads(annotations.read_text(encoding="utf-8"))
    folder = annotations.parent / "images"
    folder = folder if folder.is_dir() else annotations.parent
    files = {im["id"]: folder / im["file_name"] for im in coco["images"]}
    opened: dict[int, Image.Image] = {}
    out = []
    for ann in coco["annotations"]:
        path = files.get(ann["image_id"])
        if path is None or not path.is_file() or not ann.get("caption", "").strip():
            continue
        if ann["image_id"] not in opened:
            opened[ann["image_id"]] = _open(path)
        out.append(Example(opened[ann["image_id"]], " ".join(ann["caption"].split()), "en",
                           str(ann["image_id"])))
    return out


def load_pairs(source: str) -> list[Example]:
    """The pairs of a corpus folder, an image–caption folder or a COCO captions JSON."""
    path = Path(source)
    if path.suffix == ".json" and path.is_file():
        examples = _coco(path)
    elif (path / "info.json").is_file():
        examples = _corpus(path)
    elif path.is_dir():
        examples = _caption_folder(path)
    else:
        raise FileNotFoundError(f"--pairs {source}: not a corpus folder, an image-caption "
                                "folder or a COCO captions .json")
    if len({e.content for e in examples}) < 4:
        raise ValueError(f"--pairs {source}: {len(examples)} pairs of "
                         f"{len({e.content for e in examples})} images; need at least 4 images")
    return examples


def split_held_out(examples: list[Example], fraction: float = 0.1
                   ) -> tuple[list[Example], list[Example]]:
    """(train, held out): a ``fraction`` of the contents (at least two) by a hash of each, so
    the split is the same on every run and no image is on both sides."""
    contents = sorted({e.content for e in examples},
                      key=lambda c: hashlib.sha256(c.encode()).hexdigest())
    held = set(contents[:max(2, round(fraction * len(contents)))])
    return ([e for e in examples if e.content not in held],
            [e for e in examples if e.content in held])
