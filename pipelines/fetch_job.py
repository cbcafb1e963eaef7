"""The fetch job (``openwebli fetch``): URL lists and crawl folders → validated, resized, hashed
image records.

The same fetch stage the corpus job runs, on its own: img2dataset's job, done politely
(robots.txt, ``X-Robots-Tag``, per-host pacing, SSRF guard) and with every URL accounted for.
Its candidates come from URL lists and/or the folders ``openwebli crawl`` wrote; the images
such a folder already took from its archives (``archived/``) go straight into the output, so
crawl → fetch gives the images the corpus job's fetch stage gives.
The folder holds ``part-*.parquet`` ImageRecords, ``rejects/``, ``stats.json`` and ``info.json``.
"""
from __future__ import annotations

import dataclasses
import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.corpus_io import (WriteRecords, WriteRejects, check_not_inside,
                                 read_parquet_records, run_to_folder)
from pipelines.crawl.transforms import match_files
from pipelines.crawl_job import ARCHIVED, check_crawl_folder, read_url_lists
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import FetchImages
from schemas import Candidate, ImageRecord


def _inputs(p, url_lists: tuple[str, ...], candidate_folders: tuple[str, ...]):
    """→ (candidates to fetch, archived images to pass on or None, rejections, count rows)."""
    candidates, rejects, counts, archived = [], [], [], None
    if url_lists:
        listed, list_rejects, list_counts = read_url_lists(p, url_lists)
        candidates.append(listed)
        rejects.append(list_rejects)
        counts.append(list_counts)
    if candidate_folders:
        candidates.append(read_parquet_records(
            p, "Candidates", [FileSystems.join(f, "part-*.parquet") for f in candidate_folders],
            Candidate))
        archived = read_parquet_records(
            p, "Archived", [FileSystems.join(f, ARCHIVED, "part-*.parquet")
                            for f in candidate_folders], ImageRecord)
        # Passed on as they are: nothing is rejected, the row says how many there were.
        counts.append(count_stage("archived", archived, archived,
                                  p | "NoArchivedRejects" >> beam.Create([])))
    return (candidates | "AllCandidates" >> beam.Flatten(), archived,
            rejects | "ListRejects" >> beam.Flatten(pipeline=p), counts)


def build_fetch(p, url_lists: tuple[str, ...], output: str, config: ImageFetchConfig,
                candidate_folders: tuple[str, ...] = ()) -> None:
    """Add the fetch job for the URL-list patterns ``url_lists`` and the finished crawl folders
    ``candidate_folders`` to pipeline ``p``."""
    candidates, archived, list_rejects, counts = _inputs(p, url_lists, candidate_folders)
    fetched, fetch_rejects = candidates | "FetchImages" >> FetchImages(config)
    images = fetched if archived is None else (fetched, archived) | "AllImages" >> beam.Flatten()
    images | "WriteImages" >> WriteRecords(output, ImageRecord)
    (list_rejects, fetch_rejects) | "AllRejects" >> beam.Flatten() | WriteRejects(output)
    counts = (*counts, count_stage("fetch", candidates, fetched, fetch_rejects)) | beam.Flatten()
    counts | "Stats" >> WriteStats(output)


def run_fetch_job(url_lists: tuple[str, ...], output: str, config: ImageFetchConfig,
                  options: PipelineOptions | None = None, force: bool = False,
                  candidate_folders: tuple[str, ...] = ()) -> dict:
    """Run the fetch job to completion and return its stats; skip a finished folder."""
    if not (url_lists or candidate_folders):
        raise ValueError("give URL lists (--url-list) or crawl folders (--candidates)")
    for pattern in url_lists:  # fail fast, with a plain error, before any worker starts
        match_files(pattern)
    for folder in candidate_folders:
        check_crawl_folder(folder)
    check_not_inside(output, candidate_folders)
    config_record = {"url_lists": list(url_lists), "candidate_folders": list(candidate_folders),
                     "images": dataclasses.asdict(config)}
    return run_to_folder(
        output, ImageRecord, config_record,
        lambda p: build_fetch(p, tuple(url_lists), output, config, tuple(candidate_folders)),
        options, force)
