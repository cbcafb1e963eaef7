"""``openwebli demo``: sample site → corpus → mixture → PaLI training → one prediction →
evaluation on the mixture's validation split.

Every step writes a self-describing folder under the workdir and is skipped on a rerun once
complete (``--force`` redoes them).
"""
from __future__ import annotations

import os
import shutil
import time

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import format_funnel
from pipelines.corpus_io import read_records
from pipelines.corpus_job import CorpusConfig, CorpusInputs, run_corpus_job
from pipelines.dedup.near import NearDedupConfig
from pipelines.mixture.job import run_mixture_job
from pipelines.mixture.prompts import prompt as task_prompt
from pipelines.mixture.reader import storage_report
from pipelines.mixture.spec import MixtureSpec
from pipelines.mixture.tasks import MIXTURES
from pipelines.sample_site import generate_site, serve_site
from pipelines.score.scorer_model import default_scorer_spec
from schemas import CorpusPair


def _banner(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def _reset(path: str, force: bool) -> None:
    if force and os.path.exists(path):
        shutil.rmtree(path)


def demo_spec(corpus: str, site: str, annotations: str) -> MixtureSpec:
    """The "pali" mixture's eight tasks over the corpus and the sample site's annotations (its
    COCO-format boxes, its VQA lines, its pages' texts)."""
    sources = {"corpus": {"kind": "corpus", "path": corpus},
               "site": {"kind": "coco", "annotations": os.path.join(annotations, "instances.json"),
                        "images": site},
               "site_vqa": {"kind": "vqa", "path": os.path.join(annotations, "vqa.jsonl"),
                            "images": site},
               "site_texts": {"kind": "text", "path": os.path.join(annotations, "texts.jsonl")}}
    tasks = {name: {"rate": rate} for name, rate in MIXTURES.get("pali").rates}
    tasks["span_corruption"]["source"] = "site_texts"  # the corpus has no WET texts here
    # One shard a split: ArrayRecord pads each file to 128 KiB, which a mixture this small feels.
    return MixtureSpec.from_dict({"sources": sources, "tasks": tasks, "name": "pali",
                                  "num_shards": 1})


def _print_mixture(stats: dict, report: dict) -> None:
    for task, counts in stats["shards"].items():
        print(f"  {task:<18}{counts['train']:>6} train {counts['validation']:>5} validation")
    r = report
    print(f"storage: {r['examples']} examples over {r['images']} images of {r['image_bytes']:,} "
          f"bytes; on disk the image store {r['image_store_bytes']:,} and the examples "
          f"{r['example_bytes']:,} bytes ({r['bytes_per_example']:,.0f} an example): "
          f"{r['to_one_copy']:.2f}x one copy of the images (with an image copy an example: "
          f"{r['bytes_if_copied']:,} bytes)")


def run_demo(workdir: str, beam_args: list[str], force: bool = False) -> dict:
    from model.configs import get_config
    from model.evaluate import evaluate_folder
    from model.predict import load
    from model.train import train

    start = time.time()
    site, annotations, eval_images, corpus, mixture, train_dir, eval_dir = (
        os.path.join(workdir, d) for d in ("site", "site-annotations", "eval-images", "corpus",
                                           "mixture", "train", "eval"))
    for path in (site, annotations, eval_images, corpus, mixture, train_dir, eval_dir):
        _reset(path, force)
    _banner("1/6 sample site, its annotations, and a one-image evaluation set to keep out")
    print(generate_site(site, eval_dir=eval_images, annotations_dir=annotations)
          if not os.path.exists(annotations) else f"reusing {site}")
    scorer_spec = default_scorer_spec()
    config = CorpusConfig(scorer_spec=scorer_spec,
                          near_dedup=NearDedupConfig(eval_images=(eval_images,)))
    config = config.allowing_networks(("127.0.0.0/8",))
    _banner("2/6 corpus job (crawl → fetch → dedup → OCR + language ID → score → top 10%)")
    with serve_site(site) as base:
        print(f"serving the sample site at {base}")
        stats = run_corpus_job(CorpusInputs(seeds=(f"{base}/index.html",)), corpus, config,
                               PipelineOptions(beam_args))
    _banner("3/6 mixture (the eight PaLI tasks from the corpus and the site's annotations)")
    spec = demo_spec(corpus, site, annotations)
    mix_stats = run_mixture_job(spec, mixture, PipelineOptions(beam_args))
    report = storage_report(mixture)
    _print_mixture(mix_stats, report)
    _banner("4/6 PaLI training (frozen ViT from the scorer, T5-style encoder-decoder)")
    result = train(get_config("demo"), mixture, train_dir,
                   scorer_checkpoint=scorer_spec.split(":", 1)[1])
    _banner("5/6 prediction")
    predictor = load(train_dir)
    pairs = read_records(corpus, CorpusPair)
    labelled = [p for p in pairs if p.lang != "und"] or pairs
    pair = max(labelled, key=lambda p: p.score)  # the best pair the captioning task used
    prompt = task_prompt("captioning", spec.style, lang=pair.lang)
    prediction = predictor.predict(pair.image_bytes, prompt)
    print(f"{pair.image_url} [{prompt}]: {prediction!r}")
    _banner("6/6 evaluation (openwebli eval: each task's validation split, its own metric)")
    evaluation = evaluate_folder(predictor, mixture, "validation", predictions_dir=eval_dir)
    for task, m in evaluation.items():
        print(f"  {task:<18}{m['metric']:<14}{m['value']:8.4f}  ({m['examples']} questions)")
    _banner("summary")
    print(format_funnel(stats))
    dedup = stats["stages"]["dedup"]
    removed = dedup["rejected"].get("eval_near_duplicate", 0)
    print(f"evaluation-set near-duplicates removed: {removed} of {dedup['seen']} images "
          f"({removed / max(1, dedup['seen']):.2%})")
    print(f"score threshold of the top-10% cut: {stats['score_threshold']:.4f}")
    print(f"training loss: first {result['first_loss']:.3f} → last {result['last_loss']:.3f} "
          f"over {result['steps']} steps")
    print(f"prediction for {pair.image_url} [{prompt}]: {prediction!r}  (alt text: {pair.alt_text!r})")
    print("validation metrics:", {t: f"{m['metric']} {m['value']:.3f}" for t, m in evaluation.items()})
    print(f"demo finished in {time.time() - start:.0f} s; outputs in {workdir}")
    print("mixture examples per task:", {t: sum(c.values()) for t, c in mix_stats["shards"].items()})
    return {"stats": stats, "mixture": mix_stats, "storage": report, "train": result,
            "evaluation": evaluation, "prediction": prediction}
