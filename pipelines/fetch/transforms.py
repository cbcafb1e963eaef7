"""Beam transform of the fetch stage: candidates → image records (threads within each worker)."""
from __future__ import annotations

import gc
import queue
from concurrent.futures import ThreadPoolExecutor

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from pipelines.beam_util import REJECTED, par_do_with_rejects, routed, usable_cores
from pipelines.crawl.robots import RobotsCache
from pipelines.fetch.images import (ImageFetchConfig, fetch_response, image_from_response,
                                    load_block_hashes)
from pipelines.http import Fetcher, load_opt_out
from schemas import Rejection


class FetchImagesFn(beam.DoFn):
    """Candidates → ImageRecords, and Rejections tagged REJECTED, ``threads`` at a time.

    Each candidate is handed to a pool of request threads as it arrives and its result is
    emitted as soon as it is ready; at most ``2 * threads`` are in flight, and finish_bundle
    waits for the rest. (Batches fetched with ``pool.map`` instead wait for their slowest image
    before the next batch starts: with BatchElements' small first batches that left one of two
    workers idle for the last ~2 s of the benchmark.)

    A request thread hands the body it read to a small pool of decode threads (one per core by
    default) and waits for the record: many threads are needed to wait on slow servers, but
    many threads decoding at once fight over the GIL and the caches. In one process on two
    cores, 32 request threads + 2 decode threads fetched and decoded 10–17% faster than 32
    threads that each decode their own image, with a fifth of the context switches; in the
    fetch benchmark's Beam job (6 interleaved rounds) the steady rate rose 6% (median) and
    the kernel's CPU time fell 25%.
    """

    def __init__(self, config: ImageFetchConfig):
        self.config = config

    def setup(self):
        self.fetcher = Fetcher(self.config.fetch, pool_size=self.config.threads)
        self.robots = RobotsCache(self.fetcher)
        self.ai_txt = RobotsCache(self.fetcher, path="/ai.txt") if self.config.fetch.ai_txt else None
        self.blocked = load_block_hashes(self.config)
        # Threads only: OpenCV, imagecodecs and Pillow release the GIL while they decode,
        # resize and encode; a pool of decode processes beside the threads measured no faster
        # than a worker process per core (docs/benchmarks.md) and was removed.
        self.pool = ThreadPoolExecutor(self.config.threads)
        self.decoders = ThreadPoolExecutor(self.config.decode_threads or usable_cores())
        # The worker's modules and pipeline are long-lived: move them out of the cyclic
        # collector's sight, so that its full collections scan only what fetching creates
        # (they took ~5% of a worker's CPU in the fetch benchmark).
        gc.freeze()

    def start_bundle(self):
        self.done = queue.SimpleQueue()  # (result, timestamp, window) of finished fetches
        self.in_flight = 0

    def teardown(self):
        self.pool.shutdown(wait=False)
        self.decoders.shutdown(wait=False)

    def process(self, candidate, timestamp=beam.DoFn.TimestampParam,
                window=beam.DoFn.WindowParam):
        self.pool.submit(self._fetch, candidate, timestamp, window)
        self.in_flight += 1
        yield from self._finished(block_above=2 * self.config.threads)

    def finish_bundle(self):
        yield from self._finished(block_above=0)

    def _fetch(self, candidate, timestamp, window):
        try:
            result = fetch_response(candidate, self.fetcher, self.robots, self.ai_txt)
            if not isinstance(result, Rejection):
                result = self.decoders.submit(
                    image_from_response, candidate, result.status, result.headers, result.body,
                    self.config.rules, self.blocked).result()
        except Exception as e:  # a bug, not bad input: fail the bundle (the runner retries)
            result = e
        self.done.put((result, timestamp, window))

    def _finished(self, block_above: int):
        """Emit every finished result, waiting while more than ``block_above`` are in flight."""
        while self.in_flight:
            try:
                result, timestamp, window = self.done.get(block=self.in_flight > block_above)
            except queue.Empty:
                return
            self.in_flight -= 1
            if isinstance(result, Exception):
                raise result
            value = WindowedValue(result, timestamp, [window])
            rejected = isinstance(result, Rejection)
            yield beam.pvalue.TaggedOutput(REJECTED, value) if rejected else value


