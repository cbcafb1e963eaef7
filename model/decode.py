"""Decoding PaLI: greedy, temperature / top-k sampling and beam search, batched and jitted, over
the decoder's key/value cache (``model/t5.py``: one new position a step; the encoder's keys and
values projected once).

Written here rather than taken from t5x or big_vision (whose decoders are tied to their own
model and config systems): each is one ``jax.lax.while_loop`` over a ``step(state, token) →
(logits, state)`` function, stopping when every sequence has ended (EOS) or at ``max_len``.
``greedy_uncached`` reruns the whole decoder every step instead: the reference the cached
decoders are tested and benchmarked against.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from model.configs import DecodeConfig
from model.pali import PaLI
from model.tokenizer import EOS_ID, PAD_ID

def _without_pad(logits):
    """PAD is never an output (it only pads targets): its logit is removed before softmax."""
    return logits.at[..., PAD_ID].set(-jnp.inf)


def length_penalty(length, alpha: float):
    return ((5.0 + length) / 6.0) ** alpha


def _sample_loop(first, step, choose, max_len: int, rng):
    """One token a step for each row: ``choose(logits, key)``. → (tokens (B, max_len), PAD
    after EOS; the sum of the chosen tokens' log-probabilities, EOS included)."""
    logits, state = first
    batch = logits.shape[0]

    def body(carry):
        i, tokens, score, done, logits, state, rng = carry
        logits = _without_pad(logits)
        rng, key = jax.random.split(rng)
        token = jnp.where(done, PAD_ID, choose(logits, key)).astype(jnp.int32)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), token[:, None], 1)[:, 0]
        score = score + jnp.where(done, 0.0, logp)
        tokens = tokens.at[:, i].set(token)
        done = done | (token == EOS_ID)
        logits, state = jax.lax.cond(i + 1 < max_len, lambda: step(state, token),
                                     lambda: (logits, state))
        return i + 1, tokens, score, done, logits, state, rng

    cond = lambda carry: (carry[0] < max_len) & ~jnp.all(carry[3])
    carry = (0, jnp.full((batch, max_len), PAD_ID, jnp.int32), jnp.zeros(batch),
             jnp.zeros(batch, bool), logits, state, rng)
    _, tokens, score, *_ = jax.lax.while_loop(cond, body, carry)
    return tokens, score


def _top_k_sampler(temperature: float, top_k: int):
    def choose(logits, key):
        logits = logits / temperature
        if top_k:
            kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
            logits = jnp.where(logits < kth, -jnp.inf, logits)
        return jax.random.categorical(key, logits)
    return choose


def _argmax(logits, _key):
    return jnp.argmax(logits, -1)


def _reorder(cache, rows):
    """The cache of the beams ``rows`` (flat B·K indices). Key/value buffers are (…, B·K, L, H,
    D): the batch axis is 4th from the end (after the scanned layers' axis, if any); the
    cross-attention's are the same for every beam of an example and stay as they are."""
    def pick(path, leaf):
        if leaf.ndim < 4 or "cross_attention" in jax.tree_util.keystr(path):
            return leaf
        return jnp.take(leaf, rows, axis=leaf.ndim - 4)
    return jax.tree_util.tree_map_with_path(pick, cache)


