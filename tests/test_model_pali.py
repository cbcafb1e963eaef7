"""The mT5-style encoder-decoder: T5's position buckets, causal decoding, padding masks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from model.configs import get_config
from model.pali import PaLI
from model.t5 import Encoder, relative_buckets


@pytest.mark.parametrize("offset, bidirectional, bucket", [
    (0, True, 0), (-1, True, 1), (1, True, 17), (-7, True, 7), (-200, True, 15), (200, True, 31),
    (5, False, 0), (-5, False, 5), (-20, False, 17), (-1000, False, 31),
])
def test_relative_buckets(offset, bidirectional, bucket):
    """``offset`` is key − query position; values worked out by hand from T5's formula."""
    assert relative_buckets(np.array([offset]), bidirectional, 32, 128)[0] == bucket


@pytest.fixture(scope="module")
def pali():
    config = get_config("tiny")
    rng = np.random.default_rng(0)
    s = config.image_size
    images = rng.normal(size=(2, s, s, 3)).astype(np.float32)
    prefix = np.zeros((2, config.max_prefix_len), np.int32)
    prefix[:, :5] = rng.integers(4, 100, (2, 5))  # the rest is padding
    decoder_input = rng.integers(4, 100, (2, config.max_target_len)).astype(np.int32)
    model = PaLI(config)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), images, prefix, decoder_input)
    return model, params, images, prefix, decoder_input


@pytest.mark.slow  # compiles and runs the PaLI model (~15 s)
def test_decoder_is_causal(pali):
    model, params, images, prefix, decoder_input = pali
    changed = decoder_input.copy()
    changed[:, 6:] = 7
    a, b = (model.apply(params, images, prefix, d) for d in (decoder_input, changed))
    np.testing.assert_allclose(a[:, :6], b[:, :6], atol=1e-5)
    assert not np.allclose(a[:, 6:], b[:, 6:])


@pytest.mark.slow
def test_padding_is_ignored(pali):
    model, params, images, prefix, decoder_input = pali
    encoded, mask = model.apply(params, images, prefix, method=PaLI.encode)
    assert mask.shape == encoded.shape[:2] and int(mask[0].sum()) == 64 + 5  # patches + prefix
    noisy = jnp.where(mask[..., None], encoded, 100.0)
    a, b = (model.apply(params, e, mask, decoder_input, method=PaLI.decode)
            for e in (encoded, noisy))
    np.testing.assert_allclose(a, b, atol=1e-5)

    encoder = Encoder(layers=1, heads=2, head_dim=8, mlp_dim=32, num_buckets=32, max_distance=128)
    x = np.random.default_rng(1).normal(size=(1, 6, 16)).astype(np.float32)
    keep = np.array([[True] * 4 + [False] * 2])
    enc_params = encoder.init(jax.random.PRNGKey(1), x, keep)
    noisy_x = np.where(keep[..., None], x, 50.0)
    a, b = (encoder.apply(enc_params, v, keep) for v in (x, noisy_x))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-5)
