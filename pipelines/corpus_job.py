"""The corpus job: every corpus stage fused into one Beam pipeline (``openwebli build``).

seed URLs → crawl and/or web archives → pages → extract → fetch → dedup → annotate (OCR, language ID) → score (global
top-k%) → corpus folder. Each stage's rejections go to ``rejects/`` and its counts to
``stats.json``.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.annotate.gate import GateConfig
from pipelines.annotate.langid_model import LangIdConfig
from pipelines.annotate.ocr import OcrConfig
from pipelines.annotate.transforms import Annotate
from pipelines.corpus_io import WriteRecords, WriteRejects, run_to_folder
from pipelines.crawl.transforms import (CrawlConfig, CrawlPages, ExtractCandidates, ReadArchives,
                                       ReadUrlLists)
from pipelines.dedup.near import NearDedup, NearDedupConfig
from pipelines.dedup.transforms import ExactDedup
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import FetchImages, ResolveImages
from pipelines.http import PRIVATE_NETWORKS, FetchConfig
from pipelines.score.transforms import Score
from schemas import CorpusPair, PageText


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    scorer_spec: str
    keep_fraction: float = 0.1
    crawl: CrawlConfig = CrawlConfig()
    images: ImageFetchConfig = ImageFetchConfig()
    ocr: OcrConfig = OcrConfig()
    text_gate: GateConfig = GateConfig()
    langid: LangIdConfig = LangIdConfig()
    near_dedup: NearDedupConfig = NearDedupConfig()
    num_shards: int = 0  # 0 → the runner decides

    def allowing_networks(self, networks: tuple[str, ...] = PRIVATE_NETWORKS) -> "CorpusConfig":
        """The same config with fetching allowed into ``networks`` (loopback, private)."""
        fetch = dataclasses.replace(self.crawl.fetch, allowed_networks=tuple(networks))
        return dataclasses.replace(
            self, crawl=dataclasses.replace(self.crawl, fetch=fetch),
            images=dataclasses.replace(self.images, fetch=fetch))


@dataclasses.dataclass(frozen=True)
class CorpusInputs:
    """Where pairs come from: seed URLs to crawl, web archives, URL lists (file patterns)."""

    seeds: tuple[str, ...] = ()
    archives: tuple[str, ...] = ()
    url_lists: tuple[str, ...] = ()  # img2dataset/LAION parquet, CC3M tsv, url-per-line txt
    fetch_missing: bool = True  # fetch images that are not in the archives from the network

    def __post_init__(self):
        if not (self.seeds or self.archives or self.url_lists):
            raise ValueError("give seed URLs (--seeds), archives (--input) or URL lists "
                             "(--url-list)")


def _read_pages(p, inputs: CorpusInputs, config: CorpusConfig):
    """→ (pages, archived resources or None, WET page texts or None, rejections, count rows)
    from every input kind."""
    pages, rejects, counts, resources, texts = [], [], [], None, None
    if not (inputs.seeds or inputs.archives):
        return (p | "NoPages" >> beam.Create([]), None, None,
                p | "NoPageRejects" >> beam.Create([]), [])
    if inputs.seeds:
        crawled, crawl_rejects, urls = (p | "Seeds" >> beam.Create(inputs.seeds)
                                        | "Crawl" >> CrawlPages(config.crawl))
        pages.append(crawled)
        rejects.append(crawl_rejects)
        counts.append(count_stage("crawl", urls, crawled, crawl_rejects))
    if inputs.archives:
        archived, resources, texts, archive_rejects, seen = (
            p | "Archives" >> beam.Create(inputs.archives) | "Read" >> ReadArchives())
        passed_on = (archived, resources, texts) | "ArchiveKept" >> beam.Flatten()
        pages.append(archived)
        rejects.append(archive_rejects)
        counts.append(count_stage("archive", seen, passed_on, archive_rejects, seen_is_count=True))
    return (pages | "AllPages" >> beam.Flatten(), resources, texts,
            rejects | "InputRejects" >> beam.Flatten(), counts)


def _candidates(p, pages, inputs: CorpusInputs):
    """→ (candidates from pages and URL lists, rejections, count rows)."""
    from_pages, extract_rejects, images_seen = pages | "Extract" >> ExtractCandidates()
    counts = [count_stage("extract", images_seen, from_pages, extract_rejects, seen_is_count=True)]
    if not inputs.url_lists:
        return from_pages, extract_rejects, counts
    listed, list_rejects, rows = (p | "UrlLists" >> beam.Create(inputs.url_lists)
                                  | "ReadLists" >> ReadUrlLists())
    counts.insert(0, count_stage("urllist", rows, listed, list_rejects, seen_is_count=True))
    return ((from_pages, listed) | "AllCandidates" >> beam.Flatten(),
            (extract_rejects, list_rejects) | "CandidateRejects" >> beam.Flatten(), counts)


def build_corpus(p, inputs: CorpusInputs, output: str, config: CorpusConfig):
    """Add the corpus job for ``inputs`` to pipeline ``p``."""
    pages, resources, texts, page_rejects, input_counts = _read_pages(p, inputs, config)
    if texts is not None:  # WET page text, kept for text-only tasks
        texts | "WriteTexts" >> WriteRecords(FileSystems.join(output, "texts"), PageText)
    candidates, extract_rejects, candidate_counts = _candidates(p, pages, inputs)
    if resources is None:
        images, fetch_rejects = candidates | "FetchImages" >> FetchImages(config.images)
    else:
        images, fetch_rejects = (candidates, resources) | "ResolveImages" >> ResolveImages(
            config.images, inputs.fetch_missing)
    unique, dup_rejects = images | "Dedup" >> ExactDedup()
    if config.near_dedup.enabled:
        exact_rejects = dup_rejects
        unique, near_rejects = unique | "NearDedup" >> NearDedup(config.near_dedup)
        dup_rejects = (exact_rejects, near_rejects) | "DedupRejects" >> beam.Flatten()
    pairs, annotate_rejects = unique | "Annotate" >> Annotate(config.ocr, config.langid,
                                                                 config.text_gate)
    kept, score_rejects, threshold = pairs | "Score" >> Score(
        config.scorer_spec, config.keep_fraction)

    kept | "WriteCorpus" >> WriteRecords(output, CorpusPair, config.num_shards)
    rejects = (page_rejects, extract_rejects, fetch_rejects, dup_rejects, annotate_rejects,
               score_rejects) | "AllRejects" >> beam.Flatten()
    rejects | "WriteRejects" >> WriteRejects(output)
    counts = (
        *input_counts,
        *candidate_counts,
        count_stage("fetch", candidates, images, fetch_rejects),
        count_stage("dedup", images, unique, dup_rejects),
        count_stage("annotate", unique, pairs, annotate_rejects),
        count_stage("score", pairs, kept, score_rejects),
    ) | "AllCounts" >> beam.Flatten()
    not_read = (pairs | "NotRead" >> beam.Filter(lambda pair: not pair.ocr_ran)
                | "CountNotRead" >> beam.combiners.Count.Globally())
    counts | "Stats" >> WriteStats(output, {"score_threshold": threshold,
                                            "ocr_skipped_by_text_gate": not_read})


def run_corpus_job(inputs: CorpusInputs, output: str, config: CorpusConfig,
                   options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Run the corpus job to completion and return its stats; skip a finished folder."""
    return run_to_folder(output, CorpusPair, {"inputs": dataclasses.asdict(inputs),
                                              **dataclasses.asdict(config)},
                         lambda p: build_corpus(p, inputs, output, config), options, force)


__all__ = ["CorpusConfig", "CorpusInputs", "FetchConfig", "build_corpus", "run_corpus_job"]
