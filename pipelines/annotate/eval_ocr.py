"""``openwebli eval-ocr``: word recall and character error rate of an OCR backend.

DIR holds ``imgs/<name>.jpg`` and ICDAR-style ``gt/gt_<name>.txt`` (``x1,y1,…,x4,y4,text`` per
line, optional UTF-8 BOM; ``###`` marks text to ignore). Words are compared case-insensitively
with surrounding punctuation stripped.
- word recall: the share of ground-truth words that the backend read (as a multiset);
- CER: for each ground-truth word, the edit distance to the closest word read (its own length
  when nothing was read), summed and divided by the ground truth's characters.
"""
from __future__ import annotations

import collections
import string
from pathlib import Path

from pipelines.annotate.ocr import OcrConfig, image_array, load_backend

IGNORE = "###"


def read_ground_truth(path: Path) -> list[str]:
    """The words of one ICDAR ground-truth file, ``###`` boxes left out."""
    words = []
    for line in path.read_text("utf-8-sig").splitlines():
        parts = line.split(",", 8)
        if len(parts) == 9 and parts[8].strip() != IGNORE:
            words.extend(parts[8].split())
    return [w for w in map(normalize_word, words) if w]


def normalize_word(word: str) -> str:
    return word.strip(string.punctuation + "“”‘’«»").casefold()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (written here: two short strings, no dependency needed)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def words_read(lines) -> list[str]:
    """The normalised words of OCR lines (none for None: an image the text gate skipped)."""
    return [w for w in (normalize_word(x) for line in lines or () for x in line.text.split()) if w]


def words_found(truth: list[str], read: list[str]) -> int:
    """How many of the ``truth`` words were ``read`` (as multisets)."""
    return sum((collections.Counter(truth) & collections.Counter(read)).values())


def score_image(truth: list[str], read: list[str]) -> dict:
    found = words_found(truth, read)
    errors = sum(min((edit_distance(t, r) for r in read), default=len(t)) for t in truth)
    return {"words": len(truth), "found": found, "chars": sum(map(len, truth)),
            "char_errors": min(errors, sum(map(len, truth)))}


def evaluate_ocr(folder: str | Path, backend: str = "easyocr") -> dict:
    folder = Path(folder)
    images = sorted((folder / "imgs").glob("*.jpg")) + sorted((folder / "imgs").glob("*.png"))
    if not images:
        raise FileNotFoundError(f"no images in {folder / 'imgs'}")
    model = load_backend(OcrConfig(backend=backend))
    per_image = {}
    for image in images:
        truth = read_ground_truth(folder / "gt" / f"gt_{image.stem}.txt")
        lines = model.read(image_array(image.read_bytes()))
        read = words_read(lines)
        per_image[image.name] = score_image(truth, read)
    total = {k: sum(r[k] for r in per_image.values()) for k in ("words", "found", "chars",
                                                                "char_errors")}
    return {"backend": backend, "images": len(images),
            "word_recall": round(total["found"] / max(1, total["words"]), 4),
            "cer": round(total["char_errors"] / max(1, total["chars"]), 4),
            **total, "per_image": per_image}
