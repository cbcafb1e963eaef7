"""The bundled sample site: a small multilingual website the demo and the tests crawl.

``generate_site`` writes it to a folder; ``serve_site`` serves that folder on 127.0.0.1.
What is in it (all generated, deterministic for a seed):
- gallery pages in six languages (``<html lang>`` set) with photo-like scenes and alt texts that
  describe them, some with ``<figure>``/``<figcaption>``, some with ``srcset``;
- sign pages with words rendered in images (for OCR);
- images whose alt text does not match (a wrong caption, a placeholder, a file name), broken
  images (garbage, truncated JPEG, HTML served as an image), tiny images, exact and near
  duplicates, and (optionally, outside the site) an evaluation image copied from the gallery;
- ``/private/`` disallowed by ``robots.txt``; ``noai.html`` marked ``<meta name="robots"
  content="noai">``; images under ``/img/noai/`` served with ``X-Robots-Tag: noai``.

With ``annotations_dir``, what the generator knows of its pictures is written beside the site,
as an existing dataset would be: ``instances.json`` (COCO format: each scene's shape and sign
boxes, its true English caption), ``vqa.jsonl`` (questions on shape, colours and sign
words) and ``texts.jsonl`` (each page's text), so that the demo's mixture has every task.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import http.server
import io
import json
import random
import threading
from pathlib import Path

from PIL import Image

from pipelines import synthetic

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"


@dataclasses.dataclass(frozen=True)
class SiteSpec:
    gallery_pages: int = 30
    sign_pages: int = 8
    images_per_page: int = 4
    seed: int = 0


@dataclasses.dataclass
class _Img:
    src: str
    alt: str
    caption: str = ""  # <figcaption>, if any
    srcset: str = ""


# The gallery image the one-image evaluation set copies: left out of the annotations, as the
# corpus job's evaluation-set dedup leaves it out of the corpus.
EVAL_SOURCE = "img/g02-2.jpg"


@dataclasses.dataclass
class _Annotation:
    file_name: str
    width: int
    height: int
    objects: list  # (label, COCO [x, y, w, h])
    caption: str
    questions: list  # (question, answer)


class _SiteWriter:
    def __init__(self, root: Path, rng: random.Random):
        self.root, self.rng = root, rng
        self.counts = {"pages": 0, "images": 0, "img_tags": 0}
        self.annotations: list[_Annotation] = []
        self.texts: list[dict] = []  # each page's visible text, a text source for the mixture

    def image(self, rel: str, img: Image.Image, fmt: str = "JPEG") -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format=fmt, quality=88) if fmt == "JPEG" else img.save(path, format=fmt)
        self.counts["images"] += 1
        return "/" + rel

    def raw(self, rel: str, data: bytes) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.counts["images"] += 1
        return "/" + rel

    def page(self, rel: str, title: str, lang: str, imgs: list[_Img], links: list[str],
             meta_robots: str = "") -> str:
        body = [f"<h1>{html.escape(title)}</h1>"]
        for i, im in enumerate(imgs):
            srcset = f' srcset="{im.srcset}"' if im.srcset else ""
            tag = f'<img src="{im.src}"{srcset} alt="{html.escape(im.alt)}">'
            if im.caption:
                body.append(f"<figure>{tag}<figcaption>{html.escape(im.caption)}</figcaption></figure>")
            else:
                body.append(f"<p>{tag} #{i + 1}</p>")
        body += [f'<p><a href="{link}">{html.escape(link)}</a></p>' for link in links]
        meta = f'<meta name="robots" content="{meta_robots}">' if meta_robots else ""
        doc = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{meta}'
               f"<title>{html.escape(title)}</title></head><body>{''.join(body)}</body></html>")
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(doc, encoding="utf-8")
        words = [title] + [t for im in imgs for t in (im.alt, im.caption) if t]
        self.texts.append({"id": "/" + rel, "text": " ".join(words), "lang": lang})
        self.counts["pages"] += 1
        self.counts["img_tags"] += len(imgs)
        return "/" + rel


def _scene_questions(scene: synthetic.Scene, word: str | None) -> list[tuple[str, str]]:
    questions = [("What shape is in the image?", scene.shape),
                 (f"What colour is the {scene.shape}?", scene.color),
                 ("What colour is the background?", scene.background)]
    return questions + ([("What does the sign say?", word)] if word else [])


def _scene_img(w: _SiteWriter, rel: str, lang: str) -> _Img:
    rng = w.rng
    scene = synthetic.random_scene(rng)
    size = (rng.randint(200, 480), rng.randint(160, 400))
    img, box = synthetic.render_scene_boxed(scene, size, rng)
    objects, word = [(scene.shape, box)], None
    if rng.random() < 0.25:  # a shop sign in the picture: text for OCR beside the caption
        word = rng.choice(synthetic.SIGN_WORDS)
        img, sign_box = synthetic.add_sign_boxed(img, word, rng)
        objects.append(("sign", sign_box))
    src = w.image(rel, img)
    if rel != EVAL_SOURCE:
        w.annotations.append(_Annotation(rel, *size, objects, synthetic.scene_caption(scene, "en"),
                                         _scene_questions(scene, word)))
    alt = synthetic.scene_caption(scene, lang)
    roll = rng.random()
    if roll < 0.15:  # a caption of some other scene: should score low
        alt = synthetic.scene_caption(synthetic.random_scene(rng), lang)
    elif roll < 0.2:
        alt = rng.choice(["image", "IMG_0042.jpg", "photo"])
    caption = alt if rng.random() < 0.3 else ""
    return _Img(src=src, alt=alt, caption=caption)


def _gallery(w: _SiteWriter, spec: SiteSpec) -> list[str]:
    urls = []
    for n in range(spec.gallery_pages):
        lang = synthetic.LANGS[n % len(synthetic.LANGS)]
        imgs = [_scene_img(w, f"img/g{n:02d}-{i}.jpg", lang) for i in range(spec.images_per_page)]
        if n % 7 == 3:  # the same bytes under another URL: an exact duplicate
            imgs.append(_Img(src=imgs[0].src.replace(".jpg", "-copy.jpg"), alt=imgs[0].alt))
            (w.root / imgs[-1].src[1:]).write_bytes((w.root / imgs[0].src[1:]).read_bytes())
            w.counts["images"] += 1
        if n % 7 == 5:  # a smaller, re-encoded copy under another URL: a near duplicate
            original = Image.open(w.root / imgs[0].src[1:])
            smaller = original.resize((original.width * 3 // 4, original.height * 3 // 4))
            imgs.append(_Img(src=w.image(f"img/g{n:02d}-near.jpg", smaller), alt=imgs[0].alt))
        if n % 5 == 1:  # a srcset whose largest candidate is the real image
            imgs[1].srcset = f"/img/missing-small.jpg 100w, {imgs[1].src} 800w"
            imgs[1].src = "/img/missing-small.jpg"
        nxt = f"/gallery/{n + 1:02d}.html" if n + 1 < spec.gallery_pages else "/index.html"
        urls.append(w.page(f"gallery/{n:02d}.html", f"Gallery {n}", lang, imgs, [nxt]))
    return urls


def _signs(w: _SiteWriter, spec: SiteSpec) -> list[str]:
    urls = []
    for n in range(spec.sign_pages):
        lang = synthetic.LANGS[n % len(synthetic.LANGS)]
        imgs = []
        for i in range(spec.images_per_page):
            word = w.rng.choice(synthetic.SIGN_WORDS)
            size = (w.rng.randint(260, 420), w.rng.randint(120, 200))
            src = w.image(f"img/s{n:02d}-{i}.jpg", synthetic.render_sign(word, size, w.rng))
            imgs.append(_Img(src=src, alt=synthetic.sign_caption(word, lang)))
            w.annotations.append(_Annotation(src[1:], *size, [], synthetic.sign_caption(word, "en"),
                                             [("What does the sign say?", word)]))
        urls.append(w.page(f"signs/{n:02d}.html", f"Signs {n}", lang, imgs, ["/index.html"]))
    return urls


def _odd_cases(w: _SiteWriter) -> list[str]:
    """Broken, tiny, opted-out and disallowed images, each on a page of its own kind."""
    rng = w.rng
    good = synthetic.render_scene(synthetic.random_scene(rng), (300, 200), rng)
    jpeg = io.BytesIO()
    good.save(jpeg, format="JPEG")
    broken = [
        _Img(w.raw("img/broken-garbage.jpg", rng.randbytes(2000)), "a red circle on a blue background"),
        _Img(w.raw("img/broken-truncated.jpg", jpeg.getvalue()[:1500]), "a green square on a white background"),
        _Img(w.raw("img/broken-html.jpg", b"<html><body>Not found</body></html>"), "a black triangle on a yellow background"),
        _Img(w.image("img/tiny.png", Image.new("RGB", (8, 8), (255, 0, 0)), "PNG"), "a tiny red square"),
        _Img(w.image("img/thin.png", Image.new("RGB", (600, 40), (0, 0, 255)), "PNG"), "a thin blue line"),
        _Img("/img/does-not-exist.jpg", "a white diamond on a black background"),
        _Img("data:image/gif;base64,R0lGODlhAQABAAAAACw=", "tracking pixel"),
        _Img(w.image("img/noai/opted-out.jpg", good), "a photo whose server says noai"),
        _Img(w.image("img/noalt.jpg", good), ""),
    ]
    private = [_Img(w.image("private/secret.jpg", good), "a private picture")]
    noai = [_Img(w.image("img/noai-page.jpg", good), "an image on a page that opted out")]
    return [
        w.page("odd.html", "Odd images", "en", broken, ["/index.html", "/private/page.html"]),
        w.page("private/page.html", "Private", "en", private, ["/index.html"]),
        w.page("noai.html", "No AI", "en", noai, ["/index.html"], meta_robots="noai"),
    ]


def generate_site(root: str | Path, spec: SiteSpec = SiteSpec(),
                  eval_dir: str | Path | None = None,
                  annotations_dir: str | Path | None = None) -> dict:
    """Write the sample site under ``root``; return counts of pages, image files and <img> tags.

    With ``eval_dir``, also write there an "evaluation set" of one image: a resized PNG copy
    of a gallery image, which the corpus job's evaluation-set dedup must remove. With
    ``annotations_dir``, write the site's annotations there (``write_annotations``)."""
    w = _SiteWriter(Path(root), random.Random(spec.seed))
    w.root.mkdir(parents=True, exist_ok=True)
    (w.root / "robots.txt").write_text(ROBOTS_TXT)
    gallery, signs, odd = _gallery(w, spec), _signs(w, spec), _odd_cases(w)
    # /private/page.html is linked only from odd.html, one level deeper.
    links = gallery + signs + [u for u in odd if not u.startswith("/private/")]
    w.page("index.html", "OpenWebLI sample site", "en", [], links)
    if eval_dir is not None:
        Path(eval_dir).mkdir(parents=True, exist_ok=True)
        Image.open(w.root / EVAL_SOURCE).resize((224, 168)).save(Path(eval_dir) / "eval-0001.png")
    if annotations_dir is not None:
        write_annotations(w.annotations, w.texts, Path(annotations_dir))
        w.counts["annotated_images"] = len(w.annotations)
    return dict(w.counts)


