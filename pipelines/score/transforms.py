"""Beam transform of the score stage: contrastive score per pair, then the top-k% cut."""
from __future__ import annotations

import io

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, RunInference
from PIL import Image

from pipelines.beam_util import dead_letters_to_rejections
from pipelines.score.cut import ALL, CutConfig, TopFraction
from schemas import AnnotatedPair, CorpusPair, extend


class ScoreHandler(ModelHandler):
    """AnnotatedPair → CorpusPair with the score of its image and alt text (the sigmoid logit
    of a SigLIP model, the cosine of a CLIP one: ``pipelines/score/scorer_model.py``)."""

    def __init__(self, scorer_spec: str, max_batch_size: int = 64, kind: str = "auto"):
        super().__init__()
        self.scorer_spec = scorer_spec
        self.max_batch_size = max_batch_size
        self.kind = kind

    def load_model(self):
        from pipelines.score.scorer_model import load_scorer

        return load_scorer(self.scorer_spec, kind=self.kind)

    def run_inference(self, batch: list[AnnotatedPair], model, inference_args=None):
        images = [Image.open(io.BytesIO(p.image_bytes)).convert("RGB") for p in batch]
        scores = model.score(images, [p.alt_text for p in batch])
        return [extend(p, CorpusPair, score=float(s)) for p, s in zip(batch, scores)]

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self.max_batch_size}


def _by_language(pcoll, label: str):
    return (pcoll | f"{label}Lang" >> beam.Map(lambda p: p.lang)
            | f"{label}Count" >> beam.combiners.Count.PerElement()
            | f"{label}Dict" >> beam.combiners.ToDict())


def _with_counts(report: dict, seen: dict, kept: dict) -> dict:
    return {**report, "seen_per_language": dict(sorted(seen.items())),
            "kept_per_language": {lang: kept.get(lang, 0) for lang in sorted(seen)}}


class Score(beam.PTransform):
    """Annotated pairs → (kept corpus pairs, rejections of stage "score", the global
    threshold (NaN with per-language cuts), the cut's report with seen and kept pairs per
    language)."""

    def __init__(self, scorer_spec: str, cut: CutConfig = CutConfig(), kind: str = "auto"):
        super().__init__()
        self.scorer_spec, self.cut, self.kind = scorer_spec, cut, kind

    def expand(self, pairs):
        scored, dlq = pairs | "Embed" >> RunInference(
            ScoreHandler(self.scorer_spec, kind=self.kind)).with_exception_handling()
        kept, below, report = scored | "TopFraction" >> TopFraction(self.cut)
        report = report | "PerLanguage" >> beam.Map(
            _with_counts, beam.pvalue.AsSingleton(_by_language(scored, "Seen")),
            beam.pvalue.AsSingleton(_by_language(kept, "Kept")))
        threshold = report | "Threshold" >> beam.Map(
            lambda r: r["thresholds"].get(ALL, float("nan")))
        failed = dead_letters_to_rejections(dlq, "ScoreBatchFailed", "score", "score_batch_error")
        rejects = (below, failed) | "ScoreRejects" >> beam.Flatten()
        return kept, rejects, threshold, report
