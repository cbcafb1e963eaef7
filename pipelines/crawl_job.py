"""The crawl job (``openwebli crawl``): seed URLs, web archives and URL lists → candidates.

The corpus job's inputs and extraction on their own, so that crawling and fetching can run as
separate steps (``openwebli crawl``, then ``openwebli fetch --candidates``). The folder holds

- ``part-*.parquet``: Candidates still to fetch (their image is not in an archive read);
- ``archived/part-*.parquet``: ImageRecords of the candidates whose image response is in an
  archive read, decoded and validated by the fetch stage's rules, with no network;
- ``texts/`` (WET page texts), ``rejects/``, ``stats.json``, ``info.json`` and ``COMPLETED``.

Its ``stats.json`` has an ``in_archive`` stage: every candidate is taken from an archive,
passed on to fetch, or rejected (an archived image that fails the image rules, or
``not_in_archive`` with ``fetch_missing`` off); those rejections carry stage "fetch", as in the
corpus job, since they are the fetch stage's verdicts.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.corpus_io import (WriteRecords, WriteRejects, is_completed, read_json,
                                 run_to_folder)
from pipelines.crawl.transforms import (CrawlConfig, CrawlPages, ExtractCandidates, ReadArchives,
                                       ReadUrlLists, match_files)
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import TakeArchivedImages
from schemas import Candidate, ImageRecord, PageText

ARCHIVED = "archived"  # the subfolder of the images taken from the archives


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
        if not (self.fetch_missing or self.archives):
            raise ValueError("--no-fetch keeps only the images stored in archives: give the "
                             "archives (--input)")


@dataclasses.dataclass(frozen=True)
class CrawlJobConfig:
    crawl: CrawlConfig = CrawlConfig()
    images: ImageFetchConfig = ImageFetchConfig()  # rules for the images taken from archives


def read_pages(p, inputs: CorpusInputs, crawl: CrawlConfig):
    """→ (pages, archived resources or None, WET page texts or None, rejections, count rows)
    from every input kind."""
    pages, rejects, counts, resources, texts = [], [], [], None, None
    if not (inputs.seeds or inputs.archives):
        return (p | "NoPages" >> beam.Create([]), None, None,
                p | "NoPageRejects" >> beam.Create([]), [])
    if inputs.seeds:
        crawled, crawl_rejects, urls = (p | "Seeds" >> beam.Create(inputs.seeds)
                                        | "Crawl" >> CrawlPages(crawl))
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


def read_url_lists(p, patterns: tuple[str, ...]):
    """URL-list file patterns → (candidates, rejections, the ``urllist`` stage's count rows)."""
    listed, rejects, rows = (p | "UrlLists" >> beam.Create(patterns)
                             | "ReadLists" >> ReadUrlLists())
    return listed, rejects, count_stage("urllist", rows, listed, rejects, seen_is_count=True)


def read_candidates(p, pages, inputs: CorpusInputs):
    """→ (candidates from pages and URL lists, rejections, count rows)."""
    from_pages, extract_rejects, images_seen = pages | "Extract" >> ExtractCandidates()
    counts = [count_stage("extract", images_seen, from_pages, extract_rejects, seen_is_count=True)]
    if not inputs.url_lists:
        return from_pages, extract_rejects, counts
    listed, list_rejects, list_counts = read_url_lists(p, inputs.url_lists)
    return ((from_pages, listed) | "AllCandidates" >> beam.Flatten(),
            (extract_rejects, list_rejects) | "CandidateRejects" >> beam.Flatten(),
            [list_counts, *counts])


def build_crawl(p, inputs: CorpusInputs, output: str, config: CrawlJobConfig) -> None:
    """Add the crawl job for ``inputs`` to pipeline ``p``."""
    pages, resources, texts, page_rejects, input_counts = read_pages(p, inputs, config.crawl)
    if texts is not None:  # WET page text, kept for text-only tasks
        texts | "WriteTexts" >> WriteRecords(FileSystems.join(output, "texts"), PageText)
    candidates, extract_rejects, candidate_counts = read_candidates(p, pages, inputs)
    if resources is None:  # no archives: every candidate is to fetch (no join, no shuffle)
        archived, to_fetch = p | "NoArchived" >> beam.Create([]), candidates
        archive_rejects = p | "NoArchiveRejects" >> beam.Create([])
    else:
        take = TakeArchivedImages(config.images, inputs.fetch_missing)
        archived, to_fetch, archive_rejects = (candidates, resources) | "TakeArchived" >> take
    to_fetch | "WriteCandidates" >> WriteRecords(output, Candidate)
    archived | "WriteArchived" >> WriteRecords(FileSystems.join(output, ARCHIVED), ImageRecord)
    rejects = (page_rejects, extract_rejects, archive_rejects) | "AllRejects" >> beam.Flatten()
    rejects | "WriteRejects" >> WriteRejects(output)
    passed_on = (archived, to_fetch) | "PassedOn" >> beam.Flatten()
    counts = (*input_counts, *candidate_counts,
              count_stage("in_archive", candidates, passed_on, archive_rejects),
              ) | "AllCounts" >> beam.Flatten()
    counts | "Stats" >> WriteStats(output, {
        "archived_images": archived | "CountArchived" >> beam.combiners.Count.Globally(),
        "candidates_to_fetch": to_fetch | "CountToFetch" >> beam.combiners.Count.Globally()})


def run_crawl_job(inputs: CorpusInputs, output: str, config: CrawlJobConfig = CrawlJobConfig(),
                  options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Run the crawl job to completion and return its stats; skip a finished folder."""
    for pattern in (*inputs.archives, *inputs.url_lists):  # a plain error before workers start
        match_files(pattern)
    return run_to_folder(output, Candidate, {"inputs": dataclasses.asdict(inputs),
                                             **dataclasses.asdict(config)},
                         lambda p: build_crawl(p, inputs, output, config), options, force)


def check_crawl_folder(folder: str) -> None:
    """Raise a plain error unless ``folder`` is a finished ``openwebli crawl`` folder."""
    # Checked by hand on the driver: the fetch job reads a folder through wildcard patterns,
    # which would read a missing folder as no records and an unfinished one as partial output.
    if not is_completed(folder):
        state = "is not finished (no COMPLETED marker)" if FileSystems.exists(folder) else (
            "does not exist")
        raise FileNotFoundError(f"candidates folder {folder} {state}; run `openwebli crawl "
                                f"--output {folder}` to the end first")
    record = read_json(folder, "info.json").get("record")
    if record != Candidate.__name__:
        raise ValueError(f"{folder} holds {record} records, not the Candidates that "
                         f"`openwebli crawl` writes")


__all__ = ["ARCHIVED", "CorpusInputs", "CrawlJobConfig", "build_crawl", "check_crawl_folder",
           "read_candidates", "read_pages", "read_url_lists", "run_crawl_job"]
