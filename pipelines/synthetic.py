"""Generated image–text pairs: photo-like scenes of coloured shapes and signs with words.

The same generator feeds the bundled sample site (what the demo and the tests crawl) and the
scorer's training data (``openwebli train-scorer``), so the project has a real, meaningful
contrastive model without any download. Captions come in six languages, one in a non-Latin
script each for Cyrillic and Han.
"""
from __future__ import annotations

import dataclasses
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

COLORS = {  # name → RGB
    "red": (200, 30, 30), "green": (30, 150, 40), "blue": (30, 60, 200),
    "yellow": (235, 210, 30), "white": (245, 245, 245), "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "diamond")
LANGS = ("en", "fr", "de", "es", "ru", "zh")
SIGN_WORDS = ("OPEN", "SALE", "HOTEL", "COFFEE", "EXIT", "BOOKS", "PIZZA", "TAXI", "MUSEUM",
              "GARDEN", "BAKERY", "PHARMACY", "STATION", "MARKET", "CINEMA")

# Per-language words. Shapes are chosen masculine in fr/es/ru so colours need no agreement;
# German needs the article and adjective ending of each noun's gender.
_WORDS = {
    "fr": {"red": "rouge", "green": "vert", "blue": "bleu", "yellow": "jaune", "white": "blanc",
           "black": "noir", "circle": "cercle", "square": "carré", "triangle": "triangle",
           "diamond": "losange"},
    "es": {"red": "rojo", "green": "verde", "blue": "azul", "yellow": "amarillo",
           "white": "blanco", "black": "negro", "circle": "círculo", "square": "cuadrado",
           "triangle": "triángulo", "diamond": "rombo"},
    "de": {"red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb", "white": "weiß",
           "black": "schwarz", "circle": "Kreis", "square": "Quadrat", "triangle": "Dreieck",
           "diamond": "Raute"},
    "ru": {"red": "красный", "green": "зелёный", "blue": "синий", "yellow": "жёлтый",
           "white": "белый", "black": "чёрный", "circle": "круг", "square": "квадрат",
           "triangle": "треугольник", "diamond": "ромб"},
    "ru_prep": {"red": "красном", "green": "зелёном", "blue": "синем", "yellow": "жёлтом",
                "white": "белом", "black": "чёрном"},
    "zh": {"red": "红", "green": "绿", "blue": "蓝", "yellow": "黄", "white": "白", "black": "黑",
           "circle": "圆形", "square": "正方形", "triangle": "三角形", "diamond": "菱形"},
}
_DE_GENDER = {"circle": "m", "square": "n", "triangle": "n", "diamond": "f"}
_SIGN_TEMPLATES = {
    "en": "a street sign that says {w}", "fr": "un panneau dans la rue qui dit {w}",
    "de": "ein Schild an der Straße mit der Aufschrift {w}",
    "es": "un letrero en la calle que dice {w}", "ru": "уличная вывеска с надписью {w}",
    "zh": "街上写着{w}的招牌",
}


@dataclasses.dataclass(frozen=True)
class Scene:
    """What a generated image shows: one shape of one colour on a background colour."""

    shape: str
    color: str
    background: str


def scene_caption(scene: Scene, lang: str) -> str:
    """A one-line description of ``scene`` in ``lang`` (one of ``LANGS``)."""
    s, c, b = scene.shape, scene.color, scene.background
    if lang == "en":
        return f"a {c} {s} on a {b} background"
    w = _WORDS.get(lang)
    if lang in ("fr", "es"):
        on = "sur fond" if lang == "fr" else "sobre fondo"
        return f"un {w[s]} {w[c]} {on} {w[b]}"
    if lang == "de":
        article, ending = {"m": ("ein", "er"), "n": ("ein", "es"), "f": ("eine", "e")}[_DE_GENDER[s]]
        return f"{article} {w[c]}{ending} {w[s]} auf {w[b]}em Hintergrund"
    if lang == "ru":
        return f"{w[c]} {w[s]} на {_WORDS['ru_prep'][b]} фоне"
    if lang == "zh":
        return f"{w[b]}色背景上的{w[c]}色{w[s]}"
    raise ValueError(f"no captions for language {lang!r}; have {LANGS}")


def sign_caption(word: str, lang: str) -> str:
    """Alt text for a sign image showing ``word``."""
    return _SIGN_TEMPLATES[lang].format(w=word)


def random_scene(rng: random.Random) -> Scene:
    color, background = rng.sample(sorted(COLORS), 2)
    return Scene(shape=rng.choice(SHAPES), color=color, background=background)


def _jitter(rgb, rng: random.Random, amount: int = 25):
    return tuple(int(np.clip(v + rng.randint(-amount, amount), 0, 255)) for v in rgb)


def _polygon(shape: str, cx: float, cy: float, r: float):
    if shape == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)]
    return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]  # diamond


