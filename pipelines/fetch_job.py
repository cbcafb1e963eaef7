"""The fetch job (``openwebli fetch``): URL lists → validated, resized, hashed image records.

The same fetch stage the corpus job runs, on its own: img2dataset's job, done politely
(robots.txt, ``X-Robots-Tag``, per-host pacing, SSRF guard) and with every URL accounted for.
The folder holds ``part-*.parquet`` ImageRecords, ``rejects/``, ``stats.json`` and ``info.json``.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.corpus_io import WriteRecords, WriteRejects, run_to_folder
from pipelines.crawl.transforms import ReadUrlLists, match_files
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import FetchImages
from schemas import ImageRecord


def build_fetch(p, url_lists: tuple[str, ...], output: str, config: ImageFetchConfig) -> None:
    """Add the fetch job for the URL-list patterns ``url_lists`` to pipeline ``p``."""
    candidates, list_rejects, rows = (p | "UrlLists" >> beam.Create(url_lists)
                                      | "ReadLists" >> ReadUrlLists())
    images, fetch_rejects = candidates | "FetchImages" >> FetchImages(config)
    images | "WriteImages" >> WriteRecords(output, ImageRecord)
    (list_rejects, fetch_rejects) | "AllRejects" >> beam.Flatten() | WriteRejects(output)
    counts = (count_stage("urllist", rows, candidates, list_rejects, seen_is_count=True),
              count_stage("fetch", candidates, images, fetch_rejects)) | beam.Flatten()
    counts | "Stats" >> WriteStats(output)


def run_fetch_job(url_lists: tuple[str, ...], output: str, config: ImageFetchConfig,
                  options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Run the fetch job to completion and return its stats; skip a finished folder."""
    if not url_lists:
        raise ValueError("give at least one URL list (--url-list)")
    for pattern in url_lists:  # fail fast, with a plain error, before any worker starts
        match_files(pattern)
    return run_to_folder(
        output, ImageRecord, {"url_lists": list(url_lists), "images": dataclasses.asdict(config)},
        lambda p: build_fetch(p, tuple(url_lists), output, config), options, force)
