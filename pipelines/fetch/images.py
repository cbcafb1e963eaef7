"""Candidate → ImageRecord: fetch politely, validate, resize, hash. Pure logic (no Beam)."""
from __future__ import annotations

import dataclasses

from pipelines.crawl.robots import RobotsCache
from pipelines.http import FetchConfig, Fetcher, FetchError, Response
from quality_filters.image import ImageRules, process_image
from quality_filters.robots import opts_out_of_ai
from schemas import Candidate, ImageRecord, Rejection, extend


@dataclasses.dataclass(frozen=True)
class ImageFetchConfig:
    fetch: FetchConfig = FetchConfig()
    rules: ImageRules = ImageRules()
    threads: int = 16  # concurrent requests per worker
    # Threads per worker that decode, resize and hash (0: one per core the worker may use).
    decode_threads: int = 0


def fetch_response(candidate: Candidate, fetcher: Fetcher, robots: RobotsCache
                   ) -> Response | Rejection:
    """The candidate's image response, if robots.txt allows it and the fetch succeeds."""
    if not robots.allowed(candidate.image_url):
        return Rejection.of(candidate, "fetch", "robots_disallowed")
    try:
        return fetcher.get(candidate.image_url)
    except FetchError as e:
        return Rejection.of(candidate, "fetch", e.reason, e.detail)


def image_from_response(candidate: Candidate, status: int, headers: dict[str, str], body: bytes,
                        rules: ImageRules) -> ImageRecord | Rejection:
    """A fetched (or archived) HTTP response for a candidate's image → ImageRecord or Rejection."""
    reject = lambda reason, detail="": Rejection.of(candidate, "fetch", reason, detail)
    if status != 200:
        return reject(f"http_{status}")
    if opts_out_of_ai(headers.get("x-robots-tag", "")):
        return reject("noai", "X-Robots-Tag")
    verdict, image = process_image(body, rules)
    if not verdict.keep:
        return reject(verdict.reason, verdict.detail)
    return extend(candidate, ImageRecord, image_bytes=image.jpeg, image_format=image.format,
                  width=image.width, height=image.height, sha256=image.sha256, phash=image.phash)
