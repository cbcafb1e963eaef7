"""The typed records of the corpus job and the mixture (see ``schemas/__init__.py`` for terms)."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import operator

SCHEMA_VERSION = "1"

_RECORD = dict(frozen=True, slots=True, kw_only=True)


def pair_id(page_url: str, image_url: str) -> str:
    """Stable id of an (page, image) pair: the first 16 hex digits of sha1(page_url \\n image_url)."""
    return hashlib.sha1(f"{page_url}\n{image_url}".encode("utf-8")).hexdigest()[:16]


@functools.cache
def _fields_of(cls) -> tuple[tuple[str, ...], operator.attrgetter]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    if len(names) == 1:  # attrgetter of one name returns the value, not a 1-tuple
        return names, lambda record: (getattr(record, names[0]),)
    return names, operator.attrgetter(*names)


def extend(record, cls, **fields):
    """A ``cls`` record (a subclass of ``type(record)``) made of ``record`` plus new ``fields``.

    Runs once per record in most stages: the field names and their getter are cached."""
    names, values = _fields_of(type(record))
    return cls(**dict(zip(names, values(record))), **fields)


@dataclasses.dataclass(**_RECORD)
class Page:
    """An HTML page as fetched: final URL, crawl depth, decoded text and its X-Robots-Tag.

    ``kind`` "wat": ``html`` holds a Common Crawl WAT metadata record (JSON) describing the page
    (title, meta tags, links with image ``src`` and ``alt``) instead of the HTML itself."""

    url: str
    depth: int
    html: str
    x_robots_tag: str = ""
    kind: str = "html"


@dataclasses.dataclass(**_RECORD)
class PageText:
    """A page's plain text from a WET conversion record, kept for text-only tasks."""

    url: str
    text: str


@dataclasses.dataclass(**_RECORD)
class Candidate:
    """An ``<img>`` found on a page, with the text that may describe it."""

    pair_id: str
    page_url: str
    image_url: str
    alt_text: str
    context_text: str = ""
    page_title: str = ""
    page_lang: str = ""  # declared by <html lang>, "" when absent
    # Where alt_text came from: "alt" (the attribute), "caption" (the image's <figcaption> or
    # thumbnail caption, when the alt is empty) or "title" (the title attribute); URL lists'
    # captions are "alt". Defaulted so corpora written before it still read.
    text_source: str = "alt"


@dataclasses.dataclass(**_RECORD)
class ImageRecord(Candidate):
    """A candidate whose image was fetched and validated.

    ``image_bytes`` is the re-encoded (resized) JPEG; ``sha256`` is of the bytes as served;
    ``width``/``height`` are the original size; ``phash`` is the 64-bit perceptual hash in hex.
    """

    image_bytes: bytes
    image_format: str
    width: int
    height: int
    sha256: str
    phash: str


@dataclasses.dataclass(**_RECORD)
class OcrLine:
    """One line of text found in an image: 4-point box (x1,y1,…,x4,y4 in stored-image pixels)."""

    text: str
    box: list[float]
    confidence: float


@dataclasses.dataclass(**_RECORD)
class AnnotatedPair(ImageRecord):
    """An image record with OCR of its image and language ID of its alt text, context text and
    OCR text, each labelled on its own (ISO 639-1 where one exists, else 639-3; "und" when the
    text is empty or the model's confidence is below the threshold)."""

    lang: str  # of the alt text
    lang_conf: float
    ocr_lines: list[OcrLine]
    ocr_text: str  # the OCR lines joined with a space, in reading order
    ocr_lang: str
    # Of the page text around the image; defaulted so corpora written before it still read.
    context_lang: str = "und"
    # False where the text-presence gate saw no text and OCR was not run (so an empty
    # ocr_text means "not read", not "no text"); defaulted for older corpora.
    ocr_ran: bool = True


@dataclasses.dataclass(**_RECORD)
class CorpusPair(AnnotatedPair):
    """An annotated pair with its contrastive score of image and alt text: a SigLIP model's sigmoid
    logit, or a CLIP model's cosine similarity (``pipelines/score/scorer_model.py``)."""

    score: float


@dataclasses.dataclass(**_RECORD)
class Rejection:
    """A record a stage did not pass on. ``record_id`` is a pair id or, for pages, the URL."""

    stage: str
    reason: str
    record_id: str
    url: str
    detail: str = ""

    @classmethod
    def of(cls, record, stage: str, reason: str, detail: str = "") -> "Rejection":
        """The rejection of a candidate, or of any record built on one (pair id, image URL)."""
        return cls(stage=stage, reason=reason, record_id=record.pair_id, url=record.image_url,
                   detail=detail[:300])


@dataclasses.dataclass(**_RECORD)
class BoxedObject:
    """One object in an image: its label and its box as [ymin, xmin, ymax, xmax], fractions of
    the image's height and width (PaLI's order)."""

    label: str
    box: list[float]


@dataclasses.dataclass(**_RECORD)
class LabelledImage:
    """An image of an existing dataset with what people wrote about it: captions and object
    boxes (COCO, Open Images). A mixture source beside the corpus, as PaLI used CC3M-35L and
    Open Images."""

    image_id: str
    image: bytes  # the file as stored
    width: int
    height: int
    captions: list[str]
    objects: list[BoxedObject]
    lang: str = "en"  # of the captions and labels


@dataclasses.dataclass(**_RECORD)
class VqaTriplet:
    """A question about an image and its answer (VQ²A-style datasets), a mixture source."""

    image_id: str
    image: bytes  # the file as stored
    question: str
    answer: str
    lang: str


@dataclasses.dataclass(**_RECORD)
class TaskExample:
    """One training example of a mixture task: the model reads (image, prefix), writes target."""

    task: str
    image: bytes  # JPEG
    prefix: str
    target: str
    lang: str
    source_id: str  # the pair id it came from
