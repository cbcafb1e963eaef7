"""The trainer: the ViT stays frozen, and a real short run on a 2-device mesh learns, resumes and
predicts."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from model.configs import get_config
from model.data import random_batch
from model.pali import FROZEN
from tests.test_model_data import make_examples, row, write_mixture

pytestmark = pytest.mark.slow  # JAX training


def test_train_step_keeps_vit_frozen():
    from model.train import create_state, train_step

    state = create_state(get_config("tiny"), warn=False)
    new, loss = jax.jit(train_step)(state, random_batch(get_config("tiny"), 2))
    assert np.isfinite(float(loss))
    same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), state.params, new.params)
    assert all(jax.tree.leaves(same[FROZEN]))  # bitwise unchanged
    trainable = {k: v for k, v in same.items() if k != FROZEN}
    assert not any(jax.tree.leaves(trainable))  # every other weight moved


@pytest.fixture(scope="module")
def scorer_checkpoint() -> str:
    """The project's trained scorer (``make models``): the frozen ViT is imported from it."""
    from pipelines.score.scorer_model import default_scorer_spec

    return default_scorer_spec().split(":", 1)[1]


def test_short_real_run_learns_resumes_evaluates_and_predicts(tmp_path, scorer_checkpoint):
    from model.predict import load
    from model.train import train

    examples = make_examples(24, seed=1)
    (tmp_path / "mixture").mkdir()
    data = write_mixture(tmp_path / "mixture", examples, validation=examples[:6])
    work = tmp_path / "work"
    assert jax.device_count() == 2, "tests run on a 2-device simulated mesh (tests/conftest.py)"
    result = train(get_config("tiny:eval_every=20"), data, str(work), scorer_checkpoint)
    assert result["steps"] == 40 and result["last_loss"] < 0.7 * result["first_loss"], result
    assert json.loads((work / "config.json").read_text())["steps"] == 40
    resumed = train(get_config("tiny:steps=50"), data, str(work), scorer_checkpoint)
    assert (resumed["steps"], resumed["trained_steps"]) == (50, 10)
    # tiny logs every 10 steps: 4 lines from the first run, 1 appended by the resumed one;
    # the first run evaluated at steps 20 and 40, the resumed one (eval_every 0) never
    lines = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    metrics = [m for m in lines if "loss" in m]
    assert [m["step"] for m in metrics] == [10, 20, 30, 40, 50]
    assert all(set(m) == {"step", "loss", "examples_per_s"} and m["loss"] > 0 for m in metrics)
    evals = [m for m in lines if "eval" in m]
    assert [m["step"] for m in evals] == [20, 40]
    # make_examples(6) holds 2 examples of each task, each its own question
    assert {t: (m["metric"], m["examples"]) for t, m in evals[-1]["eval"].items()} == {
        "captioning": ("cider", 2), "ocr": ("exact_match", 2),
        "split_captioning": ("exact_match", 2)}

    predictor = load(str(work))
    _assert_vit_is_the_scorers(predictor.params[FROZEN], scorer_checkpoint)
    _assert_loaded_weights_are_trained(predictor, examples)
    answer = predictor.predict(examples[0].image, examples[0].prefix)
    assert answer == _greedy_by_full_forward(predictor, examples[0])
    _assert_cli_predicts(work, examples[0], answer, tmp_path)
    _assert_beam_scores_at_least_greedy(predictor, examples)
    _assert_cli_evaluates(work, data, predictor, tmp_path)


def _assert_beam_scores_at_least_greedy(predictor, examples):
    """On the trained model, beam search (4 beams, no length penalty) finds a sequence at
    least as likely as greedy decoding's, for every example."""
    from model.configs import DecodeConfig

    images, prompts = [ex.image for ex in examples], [ex.prefix for ex in examples]
    greedy = predictor.predict_batch(images, prompts)
    beam = predictor.predict_batch(images, prompts, DecodeConfig("beam", beam=4,
                                                                 length_penalty=0.0))
    assert all(b["score"] >= g["score"] - 1e-4 for b, g in zip(beam, greedy))
    assert sum(b["score"] > g["score"] + 1e-4 for b, g in zip(beam, greedy)) >= 1


