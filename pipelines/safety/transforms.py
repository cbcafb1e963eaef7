"""Beam transform of the safety stage: annotated pairs → (kept pairs, rejections, counts)."""
from __future__ import annotations

import apache_beam as beam

from pipelines.beam_util import REJECTED
from pipelines.safety.checks import STAGE, Lists, SafetyConfig, check_pair
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
        yield beam.pvalue.TaggedOutput(REJECTED, result) if isinstance(result, Rejection) else result


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
        return out.kept, out[REJECTED], actions
