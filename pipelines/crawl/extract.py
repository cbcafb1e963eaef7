"""HTML → links and image candidates. Pure (no Beam, no network); parsing by selectolax (lexbor)."""
from __future__ import annotations

import dataclasses
import json
import urllib.parse

from selectolax.lexbor import LexborHTMLParser

from quality_filters.robots import opts_out_of_ai
from quality_filters.text import check_alt_text, normalize_text
from schemas import Candidate, Page, Rejection, pair_id

CONTEXT_CHARS = 300
_SKIP_EXTENSIONS = (".svg", ".svgz")


@dataclasses.dataclass(frozen=True)
class ImageRef:
    src: str  # absolute URL, or "" when the tag had no usable source
    raw_src: str
    alt: str  # the pair's text: the alt attribute, else a caption, else the title attribute
    context: str
    text_source: str = "alt"  # where ``alt`` came from: "alt", "caption" or "title"


@dataclasses.dataclass(frozen=True)
class ParsedPage:
    title: str
    lang: str
    meta_robots: str
    links: list[str]
    images: list[ImageRef]


def _largest_srcset(srcset: str) -> str:
    """The URL of the widest (or highest-density) candidate of a srcset attribute."""
    best, best_size = "", -1.0
    for item in srcset.split(","):
        bits = item.strip().split()
        if not bits:
            continue
        size = 1.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            size = float(bits[1][:-1])
        if size > best_size:
            best, best_size = bits[0], size
    return best


# Captions that belong to one image: HTML's <figure>/<figcaption>, and MediaWiki's thumbnails
# and galleries (<div class="thumb"> … <div class="thumbcaption">, <li class="gallerybox"> …
# <div class="gallerytext">), which encyclopaedia pages use with an empty alt.
_CAPTION_BOXES = {"figure": "figcaption", "thumb": ".thumbcaption", "gallerybox": ".gallerytext"}
_CAPTION_DEPTH = 5  # ancestors searched for the image's own caption box


def _caption(node) -> str:
    """The caption of the figure or thumbnail box the image is in, or ""."""
    box = node.parent
    for _ in range(_CAPTION_DEPTH):
        if box is None or box.tag == "body":
            return ""
        classes = set((box.attributes.get("class") or "").split())
        for kind, selector in _CAPTION_BOXES.items():
            caption = box.css_first(selector) if box.tag == kind or kind in classes else None
            if caption is not None:  # a box without one (a gallery's inner thumb): look on up
                return normalize_text(caption.text(separator=" "))
        box = box.parent
    return ""


def _context(node, alt: str) -> str:
    """Text near the image: its figure's caption, else its parent's text, minus the alt."""
    caption = _caption(node)
    if caption:
        return "" if caption == alt else caption[:CONTEXT_CHARS]
    parent = node.parent
    text = normalize_text(parent.text(separator=" ")) if parent is not None else ""
    return text.replace(alt, "").strip()[:CONTEXT_CHARS]


# Where an <img> keeps the URL a browser ends up loading, best first. Lazy-loading scripts
# (WordPress's rocket-lazy-load, lazysizes, …) put the real image in data-* attributes and a
# placeholder (often a data: URI) in src/srcset until the script runs.
_SRCSET_ATTRS = ("data-lazy-srcset", "data-srcset", "srcset")
_SRC_ATTRS = ("data-lazy-src", "data-src", "src")
FETCHED_SCHEMES = ("http", "https")


def _raw_source(attrs: dict) -> str:
    """The image URL as written in the tag (largest srcset candidate first), stripped."""
    for name in _SRCSET_ATTRS:
        srcset = attrs.get(name) or ""
        best = "" if _is_data_uri(srcset) else _largest_srcset(srcset)  # data: URIs hold commas
        if best and not _is_data_uri(best):
            return best
    for name in _SRC_ATTRS:
        value = (attrs.get(name) or "").strip()
        if value and (not _is_data_uri(value) or name == "src"):
            return value
    return ""


def _is_data_uri(raw: str) -> bool:
    return raw.lstrip()[:5].lower() == "data:"


def _resolve(base: str, raw: str) -> str:
    """``raw`` made absolute against ``base``; "" for nothing or an inline data: URI."""
    raw = raw.strip()
    return "" if not raw or _is_data_uri(raw) else urllib.parse.urljoin(base, raw)


def _image_ref(node, base: str) -> ImageRef:
    attrs = node.attributes
    raw = _raw_source(attrs)
    alt, source = normalize_text(attrs.get("alt") or ""), "alt"
    if not alt:
        caption, title = _caption(node), normalize_text(attrs.get("title") or "")
        alt, source = (caption, "caption") if caption else (title, "title")
    return ImageRef(src=_resolve(base, raw), raw_src=raw[:200], alt=alt,
                    context=_context(node, alt), text_source=source if alt else "alt")


