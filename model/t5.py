"""An mT5-style encoder-decoder in Flax: pre-RMSNorm, no biases, gated-GELU MLP and T5's
bucketed relative position bias (computed once per stack, shared by its layers)."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
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
    heads: int
    head_dim: int
    dtype: Any = jnp.float32  # of the computation; parameters stay float32

    @nn.compact
    def __call__(self, x, kv, bias):
        dense = lambda name: nn.DenseGeneral((self.heads, self.head_dim), use_bias=False,
                                             dtype=self.dtype, name=name)
        q, k, v = dense("q")(x), dense("k")(kv), dense("v")(kv)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(self.head_dim) + bias
        weights = nn.softmax(logits.astype(jnp.float32), axis=-1).astype(self.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        return nn.DenseGeneral(x.shape[-1], axis=(-2, -1), use_bias=False, dtype=self.dtype,
                               name="o")(out)


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

    @nn.compact
    def __call__(self, y, encoded, self_bias, cross_bias):
        norm = lambda name: nn.RMSNorm(dtype=self.dtype, name=name)
        attention = lambda name: Attention(self.heads, self.head_dim, self.dtype, name=name)
        h = norm("pre_self_attention_norm")(y)
        y = y + attention("self_attention")(h, h, self_bias)
        h = norm("pre_cross_attention_norm")(y)
        y = y + attention("cross_attention")(h, encoded, cross_bias)
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

    def run_layers(self, cls, x, *shared):
        """``x`` through the stack's layers of ``cls``, each also given ``shared``."""
        layer = nn.remat(cls) if self.remat else cls
        args = (self.heads, self.head_dim, self.mlp_dim, self.dtype)
        if self.scan:
            stack = nn.scan(layer, variable_axes={"params": 0}, split_rngs={"params": True},
                            in_axes=(nn.broadcast,) * len(shared), length=self.layers)
            return stack(*args, True, name="layers")(x, *shared)[0]
        for i in range(self.layers):
            x = layer(*args, name=f"layer_{i}")(x, *shared)
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
    def __call__(self, y, encoded, encoder_mask):
        n = y.shape[1]
        causal = jnp.where(jnp.tril(jnp.ones((n, n), bool)), 0.0, NEG_INF)[None, None]
        self_bias = RelativeBias(self.heads, self.num_buckets, self.max_distance, False,
                                 name="relpos")(n, n) + causal
        cross_bias = padding_bias(encoder_mask)
        y = self.run_layers(DecoderLayer, y, encoded, self_bias, cross_bias)
        return nn.RMSNorm(dtype=self.dtype, name="final_norm")(y)