def _assert_cli_evaluates(work, data, predictor, tmp_path):
    """``openwebli eval --json`` scores the validation split with each task's evaluator: its
    exact-match figures are the share of predictions equal to their target, recomputed here
    from ``predict_batch``; the files it writes score the same with ``openwebli metrics``."""
    import contextlib
    import io

    from model.evaluate import questions
    from pipelines.cli import main
    from pipelines.mixture.reader import MixtureFolder

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["eval", "--checkpoint", str(work), "--data", data, "--json",
                     "--predictions", str(tmp_path / "predictions")]) == 0
    result = json.loads(out.getvalue())
    assert (result["step"], result["split"], sorted(result["tasks"])) == (
        50, "validation", ["captioning", "ocr", "split_captioning"])
    folder = MixtureFolder(data)
    for task in ("ocr", "split_captioning"):
        dataset = folder.task_dataset(task, "validation")
        qs = questions(dataset[i] for i in range(len(dataset)))
        answers = predictor.predict_batch([folder.images[q["image_key"]] for q in qs],
                                          [q["prompt"] for q in qs])
        hits = sum(a["prediction"] in q["references"] for a, q in zip(answers, qs))
        assert result["tasks"][task]["value"] == hits / len(qs)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["metrics", "--task", "exact", "--json",
                         "--predictions", str(tmp_path / "predictions" / f"{task}.predictions.jsonl"),
                         "--references", str(tmp_path / "predictions" / f"{task}.references.jsonl")
                         ]) == 0
        rescored = json.loads(out.getvalue())
        assert rescored["value"] == result["tasks"][task]["value"]
        assert rescored["missing_predictions"] == rescored["unmatched_predictions"] == 0


def _greedy_by_full_forward(predictor, example) -> str:
    """Greedy decoding written apart from Predictor: the whole model (``PaLI.__call__``, the
    training forward pass) rerun on the answer so far, at most max_target_len tokens, PAD never
    chosen."""
    from model.data import decode_image
    from model.pali import PaLI
    from model.tokenizer import EOS_ID

    c, tokenizer = predictor.config, predictor.tokenizer
    image = decode_image(example.image, c.image_size)[None]
    prefix = tokenizer.encode(example.prefix, c.max_prefix_len)[None]
    forward = jax.jit(PaLI(c).apply)  # compiled once: every call has the same shapes
    answer: list[int] = []
    while len(answer) < c.max_target_len:
        decoder_input = np.zeros((1, c.max_target_len), np.int32)  # pad: the start token
        decoder_input[0, 1:len(answer) + 1] = answer[:c.max_target_len - 1]
        logits = forward({"params": predictor.params}, image, prefix, decoder_input)
        token = int(np.argmax(logits[0, len(answer), 1:])) + 1  # PAD (0) is never an output
        if token == EOS_ID:
            break
        answer.append(token)
    return tokenizer.decode(answer)


def _assert_loaded_weights_are_trained(predictor, examples):
    """The checkpoint ``load`` restores is the trained one: its teacher-forced loss on the
    training examples is under 0.7x that of the same config's fresh weights (the run's own
    loss fell at least that much)."""
    from model.data import example_features
    from model.train import create_state, loss_fn

    features = [example_features(row(ex), predictor.tokenizer, predictor.config) for ex in examples]
    batch = {k: np.stack([f[k] for f in features]) for k in features[0]}
    fresh = create_state(predictor.config, warn=False)
    loss = jax.jit(lambda params: loss_fn(params, fresh.apply_fn, batch))
    assert float(loss(predictor.params)) < 0.7 * float(loss(fresh.params))


def _assert_cli_predicts(work, example, answer: str, tmp_path):
    """``openwebli predict`` prints what the Predictor answers."""
    import contextlib
    import io

    from pipelines.cli import main

    image = tmp_path / "image.jpg"
    image.write_bytes(example.image)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["predict", "--checkpoint", str(work), "--image", str(image),
                     "--prompt", example.prefix]) == 0
    assert out.getvalue().strip() == answer


def _assert_vit_is_the_scorers(vit_params, checkpoint: str):
    import torch

    from model.vit import params_from_open_clip

    expected = params_from_open_clip(torch.load(checkpoint, weights_only=True), heads=4)
    expected.pop("proj")
    assert_same_tree(vit_params, expected)


def assert_same_tree(actual, expected) -> None:
    """The same parameter names (every one, none extra) with equal arrays."""
    actual = dict(jax.tree_util.tree_flatten_with_path(actual)[0])
    expected = dict(jax.tree_util.tree_flatten_with_path(expected)[0])
    name = lambda path: "/".join(str(getattr(k, "key", k)) for k in path)
    assert sorted(map(name, actual)) == sorted(map(name, expected))
    by_name = {name(k): v for k, v in expected.items()}
    for path, value in actual.items():
        np.testing.assert_array_equal(np.asarray(value), by_name[name(path)], err_msg=name(path))
