"""The corpus job: every corpus stage fused into one Beam pipeline (``openwebli build``).

seed URLs → crawl and/or web archives → pages → extract → fetch → dedup → annotate (OCR,
language ID) → safety (hash lists, opt-outs, unsafe text, personal data, faces) → score (global
top-k%) → corpus folder. Each stage's rejections go to ``rejects/`` and its counts to
``stats.json``. Reading the inputs and extracting candidates is the crawl job's code
(``pipelines/crawl_job.py``).
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
from pipelines.crawl.transforms import CrawlConfig
from pipelines.crawl_job import CorpusInputs, read_candidates, read_pages
from pipelines.dedup.near import NearDedup, NearDedupConfig
from pipelines.dedup.transforms import ExactDedup
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import FetchImages, ResolveImages
from pipelines.http import PRIVATE_NETWORKS, FetchConfig
from pipelines.safety.checks import SafetyConfig
from pipelines.safety.transforms import Safety
from pipelines.score.cut import CutConfig
from pipelines.score.transforms import Score
from schemas import CorpusPair, PageText


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    scorer_spec: str
    keep_fraction: float = 0.1
    cut_mode: str = "exact"  # or "approximate" (pipelines/score/cut.py)
    per_language: bool = False
    min_language_share: float = 0.0
    score_kind: str = "auto"  # auto | cosine | sigmoid (pipelines/score/scorer_model.py)
    crawl: CrawlConfig = CrawlConfig()
    images: ImageFetchConfig = ImageFetchConfig()
    ocr: OcrConfig = OcrConfig()
    text_gate: GateConfig = GateConfig()
    langid: LangIdConfig = LangIdConfig()
    near_dedup: NearDedupConfig = NearDedupConfig()
    safety: SafetyConfig = SafetyConfig()
    num_shards: int = 0  # 0 → the runner decides

    def __post_init__(self):
        _ = self.cut  # checks the cut's settings

    @property
    def cut(self) -> CutConfig:
        return CutConfig(self.keep_fraction, self.cut_mode, self.per_language,
                         self.min_language_share)

    def allowing_networks(self, networks: tuple[str, ...] = PRIVATE_NETWORKS) -> "CorpusConfig":
        """The same config with fetching allowed into ``networks`` (loopback, private)."""
        fetch = dataclasses.replace(self.crawl.fetch, allowed_networks=tuple(networks))
        return dataclasses.replace(
            self, crawl=dataclasses.replace(self.crawl, fetch=fetch),
            images=dataclasses.replace(self.images, fetch=fetch))


def build_corpus(p, inputs: CorpusInputs, output: str, config: CorpusConfig):
    """Add the corpus job for ``inputs`` to pipeline ``p``."""
    pages, resources, texts, page_rejects, input_counts = read_pages(p, inputs, config.crawl)
    if texts is not None:  # WET page text, kept for text-only tasks
        texts | "WriteTexts" >> WriteRecords(FileSystems.join(output, "texts"), PageText)
    candidates, extract_rejects, candidate_counts = read_candidates(p, pages, inputs)
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
    safe, safety_rejects, safety_actions = pairs | "Safety" >> Safety(config.safety)
    kept, score_rejects, threshold, cut = safe | "Score" >> Score(
        config.scorer_spec, config.cut, config.score_kind)

    kept | "WriteCorpus" >> WriteRecords(output, CorpusPair, config.num_shards)
    rejects = (page_rejects, extract_rejects, fetch_rejects, dup_rejects, annotate_rejects,
               safety_rejects, score_rejects) | "AllRejects" >> beam.Flatten()
    rejects | "WriteRejects" >> WriteRejects(output)
    counts = (
        *input_counts,
        *candidate_counts,
        count_stage("fetch", candidates, images, fetch_rejects),
        count_stage("dedup", images, unique, dup_rejects),
        count_stage("annotate", unique, pairs, annotate_rejects),
        count_stage("safety", pairs, safe, safety_rejects),
        count_stage("score", safe, kept, score_rejects),
    ) | "AllCounts" >> beam.Flatten()
    not_read = (pairs | "NotRead" >> beam.Filter(lambda pair: not pair.ocr_ran)
                | "CountNotRead" >> beam.combiners.Count.Globally())
    text_sources = (kept | "TextSource" >> beam.Map(lambda pair: pair.text_source)
                    | "CountTextSources" >> beam.combiners.Count.PerElement()
                    | "TextSources" >> beam.combiners.ToDict())
    counts | "Stats" >> WriteStats(output, {"score_threshold": threshold, "score_cut": cut,
                                            "text_sources": text_sources,
                                            "ocr_skipped_by_text_gate": not_read,
                                            "safety_actions": safety_actions})


def run_corpus_job(inputs: CorpusInputs, output: str, config: CorpusConfig,
                   options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Run the corpus job to completion and return its stats; skip a finished folder."""
    return run_to_folder(output, CorpusPair, {"inputs": dataclasses.asdict(inputs),
                                              **dataclasses.asdict(config)},
                         lambda p: build_corpus(p, inputs, output, config), options, force)


__all__ = ["CorpusConfig", "CorpusInputs", "FetchConfig", "build_corpus", "run_corpus_job"]
