"""Candidate → ImageRecord: fetch politely, validate, resize, hash. Pure logic (no Beam)."""
from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

from pipelines.crawl.robots import RobotsCache
from pipelines.http import FetchConfig, Fetcher, FetchError
from quality_filters.image import ImageRules, process_image
from quality_filters.robots import opts_out_of_ai
from schemas import Candidate, ImageRecord, Rejection, extend


@dataclasses.dataclass(frozen=True)
class ImageFetchConfig:
    fetch: FetchConfig = FetchConfig()
    rules: ImageRules = ImageRules()
    threads: int = 16  # concurrent requests per worker
    # Processes per worker that decode, check, resize and hash (CPU-bound) while the threads
    # wait on the network; 0 → in the fetch threads. Worth it where one worker process has
    # several cores to itself (the local DirectRunner's default in-memory mode); runners that
    # start one worker per core need none.
    decode_processes: int = 0


Process = Callable[[bytes, ImageRules], tuple]


class DecodePool:
    """``process_image`` run in worker processes; called like it, from any thread."""

    def __init__(self, processes: int):
        # spawn, not fork: the caller runs gRPC and fetch threads, which fork does not copy safely
        self.pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    def __call__(self, data: bytes, rules: ImageRules):
        return self.pool.submit(process_image, data, rules).result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def fetch_image(candidate: Candidate, fetcher: Fetcher, robots: RobotsCache,
                rules: ImageRules, process: Process = process_image) -> ImageRecord | Rejection:
    """Fetch and validate one candidate's image; every failure is a Rejection with a reason."""
    if not robots.allowed(candidate.image_url):
        return Rejection.of(candidate, "fetch", "robots_disallowed")
    try:
        resp = fetcher.get(candidate.image_url)
    except FetchError as e:
        return Rejection.of(candidate, "fetch", e.reason, e.detail)
    return image_from_response(candidate, resp.status, resp.headers, resp.body, rules, process)


def image_from_response(candidate: Candidate, status: int, headers: dict[str, str], body: bytes,
                        rules: ImageRules, process: Process = process_image
                        ) -> ImageRecord | Rejection:
    """A fetched (or archived) HTTP response for a candidate's image → ImageRecord or Rejection."""
    reject = lambda reason, detail="": Rejection.of(candidate, "fetch", reason, detail)
    if status != 200:
        return reject(f"http_{status}")
    if opts_out_of_ai(headers.get("x-robots-tag", "")):
        return reject("noai", "X-Robots-Tag")
    verdict, image = process(body, rules)
    if not verdict.keep:
        return reject(verdict.reason, verdict.detail)
    return extend(candidate, ImageRecord, image_bytes=image.jpeg, image_format=image.format,
                  width=image.width, height=image.height, sha256=image.sha256, phash=image.phash)
