"""``openwebli demo``: sample site → corpus → mixture → PaLI training → one prediction.

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
from pipelines.mixture.spec import corpus_spec
from pipelines.sample_site import generate_site, serve_site
from pipelines.score.scorer_model import default_scorer_spec
from schemas import CorpusPair


def _banner(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def _reset(path: str, force: bool) -> None:
    if force and os.path.exists(path):
        shutil.rmtree(path)


def run_demo(workdir: str, beam_args: list[str], force: bool = False) -> dict:
    from model.configs import get_config
    from model.predict import load
    from model.train import train

    start = time.time()
    site, eval_images, corpus, mixture, train_dir = (
        os.path.join(workdir, d) for d in ("site", "eval-images", "corpus", "mixture", "train"))
    for path in (site, eval_images, corpus, mixture, train_dir):
        _reset(path, force)
    _banner("1/5 sample site (and a one-image evaluation set to keep out of the corpus)")
    print(generate_site(site, eval_dir=eval_images) if not os.path.exists(site)
          else f"reusing {site}")
    scorer_spec = default_scorer_spec()
    config = CorpusConfig(scorer_spec=scorer_spec,
                          near_dedup=NearDedupConfig(eval_images=(eval_images,)))
    config = config.allowing_networks(("127.0.0.0/8",))
    _banner("2/5 corpus job (crawl → fetch → dedup → OCR + language ID → score → top 10%)")
    with serve_site(site) as base:
        print(f"serving the sample site at {base}")
        stats = run_corpus_job(CorpusInputs(seeds=(f"{base}/index.html",)), corpus, config,
                               PipelineOptions(beam_args))
    _banner("3/5 mixture (captioning, split-captioning, OCR → ArrayRecord)")
    spec = corpus_spec(corpus)
    mix_stats = run_mixture_job(spec, mixture, PipelineOptions(beam_args))
    print({task: s["examples"] for task, s in mix_stats["tasks"].items()})
    _banner("4/5 PaLI training (frozen ViT from the scorer, T5-style encoder-decoder)")
    result = train(get_config("demo"), mixture, train_dir,
                   scorer_checkpoint=scorer_spec.split(":", 1)[1])
    _banner("5/5 prediction")
    pairs = read_records(corpus, CorpusPair)
    labelled = [p for p in pairs if p.lang != "und"] or pairs
    pair = max(labelled, key=lambda p: p.score)  # the best pair the captioning task used
    prompt = task_prompt("captioning", spec.style, lang=pair.lang)
    prediction = load(train_dir).predict(pair.image_bytes, prompt)
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
    print(f"demo finished in {time.time() - start:.0f} s; outputs in {workdir}")
    return {"stats": stats, "train": result, "prediction": prediction}
