"""Beam transform of the score stage: contrastive score per pair, then the global top-k% cut."""
from __future__ import annotations

import io

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, RunInference
from PIL import Image

from pipelines.beam_util import dead_letters_to_rejections
from pipelines.score.cut import TopFraction
from schemas import AnnotatedPair, CorpusPair, extend


class ScoreHandler(ModelHandler):
    """AnnotatedPair → CorpusPair with the cosine similarity of its image and alt text."""

    def __init__(self, scorer_spec: str, max_batch_size: int = 64):
        super().__init__()
        self.scorer_spec = scorer_spec
        self.max_batch_size = max_batch_size

    def load_model(self):
        from pipelines.score.scorer_model import load_scorer

        return load_scorer(self.scorer_spec)

    def run_inference(self, batch: list[AnnotatedPair], model, inference_args=None):
        images = [Image.open(io.BytesIO(p.image_bytes)).convert("RGB") for p in batch]
        scores = model.score(images, [p.alt_text for p in batch])
        return [extend(p, CorpusPair, score=float(s)) for p, s in zip(batch, scores)]

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self.max_batch_size}


class Score(beam.PTransform):
    """Annotated pairs → (kept corpus pairs, rejections of stage "score", threshold)."""

    def __init__(self, scorer_spec: str, keep_fraction: float = 0.1):
        super().__init__()
        self.scorer_spec = scorer_spec
        self.keep_fraction = keep_fraction

    def expand(self, pairs):
        scored, dlq = pairs | "Embed" >> RunInference(
            ScoreHandler(self.scorer_spec)).with_exception_handling()
        kept, below, threshold = scored | "TopFraction" >> TopFraction(self.keep_fraction)
        failed = dead_letters_to_rejections(dlq, "ScoreBatchFailed", "score", "score_batch_error")
        rejects = (below, failed) | "ScoreRejects" >> beam.Flatten()
        return kept, rejects, threshold