def render_scene(scene: Scene, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A photo-like render: lit gradient background, grain, a soft shadow under the shape."""
    return render_scene_boxed(scene, size, rng)[0]


def shape_box(shape: str, cx: float, cy: float, r: float) -> tuple[float, float, float, float]:
    """The shape's box in pixels, COCO's (x, y, width, height)."""
    bottom = cy + (0.8 * r if shape == "triangle" else r)
    return (cx - r, cy - r, 2 * r, bottom - (cy - r))


def render_scene_boxed(scene: Scene, size: tuple[int, int], rng: random.Random):
    """``render_scene`` (the same draws from ``rng``) and the shape's box (``shape_box``)."""
    w, h = size
    base = np.array(_jitter(COLORS[scene.background], rng), dtype=np.float32)
    light = np.linspace(1.15, 0.8, h)[:, None, None] * np.linspace(0.9, 1.1, w)[None, :, None]
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, 6, (h, w, 3))
    img = Image.fromarray(np.clip(base * light + noise, 0, 255).astype(np.uint8))
    r = min(w, h) * rng.uniform(0.18, 0.32)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    shadow = Image.new("L", size, 0)
    draw_shape(ImageDraw.Draw(shadow), scene.shape, cx + r * 0.12, cy + r * 0.12, r, 110)
    img.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(r * 0.1)))
    draw_shape(ImageDraw.Draw(img), scene.shape, cx, cy, r, _jitter(COLORS[scene.color], rng))
    return img, shape_box(scene.shape, cx, cy, r)


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx, cy, r, fill) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon(_polygon(shape, cx, cy, r), fill=fill)


def render_sign(word: str, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A sign: dark or light board with ``word`` in large letters, on a noisy backdrop."""
    w, h = size
    backdrop = np.random.default_rng(rng.getrandbits(32)).normal(128, 30, (h, w, 3))
    img = Image.fromarray(np.clip(backdrop, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    dark = rng.random() < 0.5
    board, ink = ((30, 40, 90), (250, 250, 250)) if dark else ((245, 240, 220), (20, 20, 20))
    font = ImageFont.load_default(size=max(12, int(h * 0.28)))
    left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
    tw, th = right - left, bottom - top
    x0, y0 = (w - tw) // 2, (h - th) // 2
    pad = int(th * 0.5)
    draw.rectangle([x0 - pad, y0 - pad, x0 + tw + pad, y0 + th + pad], fill=board)
    draw.text((x0 - left, y0 - top), word, font=font, fill=ink)
    return img


def add_sign(img: Image.Image, word: str, rng: random.Random) -> Image.Image:
    """The scene with a small sign showing ``word`` in one corner (text for the OCR task)."""
    return add_sign_boxed(img, word, rng)[0]


def add_sign_boxed(img: Image.Image, word: str, rng: random.Random):
    """``add_sign`` (the same draws) and the sign's box, COCO's (x, y, width, height)."""
    w, h = img.size
    sign = render_sign(word, (int(w * 0.55), max(40, int(h * 0.3))), rng)
    out = img.copy()
    x = rng.choice([0, w - sign.width])
    out.paste(sign, (x, 0))
    return out, (x, 0, sign.width, sign.height)
