"""The PaLI mixture's tasks (one module per family) and the registered mixtures.

Importing this package registers every task in ``TASKS`` and the mixtures in ``MIXTURES``.
"""
from pipelines.mixture.tasks.core import (
    EXAMPLE_FEATURES, MIXTURES, SOURCE_KINDS, TASKS, Context, Mixture, NotApplicable, Task,
    task, task_rng,
)
from pipelines.mixture.tasks import captions, objects, ocr, text, vqa  # noqa: F401  (register)
from pipelines.mixture.tasks.objects import LOC_BINS, box_tokens, loc_token

# What a corpus folder gives on its own (``openwebli mixture --corpus`` without a spec).
MIXTURES.add("default", Mixture("default", (
    ("captioning", 1.0), ("split_captioning", 1.0), ("ocr", 1.0), ("span_corruption", 0.5))))
# All eight PaLI tasks; the image-dataset tasks need their sources in the spec.
MIXTURES.add("pali", Mixture("pali", (
    ("span_corruption", 1.0), ("split_captioning", 1.0), ("captioning", 2.0), ("ocr", 1.0),
    ("vqa", 1.0), ("vqg", 0.5), ("object_aware_vqa", 0.5), ("detection", 0.5))))

__all__ = ["EXAMPLE_FEATURES", "MIXTURES", "SOURCE_KINDS", "TASKS", "Context", "Mixture",
           "NotApplicable", "Task", "task", "task_rng", "LOC_BINS", "box_tokens", "loc_token"]