class FetchImages(beam.PTransform):
    """Candidates → (image records, rejections)."""

    def __init__(self, config: ImageFetchConfig = ImageFetchConfig()):
        super().__init__()
        self.config = config

    def expand(self, candidates):
        # Spread the candidates over the workers first: a URL list is read by one worker.
        spread = candidates | "Spread" >> beam.Reshuffle()
        return par_do_with_rejects(spread, "Fetch", FetchImagesFn(self.config))


TO_FETCH = "to_fetch"


class _FromArchiveFn(beam.DoFn):
    """(url, {candidates, responses}) → image records made from the archived response; without
    one, the candidates go on to the network fetch (tagged TO_FETCH) or are rejected."""

    def __init__(self, config: ImageFetchConfig, fetch_missing: bool):
        self.config, self.fetch_missing = config, fetch_missing

    def setup(self):
        self.blocked = load_block_hashes(self.config)
        self.opt_out = load_opt_out(self.config.fetch.opt_out)

    def process(self, item):
        _, group = item
        responses = list(group["responses"])
        for candidate in group["candidates"]:
            entry = self.opt_out.match(candidate.image_url) or self.opt_out.match(
                candidate.page_url)
            if entry:  # an archived copy is not a request, but its owner opted out all the same
                result = Rejection.of(candidate, "fetch", "opted_out", entry)
            elif responses:
                result = image_from_response(candidate, responses[0].status, responses[0].headers,
                                             responses[0].body, self.config.rules, self.blocked)
            elif self.fetch_missing:
                yield beam.pvalue.TaggedOutput(TO_FETCH, candidate)
                continue
            else:
                result = Rejection.of(candidate, "fetch", "not_in_archive")
            yield routed(result)


class TakeArchivedImages(beam.PTransform):
    """Candidates + archived responses (url, ArchivedResponse) → (image records made from the
    archive, candidates still to fetch, rejections), with no network.

    A candidate whose image response is in an archive is decoded and validated from there by the
    fetch stage's rules; the others are passed on to fetch (``fetch_missing``) or rejected as
    ``not_in_archive``."""

    def __init__(self, config: ImageFetchConfig, fetch_missing: bool = True):
        super().__init__()
        self.config, self.fetch_missing = config, fetch_missing

    def expand(self, inputs):
        candidates, resources = inputs
        joined = ({"candidates": candidates | "ByImageUrl" >> beam.Map(lambda c: (c.image_url, c)),
                   "responses": resources} | "JoinArchive" >> beam.CoGroupByKey())
        out = joined | "FromArchive" >> beam.ParDo(
            _FromArchiveFn(self.config, self.fetch_missing)).with_outputs(
                REJECTED, TO_FETCH, main="kept")
        return out.kept, out[TO_FETCH], out[REJECTED]


class ResolveImages(beam.PTransform):
    """Candidates + archived responses (url, ArchivedResponse) → (image records, rejections).

    An image whose response is in an archive is taken from there, with no network
    (TakeArchivedImages); the others are fetched (``fetch_missing``) or rejected as
    ``not_in_archive``."""

    def __init__(self, config: ImageFetchConfig, fetch_missing: bool = True):
        super().__init__()
        self.config, self.fetch_missing = config, fetch_missing

    def expand(self, inputs):
        archived, to_fetch, archive_rejects = inputs | "TakeArchived" >> TakeArchivedImages(
            self.config, self.fetch_missing)
        fetched, fetch_rejects = to_fetch | "Network" >> FetchImages(self.config)
        images = (archived, fetched) | "AllImages" >> beam.Flatten()
        rejects = (archive_rejects, fetch_rejects) | "AllFetchRejects" >> beam.Flatten()
        return images, rejects