def _beam_loop(first, step, beams: int, max_len: int, alpha: float):
    """Beam search keeping the ``beams`` best-ranked hypotheses a step, a finished one (EOS)
    among them, extended only by PAD at no cost. Rank: summed log-probability over
    ``length_penalty``; with one beam this is greedy decoding. → (best tokens (B, max_len),
    their summed log-probability)."""
    logits, cache = first
    vocab = logits.shape[-1]
    batch = logits.shape[0] // beams
    pad_only = jnp.where(jnp.arange(vocab) == PAD_ID, 0.0, -jnp.inf)

    def body(carry):
        i, seqs, logp, length, done, logits, cache = carry
        lp = jax.nn.log_softmax(_without_pad(logits)).reshape(batch, beams, vocab)
        lp = jnp.where(done[..., None], pad_only, lp)
        candidates = (logp[..., None] + lp).reshape(batch, beams * vocab)
        rank = candidates / length_penalty(
            jnp.repeat(length + ~done, vocab, axis=1), alpha)
        _, index = jax.lax.top_k(rank, beams)
        beam, token = index // vocab, (index % vocab).astype(jnp.int32)
        pick = lambda x: jnp.take_along_axis(x, beam, 1)
        seqs = jnp.take_along_axis(seqs, beam[..., None], 1).at[:, :, i].set(token)
        was_done = pick(done)
        length, done = pick(length) + ~was_done, was_done | (token == EOS_ID)
        logp = jnp.take_along_axis(candidates, index, 1)
        cache = _reorder(cache, (jnp.arange(batch)[:, None] * beams + beam).reshape(-1))
        logits, cache = jax.lax.cond(i + 1 < max_len, lambda: step(cache, token.reshape(-1)),
                                     lambda: (logits, cache))
        return i + 1, seqs, logp, length, done, logits, cache

    cond = lambda carry: (carry[0] < max_len) & ~jnp.all(carry[4])
    start = jnp.tile(jnp.where(jnp.arange(beams) == 0, 0.0, -jnp.inf), (batch, 1))
    carry = (0, jnp.full((batch, beams, max_len), PAD_ID, jnp.int32), start,
             jnp.zeros((batch, beams), jnp.int32), jnp.zeros((batch, beams), bool), logits, cache)
    _, seqs, logp, *_ = jax.lax.while_loop(cond, body, carry)
    return seqs[:, 0], logp[:, 0]  # top_k sorts: beam 0 ranks first


def cached_step(model: PaLI, params, encoded, mask, max_len: int):
    """``step(cache, token) → (logits, cache)`` and the first step's output (from the start
    token; the call that creates the cache)."""
    def apply(token, cache=None):
        variables = {"params": params, **({"cache": cache} if cache is not None else {})}
        logits, updated = model.apply(variables, encoded, mask, token[:, None], max_len,
                                      method=PaLI.decode, mutable=["cache"])
        return logits[:, 0], updated["cache"]

    first = apply(jnp.full(encoded.shape[0], PAD_ID, jnp.int32))
    return (lambda cache, token: apply(token, cache)), first


@functools.partial(jax.jit, static_argnums=(0, 4))
def generate(model: PaLI, params, images, prefix, config: DecodeConfig):
    """Decode a batch: → (tokens (B, max_len), PAD after EOS; their summed log-probability)."""
    max_len = min(config.max_len, model.config.max_target_len)
    encoded, mask = model.apply({"params": params}, images, prefix, method=PaLI.encode)
    if config.method == "beam":  # each example's rows repeated, one per beam
        encoded, mask = (jnp.repeat(x, config.beam, axis=0) for x in (encoded, mask))
    step, first = cached_step(model, params, encoded, mask, max_len)
    if config.method == "beam":
        return _beam_loop(first, step, config.beam, max_len, config.length_penalty)
    choose = (_argmax if config.method == "greedy"
              else _top_k_sampler(config.temperature, config.top_k))
    return _sample_loop(first, step, choose, max_len, jax.random.PRNGKey(config.seed))


@functools.partial(jax.jit, static_argnums=(0, 4))
def greedy_uncached(model: PaLI, params, images, prefix, max_len: int):
    """Greedy decoding that reruns the decoder over the whole target buffer every step (no
    cache): the reference for ``generate``."""
    max_len = min(max_len, model.config.max_target_len)
    encoded, mask = model.apply({"params": params}, images, prefix, method=PaLI.encode)
    buffer = jnp.full((encoded.shape[0], max_len), PAD_ID, jnp.int32)  # 0: the start token
    logits_at = lambda buf, i: model.apply({"params": params}, encoded, mask, buf,
                                           method=PaLI.decode)[:, i]

    def step(state, token):
        buf, i = state
        buf = buf.at[:, i + 1].set(token)
        return logits_at(buf, i + 1), (buf, i + 1)

    first = (logits_at(buffer, 0), (buffer, 0))
    return _sample_loop(first, step, _argmax, max_len, jax.random.PRNGKey(0))


def sequence_logprob(model: PaLI, params, images, prefix, tokens):
    """The summed log-probability of ``tokens`` (B, T; PAD after EOS) under teacher forcing
    (PAD excluded from the softmax, as the decoders do): what their scores should equal."""
    decoder_input = jnp.concatenate([jnp.full((tokens.shape[0], 1), PAD_ID, jnp.int32),
                                     tokens[:, :-1]], axis=1)
    logits = _without_pad(model.apply({"params": params}, images, prefix, decoder_input))
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), tokens[..., None], -1)[..., 0]
    return (logp * (tokens != PAD_ID)).sum(-1)