def parse_page(html: str, page_url: str) -> ParsedPage:
    tree = LexborHTMLParser(html)
    base_node = tree.css_first("base[href]")
    base = urllib.parse.urljoin(page_url, base_node.attributes["href"]) if base_node else page_url
    html_node = tree.css_first("html")
    title = tree.css_first("title")
    robots = [m.attributes.get("content") or "" for m in tree.css("meta[name]")
              if (m.attributes.get("name") or "").lower() in ("robots", "openwebli")]
    links = []
    for a in tree.css("a[href]"):
        url = urllib.parse.urljoin(base, (a.attributes.get("href") or "").strip())
        url = urllib.parse.urldefrag(url).url
        if url.startswith(("http://", "https://")):
            links.append(url)
    return ParsedPage(
        title=normalize_text(title.text()) if title else "",
        lang=(html_node.attributes.get("lang") or "") if html_node else "",
        meta_robots=", ".join(robots),
        links=links,
        images=[_image_ref(n, base) for n in tree.css("img")],
    )


def parse_wat(metadata: dict, page_url: str) -> ParsedPage:
    """A Common Crawl WAT record's ``HTML-Metadata`` (already parsed by Common Crawl) → the
    same ParsedPage ``parse_page`` makes from HTML. Images are the ``IMG@/src`` links (with
    their ``alt``, or ``title``); WAT keeps no text around them, so their context is empty."""
    html = metadata.get("HTML-Metadata", {})
    head = html.get("Head", {})
    base = urllib.parse.urljoin(page_url, head.get("Base", "")) if head.get("Base") else page_url
    robots = [m.get("content", "") for m in head.get("Metas", [])
              if m.get("name", "").lower() in ("robots", "openwebli")]
    links, images = [], []
    for link in html.get("Links", []):
        path, raw = link.get("path", ""), (link.get("url") or "").strip()
        if path == "A@/href":
            url = urllib.parse.urldefrag(urllib.parse.urljoin(base, raw)).url
            if url.startswith(("http://", "https://")):
                links.append(url)
        elif path == "IMG@/src":
            alt = normalize_text(link.get("alt") or "")
            title = "" if alt else normalize_text(link.get("title") or "")
            images.append(ImageRef(src=_resolve(base, raw), raw_src=raw[:200], alt=alt or title,
                                   context="", text_source="title" if title else "alt"))
    return ParsedPage(title=normalize_text(head.get("Title", "")), lang="",
                      meta_robots=", ".join(robots), links=links, images=images)


def parse(page: Page) -> ParsedPage:
    """The page's ParsedPage, from its HTML or from its WAT record."""
    if page.kind == "wat":
        return parse_wat(json.loads(page.html), page.url)
    return parse_page(page.html, page.url)


def candidates_from_page(page: Page, parsed: ParsedPage):
    """Yield a Candidate or a Rejection (stage "extract") for every <img> on the page. An image
    URL already taken from this page (a logo in header and footer, a lazy-loaded image and its
    <noscript> copy) is rejected as ``duplicate_on_page``: the first usable tag wins."""
    noai = opts_out_of_ai(page.x_robots_tag, parsed.meta_robots)
    taken: set[str] = set()
    for ref in parsed.images:
        pid = pair_id(page.url, ref.src or ref.raw_src)
        reason, detail = _reject_reason(ref, noai)
        if not reason and ref.src in taken:
            reason, detail = "duplicate_on_page", ""
        if reason:
            yield Rejection(stage="extract", reason=reason, record_id=pid,
                            url=ref.src or ref.raw_src, detail=detail)
            continue
        taken.add(ref.src)
        yield Candidate(pair_id=pid, page_url=page.url, image_url=ref.src, alt_text=ref.alt,
                        context_text=ref.context, page_title=parsed.title,
                        page_lang=parsed.lang, text_source=ref.text_source)


def _reject_reason(ref: ImageRef, noai: bool) -> tuple[str, str]:
    if noai:
        return "noai", "page opts out of AI use"
    if _is_data_uri(ref.raw_src):
        return "data_uri", ""
    if not ref.src:
        return "no_src", ""
    parts = urllib.parse.urlsplit(ref.src)
    if parts.scheme not in FETCHED_SCHEMES:  # urlsplit lower-cases the scheme
        return "unsupported_scheme", parts.scheme
    if parts.path.lower().endswith(_SKIP_EXTENSIONS):
        return "svg", ""
    verdict = check_alt_text(ref.alt)
    return (verdict.reason, verdict.detail) if not verdict.keep else ("", "")
