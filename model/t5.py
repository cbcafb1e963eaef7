"""An mT5-style encoder-decoder in Flax: pre-RMSNorm, no biases, gated-GELU MLP and T5's
bucketed relative position bias (computed once per stack, shared by its layers)."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

NEG_INF = -1e9


def relative_buckets(relative: np.ndarray, bidirectional: bool, num_buckets: int,
                     max_distance: int) -> np.ndarray:
    """T5's bucketing of key − query offsets: exact for small offsets, logarithmic beyond."""
    buckets = np.zeros_like(relative)
    n = -relative
    if bidirectional:
        num_buckets //= 2
        buckets += (n < 0).astype(np.int32) * num_buckets
        n = np.abs(n)
    else:
        n = np.maximum(n, 0)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    safe = np.maximum(n, 1).astype(np.float32)
    large = max_exact + (np.log(safe / max_exact) / np.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).astype(np.int32)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(is_small, n, large)


class RelativeBias(nn.Module):
    heads: int
    num_buckets: int
    max_distance: int
    bidirectional: bool

    @nn.compact
    def __call__(self, q_len: int, k_len: int):
        rel = np.arange(k_len)[None, :] - np.arange(q_len)[:, None]
        idx = relative_buckets(rel, self.bidirectional, self.num_buckets, self.max_distance)
        table = self.param("rel_embedding", nn.initializers.normal(0.1),
                           (self.num_buckets, self.heads))
        return jnp.transpose(table[idx], (2, 0, 1))[None]  # (1, heads, q, k)


