"""Learning benchmark: does a PaLI trained by this toolkit generalise?

The whole loop on generated data. Scenes of one to three shapes of one kind and colour on a
coloured background, under a sign with a word, are written as a corpus folder (alt text: the
caption; OCR lines: the sign's word) and a COCO-format dataset (the shapes' boxes); the mixture
job turns them into captioning, OCR, detection and object-aware VQA (counting among its
questions); PaLI (the "learn" preset) trains on it with the frozen ViT of the project's
contrastive scorer (``openwebli train-scorer``, trained on generated scenes and signs); then it
is scored on held-out scenes: combinations of shape, colour, background, count and word that
no training scene has (a fifth of all, chosen by a hash), at new random positions.

Each task by its own metric: exact match for captioning, counting and OCR, box F1 at IoU ≥ 0.5
for detection. Prints one JSON line ``{"mean": …, "per_task": {TASK: {"metric", "value"}},
…}`` and writes ``results/learn.json``.

    python -m benchmarks.learn_bench [--json] [--scenes N] [--held-out N] [--config SPEC]
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import logging
import random
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from benchmarks.output import add_output_args, save
from pipelines import synthetic
from schemas import BoxedObject, CorpusPair, LabelledImage, OcrLine

SIZE = 128  # rendered; the ViT sees it at its 64 px
SIGN_HEIGHT = 56  # the top band: the word's letters ~8 px tall as the ViT sees them
COUNT_WORDS = ("one", "two", "three")
HELD_OUT_SHARE = 5  # one combination in five is never trained on
TASKS = ("captioning", "counting", "ocr", "detection")
DEFAULT_CONFIG = "learn"


@dataclasses.dataclass(frozen=True)
class Scene:
    shape: str
    color: str
    background: str
    count: int
    word: str

    @property
    def held_out(self) -> bool:
        key = f"{self.shape}|{self.color}|{self.background}|{self.count}|{self.word}"
        return int(hashlib.sha256(key.encode()).hexdigest(), 16) % HELD_OUT_SHARE == 0

    @property
    def caption(self) -> str:
        plural = "es" if self.shape.endswith("s") else "s"
        noun = self.shape if self.count == 1 else self.shape + plural
        return f"{COUNT_WORDS[self.count - 1]} {self.color} {noun} on a {self.background} background"


def random_scene(rng: random.Random, held_out: bool) -> Scene:
    while True:
        color, background = rng.sample(sorted(synthetic.COLORS), 2)
        scene = Scene(rng.choice(synthetic.SHAPES), color, background, rng.randint(1, 3),
                      rng.choice(synthetic.SIGN_WORDS))
        if scene.held_out == held_out:
            return scene


def _centres(count: int, r: float, rng: random.Random, top: float):
    """``count`` shape centres in the area under the sign, at least 2.3 radii apart."""
    while True:
        out = [(rng.uniform(r, SIZE - r), rng.uniform(top + r, SIZE - r)) for _ in range(count)]
        if all((ax - bx) ** 2 + (ay - by) ** 2 >= (2.3 * r) ** 2
               for i, (ax, ay) in enumerate(out) for bx, by in out[i + 1:]):
            return out


def render(scene: Scene, rng: random.Random) -> tuple[bytes, list[list[float]]]:
    """A JPEG of the scene and its shapes' boxes ([ymin, xmin, ymax, xmax] fractions)."""
    img = Image.new("RGB", (SIZE, SIZE), synthetic.COLORS[scene.background])
    sign = synthetic.render_sign(scene.word, (SIZE, SIGN_HEIGHT), rng)
    img.paste(sign, (0, 0))
    draw, boxes = ImageDraw.Draw(img), []
    r = rng.uniform(11, 14)
    for cx, cy in _centres(scene.count, r, rng, top=SIGN_HEIGHT + 2):
        synthetic.draw_shape(draw, scene.shape, cx, cy, r, synthetic.COLORS[scene.color])
        x, y, w, h = synthetic.shape_box(scene.shape, cx, cy, r)
        boxes.append([y / SIZE, x / SIZE, (y + h) / SIZE, (x + w) / SIZE])
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue(), boxes


