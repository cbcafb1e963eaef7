"""The trainer: the ViT stays frozen, and a real short run on a 2-device mesh learns, resumes and
predicts."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from model.configs import get_config
from model.pali import FROZEN
from tests.test_model_data import make_examples, write_mixture


def _random_batch(config, n: int = 2) -> dict:
    rng, s = np.random.default_rng(0), config.image_size
    tokens = lambda length: rng.integers(4, 50, (n, length)).astype(np.int32)
    return {"image": rng.normal(size=(n, s, s, 3)).astype(np.float32),
            "prefix": tokens(config.max_prefix_len),
            "decoder_input": tokens(config.max_target_len), "target": tokens(config.max_target_len)}


def test_train_step_keeps_vit_frozen():
    from model.train import create_state, train_step

    state = create_state(get_config("tiny"), warn=False)
    new, loss = jax.jit(train_step)(state, _random_batch(get_config("tiny")))
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


def test_short_real_run_learns_resumes_and_predicts(tmp_path, scorer_checkpoint):
    from model.predict import load
    from model.train import train

    examples = make_examples(24, seed=1)
    (tmp_path / "mixture").mkdir()
    data = write_mixture(tmp_path / "mixture", examples)
    work = tmp_path / "work"
    assert jax.device_count() == 2, "tests run on a 2-device simulated mesh (tests/conftest.py)"
    result = train(get_config("tiny"), data, str(work), scorer_checkpoint)
    assert result["steps"] == 40 and result["last_loss"] < 0.7 * result["first_loss"], result
    assert json.loads((work / "config.json").read_text())["steps"] == 40
    resumed = train(get_config("tiny:steps=50"), data, str(work), scorer_checkpoint)
    assert (resumed["steps"], resumed["trained_steps"]) == (50, 10)

    predictor = load(str(work))
    _assert_vit_is_the_scorers(predictor.params[FROZEN], scorer_checkpoint)
    answer = predictor.predict(examples[0].image, examples[0].prefix)
    assert isinstance(answer, str) and answer
    _assert_cli_predicts(work, examples[0], answer, tmp_path)


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
    for a, b in zip(jax.tree.leaves(vit_params), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), b)