def write_annotations(annotations: list[_Annotation], texts: list[dict], folder: Path) -> None:
    """``instances.json`` (COCO: images, boxes and captions, categories), ``vqa.jsonl`` (file
    names relative to the site's root) and ``texts.jsonl`` (each page's text)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = sorted({label for a in annotations for label, _ in a.objects})
    ids = {label: i + 1 for i, label in enumerate(labels)}
    images, anns = [], []
    for image_id, a in enumerate(annotations, 1):
        images.append({"id": image_id, "file_name": a.file_name, "width": a.width,
                       "height": a.height})
        anns += [{"id": len(anns) + 1, "image_id": image_id, "category_id": ids[label],
                  "bbox": [round(v, 2) for v in box], "iscrowd": 0} for label, box in a.objects]
        anns.append({"id": len(anns) + 1, "image_id": image_id, "caption": a.caption})
    coco = {"images": images, "annotations": anns,
            "categories": [{"id": ids[label], "name": label} for label in labels]}
    (folder / "instances.json").write_text(json.dumps(coco, indent=1))
    lines = [json.dumps({"image": a.file_name, "question": q, "answer": ans, "lang": "en"})
             for a in annotations for q, ans in a.questions]
    (folder / "vqa.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "texts.jsonl").write_text("".join(json.dumps(t, ensure_ascii=False) + "\n"
                                                for t in texts))


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        if self.path.startswith("/img/noai/"):
            self.send_header("X-Robots-Tag", "noai, noimageai")
        super().end_headers()

    def log_message(self, *args):  # quiet: the demo prints its own progress
        pass


@contextlib.contextmanager
def serve_site(root: str | Path):
    """Serve ``root`` on 127.0.0.1 (a free port) in a background thread; yield the base URL."""
    with serve_http(functools.partial(_Handler, directory=str(root))) as base:
        yield base


@contextlib.contextmanager
def serve_http(handler):
    """Run an HTTP request handler on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