def _corpus_pair(i: int, scene: Scene, jpeg: bytes) -> CorpusPair:
    line = OcrLine(text=scene.word, box=[0.0] * 8, confidence=1.0)
    return CorpusPair(pair_id=f"scene{i}", page_url="http://bench.test/", image_url=f"http://bench.test/{i}.jpg",
                      alt_text=scene.caption, image_bytes=jpeg, image_format="JPEG", width=SIZE,
                      height=SIZE, sha256=hashlib.sha256(jpeg).hexdigest(), phash="0" * 16,
                      lang="en", lang_conf=1.0, ocr_lines=[line], ocr_text=scene.word,
                      ocr_lang="en", score=1.0)


def _labelled(i: int, scene: Scene, jpeg: bytes, boxes) -> LabelledImage:
    return LabelledImage(image_id=f"scene{i}", image=jpeg, width=SIZE, height=SIZE,
                         captions=[scene.caption],
                         objects=[BoxedObject(label=scene.shape, box=b) for b in boxes])


def scenes(n: int, seed: int, held_out: bool) -> list[tuple[Scene, bytes, list]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        scene = random_scene(rng, held_out)
        out.append((scene, *render(scene, rng)))
    return out


def write_sources(root: Path, train: list) -> dict:
    """The corpus folder and the COCO-format dataset of the training scenes → mixture spec."""
    import apache_beam as beam

    from pipelines.corpus_io import WriteRecords, mark_completed

    corpus, images = root / "corpus", root / "images"
    images.mkdir(parents=True)
    pairs = [_corpus_pair(i, s, jpeg) for i, (s, jpeg, _) in enumerate(train)]
    with beam.Pipeline() as p:
        p | beam.Create(pairs) | WriteRecords(str(corpus), CorpusPair)
    mark_completed(str(corpus))
    coco = {"images": [], "annotations": [],
            "categories": [{"id": k, "name": s} for k, s in enumerate(synthetic.SHAPES)]}
    for i, (scene, jpeg, boxes) in enumerate(train):
        (images / f"{i}.jpg").write_bytes(jpeg)
        coco["images"].append({"id": i, "file_name": f"{i}.jpg", "width": SIZE, "height": SIZE})
        for y0, x0, y1, x1 in boxes:
            coco["annotations"].append({
                "id": len(coco["annotations"]), "image_id": i, "iscrowd": 0,
                "category_id": synthetic.SHAPES.index(scene.shape),
                "bbox": [x0 * SIZE, y0 * SIZE, (x1 - x0) * SIZE, (y1 - y0) * SIZE]})
    (root / "instances.json").write_text(json.dumps(coco))
    return {"sources": {"corpus": {"kind": "corpus", "path": str(corpus)},
                        "scenes": {"kind": "coco", "annotations": str(root / "instances.json"),
                                   "images": str(images)}},
            "tasks": {"captioning": {"rate": 1.0}, "ocr": {"rate": 1.0},
                      "detection": {"rate": 1.0, "source": "scenes"},
                      "object_aware_vqa": {"rate": 1.0, "source": "scenes"}},
            "num_shards": 2, "validation_fraction": 0.02, "seed": 0}


def held_out_questions(held: list) -> dict[str, list[dict]]:
    """Each held-out scene's four questions, built by the mixture's own task builders (the
    same prompts and targets as training): {task: [{image, prompt, reference}]}."""
    from pipelines.mixture.tasks import TASKS as REGISTRY
    from pipelines.mixture.tasks.core import Context

    ctx, rng = Context(labels=tuple(synthetic.SHAPES)), random.Random(0)
    out = {t: [] for t in TASKS}
    for i, (scene, jpeg, boxes) in enumerate(held):
        pair, labelled = _corpus_pair(i, scene, jpeg), _labelled(i, scene, jpeg, boxes)
        built = {"captioning": REGISTRY.get("captioning")(pair, rng, ctx),
                 "ocr": REGISTRY.get("ocr")(pair, rng, ctx),
                 "detection": REGISTRY.get("detection")(labelled, rng, ctx),
                 "counting": [ex for ex in REGISTRY.get("object_aware_vqa")(labelled, rng, ctx)
                              if "How many" in ex.prefix]}
        for task, examples in built.items():
            (ex,) = examples
            out[task].append({"id": str(i), "image": ex.image, "prompt": ex.prefix,
                              "reference": ex.target})
    return out


def score(predictor, questions: dict[str, list[dict]]) -> dict:
    from model.metrics import evaluate

    kinds = {"captioning": "exact", "counting": "exact", "ocr": "exact",
             "detection": "detection"}
    per_task = {}
    for task, qs in questions.items():
        answers = predictor.predict_batch([q["image"] for q in qs], [q["prompt"] for q in qs])
        m = evaluate(kinds[task], {q["id"]: a["prediction"] for q, a in zip(qs, answers)},
                     {q["id"]: [q["reference"]] for q in qs})
        per_task[task] = {"metric": m["metric"], "value": round(m["value"], 4),
                          "examples": m["examples"]}
        per_task[task]["sample"] = [{"prompt": q["prompt"], "reference": q["reference"],
                                     "prediction": a["prediction"]}
                                    for q, a in list(zip(qs, answers))[:3]]
    return per_task


def run(scenes_n: int, held_n: int, config_spec: str, workdir: Path) -> dict:
    from apache_beam.options.pipeline_options import PipelineOptions

    from model.configs import get_config
    from model.predict import load
    from model.train import train
    from pipelines.mixture.job import run_mixture_job
    from pipelines.mixture.spec import MixtureSpec
    from pipelines.score.scorer_model import default_scorer_spec

    times, start = {}, time.time()
    train_scenes = scenes(scenes_n, seed=1, held_out=False)
    held = scenes(held_n, seed=2, held_out=True)
    spec = MixtureSpec.from_dict(write_sources(workdir / "sources", train_scenes))
    mixture = str(workdir / "mixture")
    stats = run_mixture_job(spec, mixture, PipelineOptions([]))
    times["data_s"] = round(time.time() - start, 1)
    scorer = default_scorer_spec().split(":", 1)[1]
    t = time.time()
    result = train(get_config(config_spec), mixture, str(workdir / "train"), scorer)
    times["train_s"] = round(time.time() - t, 1)
    t = time.time()
    per_task = score(load(str(workdir / "train"), batch_size=64), held_out_questions(held))
    times["eval_s"] = round(time.time() - t, 1)
    mean = sum(v["value"] for v in per_task.values()) / len(per_task)
    return {"mean": round(mean, 4), "per_task": per_task, "config": config_spec,
            "train_scenes": scenes_n, "held_out_scenes": held_n,
            "mixture_examples": {t: sum(c.values()) for t, c in stats["shards"].items()},
            "loss": [round(result["first_loss"], 3), round(result["last_loss"], 3)],
            "steps": result["steps"], **times, "total_s": round(time.time() - start, 1)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_args(p, "learn")
    p.add_argument("--scenes", type=int, default=3000, help="training scenes")
    p.add_argument("--held-out", type=int, default=200, help="held-out scenes")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--workdir", help="keep the data and the model here (default: a temporary "
                                     "folder)")
    args = p.parse_args(argv)
    from pipelines.cli import setup_logging

    setup_logging()
    logging.getLogger("openwebli.eval").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        result = run(args.scenes, args.held_out, args.config, workdir)
    if not save(result, args):
        for task, m in result["per_task"].items():
            print(f"{task:<12}{m['metric']:<12}{m['value']:.3f}")
        print(f"mean {result['mean']:.3f} in {result['total_s']:.0f} s")
    return result


if __name__ == "__main__":
    main()
