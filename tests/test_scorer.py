"""The project-trained scorer (``make models``), loaded through open_clip's pretrained=path."""
import json
import random

import numpy as np
import pytest

from pipelines import synthetic
from pipelines.score.scorer_model import default_scorer_spec, load_scorer, parse_spec
from pipelines.score.pairs import make_pairs
from pipelines.score.train_scorer import auc, evaluate, train_scorer


@pytest.fixture(scope="module")
def scorer():
    return load_scorer(default_scorer_spec(), device="cpu")


@pytest.mark.slow
def test_held_out_auc(scorer):
    """Floors, not copies: `make models` measured a held-out AUC of 0.986 (0.979–0.995 per
    language) on its own 1,200 pairs (scorer.json); 0.9 / 0.85 leave room for a retrain with
    another torch build while failing a scorer that half learnt (chance is 0.5)."""
    metrics = evaluate(scorer, make_pairs(600, seed=424242))  # a seed training never uses
    assert metrics["auc"] >= 0.9, metrics
    assert set(metrics["auc_per_language"]) == set(synthetic.LANGS)
    assert min(metrics["auc_per_language"].values()) >= 0.85, metrics
    # Retrieval among the held-out contents: measured image→text R@1 0.378 on the 1,200
    # pairs of seed 1000 (135 contents, about 9 captions each: chance ≈ 0.0075).
    assert metrics["retrieval"]["image_to_text"]["R@1"] >= 0.15, metrics


@pytest.mark.slow
def test_matched_caption_beats_a_wrong_one(scorer):
    rng = random.Random(5)
    scene = synthetic.Scene(shape="circle", color="red", background="blue")
    wrong = synthetic.Scene(shape="square", color="yellow", background="black")
    photo = synthetic.render_scene(scene, (96, 72), rng)
    sign = synthetic.render_sign("TAXI", (160, 72), rng)
    for lang in ("en", "ru", "zh"):
        scene_text = synthetic.scene_caption(scene, lang)
        sign_text = synthetic.sign_caption("TAXI", lang)
        cases = [(photo, scene_text, synthetic.scene_caption(wrong, lang)),
                 (photo, scene_text, sign_text), (sign, sign_text, scene_text)]
        for image, right, bad in cases:
            right_score, bad_score = scorer.score([image, image], [right, bad])
            assert right_score > bad_score, (lang, right, bad)


def test_auc_formula():
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5]), np.array([0.5])) == 0.5
    assert auc(np.array([0.5, 0.9]), np.array([0.5, 0.1])) == 0.875


def test_bad_specs_fail_clearly(tmp_path):
    assert parse_spec("ViT-B-32:laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert parse_spec("hf-hub:timm/ViT-B-16-SigLIP") == ("hf-hub:timm/ViT-B-16-SigLIP", "")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt.*train-scorer"):
        load_scorer(f"openwebli-tiny:{tmp_path}/missing.pt", device="cpu")
    with pytest.raises(ValueError, match="unknown open_clip model 'no-such-model'"):
        load_scorer("no-such-model", device="cpu")
    with pytest.raises(ValueError, match="did you mean openwebli-tiny"):
        load_scorer(f"openwebli-tiny2:{tmp_path}/missing.pt", device="cpu")


def _scores_by_open_clip(name: str, checkpoint: str | None, images, texts) -> np.ndarray:
    """Each (image, text)'s score from open_clip's own model, apart from Scorer: the SigLIP
    logit (model(...) returns the scale and bias) when the model has a bias, else the cosine."""
    import open_clip
    import torch

    from pipelines.score.scorer_model import register_project_models

    register_project_models()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=checkpoint)
    tokens = open_clip.get_tokenizer(name)(texts)
    with torch.no_grad():
        out = model.eval()(torch.stack([preprocess(i) for i in images]), tokens)
    image, text, scale = out[0].numpy(), out[1].numpy(), float(out[2])
    cosine = (image * text).sum(axis=1)  # open_clip's forward returns normalised features
    return cosine * scale + float(out[3]) if len(out) > 3 else cosine


@pytest.mark.slow
def test_a_few_training_steps_save_a_loadable_scorer(tmp_path):
    report = train_scorer(tmp_path, steps=2, batch_size=8, pool_size=64, held_out=120,
                          log=lambda _: None)
    saved = json.loads((tmp_path / "scorer.json").read_text())
    assert (saved["steps"], saved["batch_size"], saved["seed"]) == (2, 8, 0)
    scorer = load_scorer(f"openwebli-tiny:{tmp_path / 'scorer.pt'}", device="cpu")
    # The report describes the saved weights: their held-out figures, recomputed from the file
    # on the held-out pairs (seed + 1000), which hold every language.
    held_out = make_pairs(120, seed=1000)
    assert saved["held_out"] == report["held_out"] == evaluate(scorer, held_out)
    assert set(saved["held_out"]["auc_per_language"]) == {e.lang for e in held_out} == set(
        synthetic.LANGS)
    rng = random.Random(0)
    images = [synthetic.render_sign("OPEN", (96, 64), rng),
              synthetic.render_scene(synthetic.random_scene(rng), (96, 72), rng)]
    texts = ["an open sign", "un cercle rouge sur fond bleu"]
    assert scorer.kind == "sigmoid"  # trained with the SigLIP loss: it has a logit bias
    np.testing.assert_allclose(
        scorer.score(images, texts),
        _scores_by_open_clip("openwebli-tiny", str(tmp_path / "scorer.pt"), images, texts),
        rtol=1e-5, atol=1e-4)
    cosine = load_scorer(f"openwebli-tiny:{tmp_path / 'scorer.pt'}", "cpu", kind="cosine")
    np.testing.assert_allclose((scorer.score(images, texts) - scorer.bias) / scorer.scale,
                               cosine.score(images, texts), atol=1e-5)


@pytest.mark.slow
def test_a_standard_open_clip_config_with_random_weights_scores_by_cosine():
    """A CLIP architecture (no logit bias: the softmax loss) scores by cosine, and refuses to
    be scored as SigLIP."""
    import torch

    rng = random.Random(3)
    images = [synthetic.render_scene(synthetic.random_scene(rng), (96, 72), rng) for _ in range(2)]
    texts = ["a red circle", "a street sign that says OPEN"]
    torch.manual_seed(0)
    scorer = load_scorer("ViT-S-32", device="cpu")
    assert scorer.kind == "cosine"
    np.testing.assert_allclose(scorer.score(images, texts),
                               _scores_by_open_clip("ViT-S-32", None, images, texts), atol=1e-5)
    with pytest.raises(ValueError, match="no logit_bias"):
        load_scorer("ViT-S-32", device="cpu", kind="sigmoid")
