"""Beam transform of the fetch stage: candidates → image records (threads within each worker)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import apache_beam as beam

from pipelines.beam_util import REJECTED, par_do_with_rejects
from pipelines.crawl.robots import RobotsCache
from pipelines.fetch.images import ImageFetchConfig, fetch_image
from pipelines.http import Fetcher
from schemas import Rejection


class FetchImagesFn(beam.DoFn):
    """A batch of candidates → ImageRecords, and Rejections tagged REJECTED."""

    def __init__(self, config: ImageFetchConfig):
        self.config = config

    def setup(self):
        self.fetcher = Fetcher(self.config.fetch, pool_size=self.config.threads)
        self.robots = RobotsCache(self.fetcher)
        self.pool = ThreadPoolExecutor(self.config.threads)

    def teardown(self):
        self.pool.shutdown(wait=False)

    def process(self, batch):
        results = self.pool.map(
            lambda c: fetch_image(c, self.fetcher, self.robots, self.config.rules), batch)
        for result in results:
            if isinstance(result, Rejection):
                yield beam.pvalue.TaggedOutput(REJECTED, result)
            else:
                yield result


class FetchImages(beam.PTransform):
    """Candidates → (image records, rejections)."""

    def __init__(self, config: ImageFetchConfig = ImageFetchConfig()):
        super().__init__()
        self.config = config

    def expand(self, candidates):
        batches = candidates | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=64)
        return par_do_with_rejects(batches, "Fetch", FetchImagesFn(self.config))
