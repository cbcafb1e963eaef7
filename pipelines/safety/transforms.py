"""Beam transform of the safety stage: annotated pairs → (kept pairs, rejections, counts)."""
from __future__ import annotations

import io

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, RunInference
from PIL import Image

from pipelines.beam_util import REJECTED, dead_letters_to_rejections, routed
from pipelines.safety.checks import STAGE, Lists, SafetyConfig, check_pair
from pipelines.safety.nsfw import NsfwConfig, load_classifier
from schemas import Rejection

ACTIONS = "actions"  # the tag of the (what was done, n) counts


class SafetyFn(beam.DoFn):
    """AnnotatedPair → the pair as kept, or a Rejection tagged REJECTED; what was done to it
    (redactions per kind, faces blurred) tagged ACTIONS as (name, n)."""

    def __init__(self, config: SafetyConfig):
        self.config = config

    def setup(self):
        self.lists = Lists.load(self.config)

    def process(self, pair):
        try:
            result, counts = check_pair(pair, self.lists, self.config)
        except ValueError as e:  # an image the face detector cannot decode
            result, counts = Rejection.of(pair, STAGE, "undecodable", str(e)), {}
        for name, n in counts.items():
            yield beam.pvalue.TaggedOutput(ACTIONS, (name, n))
        yield routed(result)


class NsfwHandler(ModelHandler):
    """Pairs → (pair, unsafe probability) from the configured classifier, one per worker."""

    def __init__(self, config: NsfwConfig, max_batch_size: int = 32):
        super().__init__()
        self.config, self.max_batch_size = config, max_batch_size

    def load_model(self):
        return load_classifier(self.config)

    def run_inference(self, batch, model, inference_args=None):
        images = [Image.open(io.BytesIO(p.image_bytes)) for p in batch]
        return list(zip(batch, (float(x) for x in model(images))))

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self.max_batch_size}


def _nsfw_verdict(scored, threshold: float):
    pair, unsafe = scored
    return routed(Rejection.of(pair, STAGE, "nsfw_image", f"{unsafe:.3f}")
                  if unsafe >= threshold else pair)


class Safety(beam.PTransform):
    """Annotated pairs → (kept pairs, rejections of stage "safety", a one-element PCollection
    of {what was done: n}, e.g. {"pii_email": 3, "faces_blurred": 2})."""

    def __init__(self, config: SafetyConfig = SafetyConfig()):
        super().__init__()
        self.config = config

    def expand(self, pairs):
        out = pairs | "Check" >> beam.ParDo(SafetyFn(self.config)).with_outputs(
            REJECTED, ACTIONS, main="kept")
        actions = (out[ACTIONS] | "SumActions" >> beam.CombinePerKey(sum)
                   | "ActionsDict" >> beam.combiners.ToDict()
                   | "Sorted" >> beam.Map(lambda d: dict(sorted(d.items()))))
        if not self.config.nsfw.model:
            return out.kept, out[REJECTED], actions
        nsfw = self.config.nsfw
        scored, dlq = out.kept | "Nsfw" >> RunInference(
            NsfwHandler(nsfw)).with_exception_handling()
        judged = scored | "NsfwVerdict" >> beam.Map(_nsfw_verdict, nsfw.threshold).with_outputs(
            REJECTED, main="kept")
        failed = dead_letters_to_rejections(dlq, "NsfwFailed", STAGE, "nsfw_batch_error")
        rejects = (out[REJECTED], judged[REJECTED], failed) | "SafetyRejects" >> beam.Flatten()
        return judged.kept, rejects, actions