class Attention(nn.Module):
    """Multi-head attention. ``cache`` makes it an incremental decoder's (Flax's "cache"
    collection, created on the first call with ``mutable=["cache"]``):
    - "self": ``x`` is one new position; its key and value are written at the cache's index into
      buffers as long as ``bias``'s key axis, and the query attends to all of them (``bias``
      masks the positions not yet written);
    - "cross": the keys and values of ``kv`` (the encoder's output) are projected once, when the
      cache is created, and reused at every later step."""

    heads: int
    head_dim: int
    dtype: Any = jnp.float32  # of the computation; parameters stay float32

    @nn.compact
    def __call__(self, x, kv, bias, cache: str = ""):
        dense = lambda name: nn.DenseGeneral((self.heads, self.head_dim), use_bias=False,
                                             dtype=self.dtype, name=name)
        q = dense("q")(x)
        if cache == "cross":
            k = self.variable("cache", "key", lambda: dense("k")(kv)).value
            v = self.variable("cache", "value", lambda: dense("v")(kv)).value
        else:
            k, v = dense("k")(kv), dense("v")(kv)
            if cache == "self":
                k, v = self._append(k, v, bias.shape[-1])
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(self.head_dim) + bias
        weights = nn.softmax(logits.astype(jnp.float32), axis=-1).astype(self.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        return nn.DenseGeneral(x.shape[-1], axis=(-2, -1), use_bias=False, dtype=self.dtype,
                               name="o")(out)

    def _append(self, k, v, length: int):
        """This step's key and value (B, 1, H, D) written into the (B, length, H, D) buffers."""
        shape = (k.shape[0], length, self.heads, self.head_dim)
        keys = self.variable("cache", "key", jnp.zeros, shape, k.dtype)
        values = self.variable("cache", "value", jnp.zeros, shape, v.dtype)
        index = self.variable("cache", "index", lambda: jnp.zeros((), jnp.int32))
        at = (0, index.value, 0, 0)
        keys.value = jax.lax.dynamic_update_slice(keys.value, k, at)
        values.value = jax.lax.dynamic_update_slice(values.value, v, at)
        index.value = index.value + 1
        return keys.value, values.value


class GatedMlp(nn.Module):
    mlp_dim: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        dense = lambda n, name: nn.Dense(n, use_bias=False, dtype=self.dtype, name=name)
        gate = nn.gelu(dense(self.mlp_dim, "wi_0")(x))
        h = gate * dense(self.mlp_dim, "wi_1")(x)
        return dense(x.shape[-1], "wo")(h)


class EncoderLayer(nn.Module):
    heads: int
    head_dim: int
    mlp_dim: int
    dtype: Any = jnp.float32
    scanned: bool = False  # under nn.scan: return (carry, nothing)

    @nn.compact
    def __call__(self, x, bias):
        norm = lambda name: nn.RMSNorm(dtype=self.dtype, name=name)
        h = norm("pre_attention_norm")(x)
        x = x + Attention(self.heads, self.head_dim, self.dtype, name="attention")(h, h, bias)
        x = x + GatedMlp(self.mlp_dim, self.dtype, name="mlp")(norm("pre_mlp_norm")(x))
        return (x, None) if self.scanned else x


class DecoderLayer(nn.Module):
    heads: int
    head_dim: int
    mlp_dim: int
    dtype: Any = jnp.float32
    scanned: bool = False
    decode: bool = False  # one position a call, keys and values cached (``Attention``)

    @nn.compact
    def __call__(self, y, encoded, self_bias, cross_bias):
        norm = lambda name: nn.RMSNorm(dtype=self.dtype, name=name)
        attention = lambda name: Attention(self.heads, self.head_dim, self.dtype, name=name)
        h = norm("pre_self_attention_norm")(y)
        y = y + attention("self_attention")(h, h, self_bias, "self" if self.decode else "")
        h = norm("pre_cross_attention_norm")(y)
        y = y + attention("cross_attention")(h, encoded, cross_bias,
                                             "cross" if self.decode else "")
        y = y + GatedMlp(self.mlp_dim, self.dtype, name="mlp")(norm("pre_mlp_norm")(y))
        return (y, None) if self.scanned else y


def padding_bias(key_mask):
    """(B, K) bool → (B, 1, 1, K) additive bias: 0 where attended, −inf-ish where padding."""
    return jnp.where(key_mask, 0.0, NEG_INF)[:, None, None, :]


class _Stack(nn.Module):
    """The shape of an encoder or decoder stack."""

    layers: int
    heads: int
    head_dim: int
    mlp_dim: int
    num_buckets: int
    max_distance: int
    dtype: Any = jnp.float32
    remat: bool = False  # recompute each layer's activations in the backward pass
    scan: bool = False  # one layer's program looped over stacked weights ("layers/…", axis 0)

    def run_layers(self, cls, x, *shared, **fields):
        """``x`` through the stack's layers of ``cls`` (with ``fields``), each also given
        ``shared``. Scanned, the layers' parameters and caches are stacked on axis 0."""
        layer = nn.remat(cls) if self.remat else cls
        args = (self.heads, self.head_dim, self.mlp_dim, self.dtype)
        if self.scan:
            stack = nn.scan(layer, variable_axes={"params": 0, "cache": 0},
                            split_rngs={"params": True}, in_axes=(nn.broadcast,) * len(shared),
                            length=self.layers)
            return stack(*args, scanned=True, **fields, name="layers")(x, *shared)[0]
        for i in range(self.layers):
            x = layer(*args, **fields, name=f"layer_{i}")(x, *shared)
        return x


class Encoder(_Stack):
    @nn.compact
    def __call__(self, x, mask):
        n = x.shape[1]
        bias = RelativeBias(self.heads, self.num_buckets, self.max_distance, True,
                            name="relpos")(n, n) + padding_bias(mask)
        x = self.run_layers(EncoderLayer, x, bias)
        return nn.RMSNorm(dtype=self.dtype, name="final_norm")(x)


class Decoder(_Stack):
    @nn.compact
    def __call__(self, y, encoded, encoder_mask, decode_len: int = 0):
        """Teacher-forced over all of ``y`` (B, T, D); or, with ``decode_len``, one position
        (B, 1, D) a call into a cache of ``decode_len`` positions (see ``Attention``)."""
        relpos = RelativeBias(self.heads, self.num_buckets, self.max_distance, False,
                              name="relpos")
        n = decode_len or y.shape[1]
        bias = relpos(n, n) + jnp.where(jnp.tril(jnp.ones((n, n), bool)), 0.0, NEG_INF)[None, None]
        if decode_len:  # the query's row of the full (causal, relative) bias, at the cache index
            index = self.variable("cache", "index", lambda: jnp.zeros((), jnp.int32))
            bias = jax.lax.dynamic_slice_in_dim(bias, index.value, 1, axis=2)
            index.value = index.value + 1
        y = self.run_layers(DecoderLayer, y, encoded, bias, padding_bias(encoder_mask),
                            decode=bool(decode_len))
        return nn.RMSNorm(dtype=self.dtype, name="final_norm")(y)
