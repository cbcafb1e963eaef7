"""The learning benchmark's data: held-out combinations never trained on, boxes where the shapes
are drawn, and held-out questions built by the mixture's own task builders."""
import io
import itertools
import random

import numpy as np
from PIL import Image

from benchmarks.learn_bench import (HELD_OUT_SHARE, SIZE, Scene, held_out_questions,
                                    random_scene, render, scenes)
from model.metrics import parse_boxes
from pipelines import synthetic


def test_held_out_combinations_are_never_drawn_for_training():
    every = [Scene(s, c, b, n, w) for s, c, b, n, w in itertools.product(
        synthetic.SHAPES, synthetic.COLORS, synthetic.COLORS, (1, 2, 3), synthetic.SIGN_WORDS)
        if c != b]
    held = sum(s.held_out for s in every)
    assert len(every) == 4 * 6 * 5 * 3 * 15
    assert abs(held / len(every) - 1 / HELD_OUT_SHARE) < 0.02  # a hash: about one in five
    rng = random.Random(0)
    assert not any(random_scene(rng, held_out=False).held_out for _ in range(500))
    assert all(random_scene(rng, held_out=True).held_out for _ in range(100))


def test_boxes_are_where_the_shapes_are_drawn():
    """A square's pixels (its exact colour; the background and sign differ) span its box."""
    rng = random.Random(3)
    scene = Scene("square", "red", "white", 1, "OPEN")
    jpeg, (box,) = render(scene, rng)
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    red = np.abs(pixels - synthetic.COLORS["red"]).sum(-1) < 60
    red[:60] = False  # the sign's band
    ys, xs = np.nonzero(red)
    drawn = [ys.min() / SIZE, xs.min() / SIZE, (ys.max() + 1) / SIZE, (xs.max() + 1) / SIZE]
    np.testing.assert_allclose(drawn, box, atol=2 / SIZE)


def test_held_out_questions_are_the_tasks_own():
    held = scenes(6, seed=5, held_out=True)
    questions = held_out_questions(held)
    assert sorted(questions) == ["captioning", "counting", "detection", "ocr"]
    for k, (scene, _, boxes) in enumerate(held):
        assert questions["captioning"][k]["reference"] == scene.caption
        assert questions["ocr"][k]["reference"] == scene.word
        assert questions["counting"][k]["reference"] == str(scene.count)
        assert questions["counting"][k]["prompt"] == (
            f"Answer in en: How many objects labelled {scene.shape} are in the image?")
        found = parse_boxes(questions["detection"][k]["reference"])
        assert [label for label, _ in found] == [scene.shape] * scene.count
        np.testing.assert_allclose(sorted(b for _, b in found), sorted(boxes), atol=1 / 1023)


def test_caption():
    assert Scene("circle", "red", "white", 1, "OPEN").caption == "one red circle on a white background"
    assert Scene("diamond", "blue", "black", 3, "OPEN").caption == (
        "three blue diamonds on a black background")
