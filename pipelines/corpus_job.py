"""The corpus job: every corpus stage fused into one Beam pipeline (``openwebli build``).

seed URLs → crawl → extract → fetch → dedup → annotate (OCR, language ID) → score (global
top-k%) → corpus folder. Each stage's rejections go to ``rejects/`` and its counts to
``stats.json``.
"""
from __future__ import annotations

import dataclasses
import logging
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.annotate.langid_model import LangIdConfig
from pipelines.annotate.ocr import OcrConfig
from pipelines.annotate.transforms import Annotate
from pipelines.corpus_io import (WriteRecords, WriteRejects, is_completed, mark_completed,
                                 read_json, write_info)
from pipelines.crawl.transforms import CrawlConfig, CrawlPages, ExtractCandidates
from pipelines.dedup.transforms import ExactDedup
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import FetchImages
from pipelines.http import PRIVATE_NETWORKS, FetchConfig
from pipelines.score.transforms import Score
from schemas import CorpusPair

log = logging.getLogger("openwebli.corpus")


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    scorer_spec: str
    keep_fraction: float = 0.1
    crawl: CrawlConfig = CrawlConfig()
    images: ImageFetchConfig = ImageFetchConfig()
    ocr: OcrConfig = OcrConfig()
    langid: LangIdConfig = LangIdConfig()
    num_shards: int = 0  # 0 → the runner decides

    def allowing_networks(self, networks: tuple[str, ...] = PRIVATE_NETWORKS) -> "CorpusConfig":
        """The same config with fetching allowed into ``networks`` (loopback, private)."""
        fetch = dataclasses.replace(self.crawl.fetch, allowed_networks=tuple(networks))
        return dataclasses.replace(
            self, crawl=dataclasses.replace(self.crawl, fetch=fetch),
            images=dataclasses.replace(self.images, fetch=fetch))


def build_corpus(seeds, output: str, config: CorpusConfig):
    """Add the corpus job to the pipeline of ``seeds`` (a PCollection of seed URLs)."""
    pages, page_rejects, urls = seeds | "Crawl" >> CrawlPages(config.crawl)
    candidates, extract_rejects, images_seen = pages | "Extract" >> ExtractCandidates()
    images, fetch_rejects = candidates | "FetchImages" >> FetchImages(config.images)
    unique, dup_rejects = images | "Dedup" >> ExactDedup()
    pairs, annotate_rejects = unique | "Annotate" >> Annotate(config.ocr, config.langid)
    kept, score_rejects, threshold = pairs | "Score" >> Score(
        config.scorer_spec, config.keep_fraction)

    kept | "WriteCorpus" >> WriteRecords(output, CorpusPair, config.num_shards)
    rejects = (page_rejects, extract_rejects, fetch_rejects, dup_rejects, annotate_rejects,
               score_rejects) | "AllRejects" >> beam.Flatten()
    rejects | "WriteRejects" >> WriteRejects(output)
    counts = (
        count_stage("crawl", urls, pages, page_rejects),
        count_stage("extract", images_seen, candidates, extract_rejects, seen_is_count=True),
        count_stage("fetch", candidates, images, fetch_rejects),
        count_stage("dedup", images, unique, dup_rejects),
        count_stage("annotate", unique, pairs, annotate_rejects),
        count_stage("score", pairs, kept, score_rejects),
    ) | "AllCounts" >> beam.Flatten()
    counts | "Stats" >> WriteStats(f"{output}/stats.json", {"score_threshold": threshold})


def run_corpus_job(seeds: list[str], output: str, config: CorpusConfig,
                   options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Run the corpus job to completion and return its stats; skip a finished folder."""
    if is_completed(output) and not force:
        log.info("%s is COMPLETED; skipping (pass force=True / --force to rebuild)", output)
        return read_json(output, "stats.json")
    start = time.time()
    with beam.Pipeline(options=options or PipelineOptions()) as p:
        build_corpus(p | "Seeds" >> beam.Create(seeds), output, config)
    write_info(output, CorpusPair, {"seeds": seeds, **dataclasses.asdict(config)})
    mark_completed(output)
    stats = read_json(output, "stats.json")
    log.info("corpus job finished in %.1f s", time.time() - start)
    return stats


__all__ = ["CorpusConfig", "FetchConfig", "build_corpus", "run_corpus_job"]
