"""Beam transform of the fetch stage: candidates → image records (threads within each worker)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import apache_beam as beam

from pipelines.beam_util import REJECTED, par_do_with_rejects, routed
from pipelines.crawl.robots import RobotsCache
from pipelines.fetch.images import ImageFetchConfig, fetch_image, image_from_response
from pipelines.http import Fetcher
from schemas import Rejection


class FetchImagesFn(beam.DoFn):
    """A batch of candidates → ImageRecords, and Rejections tagged REJECTED."""

    def __init__(self, config: ImageFetchConfig):
        self.config = config

    def setup(self):
        self.fetcher = Fetcher(self.config.fetch, pool_size=self.config.threads)
        self.robots = RobotsCache(self.fetcher)
        # Threads only: Pillow releases the GIL while it decodes, resizes and encodes, so one
        # worker process keeps ~1.5 of 2 cores busy; a pool of decode processes beside the
        # threads measured no faster (docs/benchmarks.md) and was removed.
        self.pool = ThreadPoolExecutor(self.config.threads)

    def teardown(self):
        self.pool.shutdown(wait=False)

    def process(self, batch):
        results = self.pool.map(
            lambda c: fetch_image(c, self.fetcher, self.robots, self.config.rules), batch)
        for result in results:
            yield routed(result)


class FetchImages(beam.PTransform):
    """Candidates → (image records, rejections)."""

    def __init__(self, config: ImageFetchConfig = ImageFetchConfig()):
        super().__init__()
        self.config = config

    def expand(self, candidates):
        # Spread the candidates over the workers first: a URL list is read by one worker.
        batches = (candidates | "Spread" >> beam.Reshuffle()
                   | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=512))
        return par_do_with_rejects(batches, "Fetch", FetchImagesFn(self.config))


TO_FETCH = "to_fetch"


class _FromArchiveFn(beam.DoFn):
    """(url, {candidates, responses}) → image records made from the archived response; without
    one, the candidates go on to the network fetch (tagged TO_FETCH) or are rejected."""

    def __init__(self, config: ImageFetchConfig, fetch_missing: bool):
        self.config, self.fetch_missing = config, fetch_missing

    def process(self, item):
        _, group = item
        responses = list(group["responses"])
        for candidate in group["candidates"]:
            if responses:
                result = image_from_response(candidate, responses[0].status, responses[0].headers,
                                             responses[0].body, self.config.rules)
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
