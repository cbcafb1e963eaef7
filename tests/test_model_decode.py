"""Decoding: the key/value cache gives the uncached decoder's tokens; beam 1 is greedy; every
decoder's score is the teacher-forced log-probability of what it wrote; EOS ends a sequence."""
import dataclasses

import jax
import numpy as np
import pytest

from model.configs import DecodeConfig, get_config
from model.decode import generate, greedy_uncached, sequence_logprob
from model.pali import PaLI
from model.tokenizer import EOS_ID, PAD_ID

pytestmark = pytest.mark.slow  # compiles and runs PaLI decoders


def _random_model(spec: str, batch: int = 3):
    config = get_config(spec)
    rng = np.random.default_rng(0)
    s = config.image_size
    images = rng.normal(size=(batch, s, s, 3)).astype(np.float32)
    prefix = np.zeros((batch, config.max_prefix_len), np.int32)
    prefix[:, :5] = rng.integers(4, 100, (batch, 5))
    model = PaLI(config)
    dummy = np.zeros((batch, config.max_target_len), np.int32)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), images, prefix, dummy)["params"]
    return model, params, images, prefix


@pytest.fixture(scope="module")
def tiny():
    return _random_model("tiny")


def _run(tiny, **kwargs):
    model, params, images, prefix = tiny
    tokens, score = generate(model, params, images, prefix, DecodeConfig(**kwargs))
    return np.asarray(tokens), np.asarray(score)


@pytest.mark.parametrize("spec", ["tiny", "tiny:scan_layers=1,dec_layers=2"])
def test_cached_greedy_equals_uncached(spec):
    model, params, images, prefix = _random_model(spec)
    cached, score = generate(model, params, images, prefix, DecodeConfig())
    uncached, uncached_score = greedy_uncached(model, params, images, prefix, 32)
    assert np.asarray(cached).shape == (3, model.config.max_target_len)  # max_len capped at 16
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_allclose(score, uncached_score, rtol=1e-5)
    assert len(set(map(tuple, np.asarray(cached).tolist()))) == 3  # the rows differ


@pytest.mark.parametrize("kwargs", [dict(method="greedy"), dict(method="beam", beam=3),
                                    dict(method="beam", beam=2, length_penalty=0.0),
                                    dict(method="sample", top_k=5, seed=3)])
def test_score_is_the_sequence_log_probability(tiny, kwargs):
    model, params, images, prefix = tiny
    tokens, score = _run(tiny, **kwargs)
    np.testing.assert_allclose(score, sequence_logprob(model, params, images, prefix, tokens),
                               rtol=1e-4)
    assert PAD_ID not in tokens[:, 0]  # PAD is never written before EOS


def test_beam_one_is_greedy_and_wider_beams_score_higher(tiny):
    greedy, greedy_score = _run(tiny)
    beam1, beam1_score = _run(tiny, method="beam", beam=1)
    np.testing.assert_array_equal(beam1, greedy)
    np.testing.assert_allclose(beam1_score, greedy_score, rtol=1e-6)
    _, beam4_score = _run(tiny, method="beam", beam=4, length_penalty=0.0)
    assert np.all(beam4_score >= greedy_score - 1e-4)


def test_sampling(tiny):
    np.testing.assert_array_equal(_run(tiny, method="sample", top_k=1)[0], _run(tiny)[0])
    a, b, c = (_run(tiny, method="sample", seed=s)[0] for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_eos_ends_a_sequence(tiny, method):
    """With the decoder's final norm zeroed every logit is 0, so the first token past PAD, EOS,
    wins at once with probability 1 / (vocab − 1) (PAD is excluded); then only PAD follows."""
    model, params, images, prefix = tiny
    decoder = {**params["decoder"], "final_norm": {"scale": np.zeros(model.config.d_model)}}
    tokens, score = generate(model, {**params, "decoder": decoder}, images, prefix,
                             DecodeConfig(method, beam=2))
    expected = np.full_like(np.asarray(tokens), PAD_ID)
    expected[:, 0] = EOS_ID
    np.testing.assert_array_equal(tokens, expected)
    np.testing.assert_allclose(score, -np.log(model.config.vocab_size - 1), rtol=1e-5)


def test_bad_decode_config():
    with pytest.raises(ValueError, match="decoding method 'nucleus'"):
        DecodeConfig("nucleus")
    with pytest.raises(ValueError, match="positive"):
        dataclasses.replace(DecodeConfig(), beam=0)
