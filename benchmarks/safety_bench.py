"""Safety-stage benchmark: the cost of its checks per 1,000 pairs, each check on its own.

Pairs are made of real COCO photos (stored as the fetch stage stores them: long side 384 px,
JPEG) with real captions, a page title and a context line that holds an e-mail address and a
phone number, checked against a 10,000-entry hash list, a 10,000-domain opt-out list and the
shipped term lists. One core, in process: what a Beam worker spends on each pair.

    python -m benchmarks.safety_bench [--json] [--pairs N]

The anchor is decoding the pair's JPEG (what any image stage pays first), measured side by side.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.output import add_output_args, save
from pipelines.safety.checks import Lists, SafetyConfig, check_pair
from quality_filters.faces import detect_faces
from quality_filters.pii import find_pii
from quality_filters.safety import HashList, OptOutList, TermList
from schemas import AnnotatedPair

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "captions" / "coco-mini-val2017"


def make_pairs(data: Path, n: int) -> list[AnnotatedPair]:
    with open(data / "captions.tsv", encoding="utf-8", newline="") as f:
        captions = {row["file_name"]: row["caption"]
                    for row in csv.DictReader(f, delimiter="\t")}
    files = sorted((data / "images").glob("*.jpg"))
    pairs = []
    for i in range(n):
        path = files[i % len(files)]
        pixels = cv2.imread(str(path))
        scale = 384 / max(pixels.shape[:2])
        jpeg = cv2.imencode(".jpg", cv2.resize(pixels, None, fx=scale, fy=scale,
                                               interpolation=cv2.INTER_AREA))[1].tobytes()
        caption = captions.get(path.name, "a photograph")
        pairs.append(AnnotatedPair(
            pair_id=f"p{i}", page_url=f"http://site{i % 97}.example/page{i}.html",
            image_url=f"http://img{i % 89}.example/{path.name}", alt_text=caption,
            context_text=f"Photos by our team. Contact studio{i}@example.com or +1 415 555 {i % 10000:04d}.",
            page_title="Gallery of everyday scenes", image_bytes=jpeg, image_format="JPEG",
            width=pixels.shape[1], height=pixels.shape[0],
            sha256=hashlib.sha256(jpeg).hexdigest(), phash=f"{i * 2654435761 % 2**64:016x}",
            lang="en", lang_conf=0.95, ocr_lines=[], ocr_text="", ocr_lang="und"))
    return pairs


def big_lists() -> Lists:
    rng = np.random.default_rng(0)
    hashes = [f"sha256:{hashlib.sha256(str(i).encode()).hexdigest()}" for i in range(5000)]
    hashes += [f"phash:{int(v):016x}" for v in rng.integers(0, 2**63, 5000)]
    domains = [f"optout{i}.example" for i in range(10000)]
    return Lists(HashList.parse(hashes), OptOutList.parse(domains), TermList.from_files([]))


def _ms_per_1000(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return round(1000 * (time.perf_counter() - start) / len(items) * 1000, 1)


def run(n: int) -> dict:
    cv2.setNumThreads(1)
    pairs, lists = make_pairs(DATA, n), big_lists()
    decode = lambda p: cv2.imdecode(np.frombuffer(p.image_bytes, np.uint8), cv2.IMREAD_COLOR)
    pixels = [decode(p) for p in pairs]
    texts = lambda p: (p.alt_text, p.page_title, p.context_text, p.ocr_text)
    per = {
        "decode_jpeg (anchor)": _ms_per_1000(decode, pairs),
        "opt_out + hash lists": _ms_per_1000(
            lambda p: (lists.opt_out.match(p.page_url), lists.opt_out.match(p.image_url),
                       lists.blocked.match(sha256=p.sha256, phash=p.phash)), pairs),
        "unsafe_terms": _ms_per_1000(lambda p: lists.terms.find(*texts(p)), pairs),
        "pii": _ms_per_1000(lambda p: [find_pii(t, p.lang) for t in texts(p)], pairs),
        "face_detection": _ms_per_1000(detect_faces, pixels),
        "whole stage (redact, blur)": _ms_per_1000(
            lambda p: check_pair(p, lists, SafetyConfig()), pairs),
        "whole stage, faces kept": _ms_per_1000(
            lambda p: check_pair(p, lists, SafetyConfig(faces="keep")), pairs),
    }
    anchor = per["decode_jpeg (anchor)"]
    return {"pairs": n, "ms_per_1000_pairs": per,
            "ratio_to_decode": {k: round(v / anchor, 2) for k, v in per.items()},
            "threads": 1}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_args(p, "safety")
    p.add_argument("--pairs", type=int, default=400)
    args = p.parse_args(argv)
    result = run(args.pairs)
    if not save(result, args):
        for name, ms in result["ms_per_1000_pairs"].items():
            print(f"{name:<28}{ms / 1000:8.2f} s per 1,000 pairs  "
                  f"({result['ratio_to_decode'][name]}× decoding)")
    return result


if __name__ == "__main__":
    main()
