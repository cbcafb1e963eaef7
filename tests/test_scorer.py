"""The project-trained scorer (``make models``), loaded through open_clip's pretrained=path."""
import random

import numpy as np
import pytest

from pipelines import synthetic
from pipelines.score.scorer_model import default_scorer_spec, load_scorer, parse_spec
from pipelines.score.train_scorer import auc, evaluate, make_pairs


@pytest.fixture(scope="module")
def scorer():
    return load_scorer(default_scorer_spec(), device="cpu")


def test_held_out_auc(scorer):
    metrics = evaluate(scorer, make_pairs(600, seed=424242))  # a seed training never uses
    assert metrics["auc"] >= 0.9, metrics
    assert min(metrics["auc_per_language"].values()) >= 0.85, metrics


def test_matched_caption_beats_a_wrong_one(scorer):
    rng = random.Random(5)
    scene = synthetic.Scene(shape="circle", color="red", background="blue")
    image = synthetic.render_scene(scene, (96, 72), rng)
    wrong = synthetic.Scene(shape="square", color="yellow", background="black")
    for lang in ("en", "ru", "zh"):
        right_s, wrong_s = scorer.score([image, image], [synthetic.scene_caption(scene, lang),
                                                         synthetic.scene_caption(wrong, lang)])
        assert right_s > wrong_s, lang


def test_auc_formula():
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5]), np.array([0.5])) == 0.5


def test_bad_specs_fail_clearly(tmp_path):
    assert parse_spec("ViT-B-32:laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert parse_spec("hf-hub:timm/ViT-B-16-SigLIP") == ("hf-hub:timm/ViT-B-16-SigLIP", "")
    with pytest.raises(FileNotFoundError, match="train-scorer"):
        load_scorer(f"openwebli-tiny:{tmp_path}/missing.pt", device="cpu")
    with pytest.raises(ValueError, match="unknown open_clip model"):
        load_scorer("no-such-model", device="cpu")
