"""Record types that cross a stage boundary — the one place the project's terms are defined.

Terms:
- **page**: an HTML document fetched from the web or read from an archive.
- **candidate**: one ``<img>`` on a page with the text around it (alt text, context); not yet fetched.
- **image record**: a candidate whose image was fetched, decoded, validated, resized and hashed.
- **pair** / **annotated pair**: an image record with language ID and OCR results.
- **corpus pair**: an annotated pair with its contrastive score, kept by the top-k% cut.
- **rejection**: a record that a stage did not pass on, with the stage and the reason.
- **labelled image**: an image of an existing dataset (COCO, Open Images) with its captions and
  object boxes, a mixture source beside the corpus.
- **VQA triplet**: an image, a question about it and its answer (VQ²A-style), another source.
- **task example**: one (image, prefix, target) training example of a mixture task.
- **shard**: one file of a stage's output (``part-*.parquet``; a mixture's ``part-*`` in its format).
- **mixture**: a weighted set of tasks turned into shards for the trainer.

Every record is a frozen, slotted, keyword-only dataclass; its Arrow schema is derived from
its fields (``schemas.arrow``), so the Parquet columns are exactly the field names.
"""
from schemas.records import (
    SCHEMA_VERSION,
    AnnotatedPair,
    BoxedObject,
    Candidate,
    CorpusPair,
    ImageRecord,
    LabelledImage,
    OcrLine,
    Page,
    PageText,
    Rejection,
    TaskExample,
    VqaTriplet,
    extend,
    pair_id,
)
from schemas.arrow import arrow_schema, from_row, to_row

__all__ = [
    "SCHEMA_VERSION", "AnnotatedPair", "BoxedObject", "Candidate", "CorpusPair", "ImageRecord", "LabelledImage", "OcrLine", "Page", "PageText",
    "Rejection", "TaskExample", "VqaTriplet", "extend", "pair_id", "arrow_schema", "from_row", "to_row",
]
