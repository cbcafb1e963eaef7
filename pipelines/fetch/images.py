"""Candidate → ImageRecord: fetch politely, validate, resize, hash. Pure logic (no Beam)."""
from __future__ import annotations

import dataclasses

from pipelines.crawl.robots import RobotsCache
from pipelines.http import FetchConfig, Fetcher, FetchError, Response
from quality_filters.image import ImageRules, process_image
from quality_filters.robots import opts_out_of_ai, tdm_reserved
from quality_filters.safety import DEFAULT_PHASH_DISTANCE, HashList
from schemas import Candidate, ImageRecord, Rejection, extend


@dataclasses.dataclass(frozen=True)
class ImageFetchConfig:
    fetch: FetchConfig = FetchConfig()
    rules: ImageRules = ImageRules()
    threads: int = 16  # concurrent requests per worker
    # Threads per worker that decode, resize and hash (0: one per core the worker may use).
    decode_threads: int = 0
    # Hash-list files (``sha256:``/``md5:``/``phash:`` lines): a served image that matches is
    # rejected as ``blocklisted_hash`` and its bytes go nowhere.
    block_hashes: tuple[str, ...] = ()
    phash_distance: int = DEFAULT_PHASH_DISTANCE


def load_block_hashes(config: ImageFetchConfig) -> HashList:
    from pipelines.http import read_text

    return HashList.from_files(config.block_hashes, config.phash_distance, read=read_text)


def fetch_response(candidate: Candidate, fetcher: Fetcher, robots: RobotsCache,
                   ai_txt: RobotsCache | None = None) -> Response | Rejection:
    """The candidate's image response, if no opt-out list names it, robots.txt allows it and
    the fetch succeeds."""
    entry = fetcher.opted_out(candidate.image_url) or fetcher.opted_out(candidate.page_url)
    if entry:
        return Rejection.of(candidate, "fetch", "opted_out", entry)
    if not robots.allowed(candidate.image_url):
        return Rejection.of(candidate, "fetch", "robots_disallowed")
    if ai_txt is not None and not ai_txt.allowed(candidate.image_url):
        return Rejection.of(candidate, "fetch", "ai_txt_disallowed")
    try:
        return fetcher.get(candidate.image_url)
    except FetchError as e:
        return Rejection.of(candidate, "fetch", e.reason, e.detail)


def image_from_response(candidate: Candidate, status: int, headers: dict[str, str], body: bytes,
                        rules: ImageRules, blocked: HashList = HashList()
                        ) -> ImageRecord | Rejection:
    """A fetched (or archived) HTTP response for a candidate's image → ImageRecord or Rejection.
    An image on the hash list ``blocked`` is rejected with only its URL and the kind of hash
    that matched: the Rejection holds none of its bytes."""
    reject = lambda reason, detail="": Rejection.of(candidate, "fetch", reason, detail)
    if status != 200:
        return reject(f"http_{status}")
    if opts_out_of_ai(headers.get("x-robots-tag", "")):
        return reject("noai", "X-Robots-Tag")
    if tdm_reserved(headers):
        return reject("tdm_reservation", "tdm-reservation: 1")
    matched = blocked.match_bytes(body) if len(blocked) else ""  # exact digests: not decoded
    if matched:
        return reject("blocklisted_hash", matched)
    verdict, image = process_image(body, rules)
    if not verdict.keep:
        return reject(verdict.reason, verdict.detail)
    if blocked.phash and blocked.match(phash=image.phash):
        return reject("blocklisted_hash", "phash")
    return extend(candidate, ImageRecord, image_bytes=image.jpeg, image_format=image.format,
                  width=image.width, height=image.height, sha256=image.sha256, phash=image.phash)
