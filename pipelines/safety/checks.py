"""One annotated pair through the safety checks → kept (perhaps redacted and blurred) or
rejected, and what was done to it. Pure logic on records (no Beam).

The checks, in order, the first failure rejecting the pair:
1. ``opted_out``: its page or image URL is on an opt-out list;
2. ``blocklisted_hash``: its image's SHA-256 (of the served bytes) or pHash is on a hash list
   (MD5 entries are matched where the served bytes are, in the fetch stage);
3. ``unsafe_text``: a listed term in its alt text, page title, context or OCR text;
4. ``pii`` (``pii="drop"``): personal data in any of those texts; with ``"redact"`` each find
   is replaced by its kind (``[EMAIL]``) and the pair kept;
5. ``faces`` (``faces="drop"``): a face in its image; with ``"blur"`` the faces are blurred in
   the stored image and the pair kept;
6. ``nsfw_image``: where a classifier is configured (``pipelines/safety/nsfw.py``), its unsafe
   probability at or above the threshold (run in batches by ``transforms.Safety``).
"""
from __future__ import annotations

import dataclasses

from pipelines.http import load_opt_out, read_text
from pipelines.safety.nsfw import NsfwConfig
from quality_filters.faces import FACE_MODES, FaceConfig, blur_faces_jpeg
from quality_filters.pii import PII_MODES, find_pii, redact
from quality_filters.safety import DEFAULT_PHASH_DISTANCE, HashList, OptOutList, TermList
from schemas import AnnotatedPair, Rejection

STAGE = "safety"


@dataclasses.dataclass(frozen=True)
class SafetyConfig:
    block_hashes: tuple[str, ...] = ()  # hash-list files
    phash_distance: int = DEFAULT_PHASH_DISTANCE
    opt_out: tuple[str, ...] = ()  # opt-out list files
    unsafe_terms: tuple[str, ...] = ()  # term-list files, beside the shipped ones
    default_terms: bool = True  # use the shipped lists (quality_filters/unsafe_terms/)
    pii: str = "redact"  # redact | drop | keep
    faces: str = "blur"  # blur | drop | keep
    face_detection: FaceConfig = FaceConfig()
    nsfw: NsfwConfig = NsfwConfig()  # an image classifier, run after these checks (none by default)

    def __post_init__(self):
        if self.pii not in PII_MODES:
            raise ValueError(f"pii mode {self.pii!r}: one of {', '.join(PII_MODES)}")
        if self.faces not in FACE_MODES:
            raise ValueError(f"faces mode {self.faces!r}: one of {', '.join(FACE_MODES)}")


@dataclasses.dataclass(frozen=True)
class Lists:
    """The loaded lists a worker checks against."""

    blocked: HashList
    opt_out: OptOutList
    terms: TermList

    @classmethod
    def load(cls, config: SafetyConfig) -> "Lists":
        return cls(HashList.from_files(config.block_hashes, config.phash_distance, read_text),
                   load_opt_out(config.opt_out),
                   TermList.from_files(config.unsafe_terms, config.default_terms, read_text))


_TEXT_FIELDS = ("alt_text", "page_title", "context_text", "ocr_text")  # the checked texts


def _lang_of(pair: AnnotatedPair, field: str) -> str:
    return {"alt_text": pair.lang, "page_title": pair.page_lang or pair.lang,
            "context_text": pair.context_lang, "ocr_text": pair.ocr_lang}[field]


def _texts(pair: AnnotatedPair) -> tuple[tuple[str, str], ...]:
    """(text, its language) of each text of the pair that is checked."""
    return tuple((getattr(pair, f), _lang_of(pair, f)) for f in _TEXT_FIELDS)


def _redacted(pair: AnnotatedPair, counts: dict[str, int]) -> AnnotatedPair:
    """``pair`` with personal data in its texts replaced; ``counts`` gets "pii_<kind>" adds."""

    def clean(text: str, lang: str) -> str:
        spans = find_pii(text, lang)
        for span in spans:
            counts[f"pii_{span.kind}"] = counts.get(f"pii_{span.kind}", 0) + 1
        return redact(text, spans) if spans else text

    lines = [dataclasses.replace(line, text=clean(line.text, pair.ocr_lang))
             for line in pair.ocr_lines]
    texts = {f: clean(getattr(pair, f), _lang_of(pair, f)) for f in _TEXT_FIELDS}
    return dataclasses.replace(pair, ocr_lines=lines, **texts)


def check_pair(pair: AnnotatedPair, lists: Lists, config: SafetyConfig,
               detector=None) -> tuple[AnnotatedPair | Rejection, dict[str, int]]:
    """(the pair as kept, or its Rejection; counts of what was done: "pii_<kind>" redactions,
    "faces_blurred", "images_blurred")."""
    reject = lambda reason, detail="": (Rejection.of(pair, STAGE, reason, detail), {})
    entry = lists.opt_out.match(pair.page_url) or lists.opt_out.match(pair.image_url)
    if entry:
        return reject("opted_out", entry)
    matched = lists.blocked.match(sha256=pair.sha256, phash=pair.phash)
    if matched:
        return reject("blocklisted_hash", matched)
    terms = lists.terms.find(*(text for text, _ in _texts(pair)))
    if terms:
        return reject("unsafe_text", ", ".join(terms[:5]))
    counts: dict[str, int] = {}
    if config.pii == "drop":
        kinds = sorted({s.kind for t, lang in _texts(pair) for s in find_pii(t, lang)})
        if kinds:
            return reject("pii", ", ".join(kinds))
    elif config.pii == "redact":
        pair = _redacted(pair, counts)
    if config.faces != "keep":
        jpeg, faces = blur_faces_jpeg(pair.image_bytes, config.face_detection, detector)
        if faces and config.faces == "drop":
            return reject("faces", str(faces))
        if faces:
            pair = dataclasses.replace(pair, image_bytes=jpeg)
            counts.update(faces_blurred=faces, images_blurred=1)
    return pair, counts
