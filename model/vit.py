"""A Flax ViT that mirrors open_clip's VisionTransformer, and the weight import from it.

Mirrors the scorer's tower as open_clip builds it (``pool_type='tok'``,
``final_ln_after_pool=False``, no layer scale, exact GELU): conv1 without bias → class
token + positional embedding → ln_pre → pre-LN blocks → ln_post on every token. PaLI uses
the per-patch tokens (after ln_post, class token dropped); ``pooled`` (class token →
``proj``) reproduces open_clip's ``encode_image`` and is what proves the import.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

_LN_EPS = 1e-5  # torch.nn.LayerNorm's default


class _Block(nn.Module):
    width: int
    heads: int
    mlp_dim: int

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm(epsilon=_LN_EPS, name="ln_1")(x)
        h = nn.MultiHeadDotProductAttention(num_heads=self.heads, name="attn")(h, h)
        x = x + h
        h = nn.LayerNorm(epsilon=_LN_EPS, name="ln_2")(x)
        h = nn.Dense(self.mlp_dim, name="c_fc")(h)
        h = nn.Dense(self.width, name="c_proj")(nn.gelu(h, approximate=False))
        return x + h


class ViT(nn.Module):
    """Images (B, H, W, 3), normalised as open_clip expects → (patch tokens, pooled)."""

    width: int
    layers: int
    heads: int
    patch_size: int
    embed_dim: int | None = None  # when set, ``pooled`` is projected like open_clip's
    mlp_dim: int = 0  # 0: 4 × width, open_clip's default (ViT-G/14: 8192 for width 1664)

    @nn.compact
    def __call__(self, images):
        x = nn.Conv(self.width, (self.patch_size,) * 2, strides=(self.patch_size,) * 2,
                    padding="VALID", use_bias=False, name="conv1")(images)
        b, h, w, c = x.shape
        x = x.reshape(b, h * w, c)
        cls = self.param("class_embedding", nn.initializers.normal(c ** -0.5), (c,))
        x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, c)), x], axis=1)
        pos = self.param("positional_embedding", nn.initializers.normal(c ** -0.5), x.shape[1:])
        x = nn.LayerNorm(epsilon=_LN_EPS, name="ln_pre")(x + pos)
        for i in range(self.layers):
            x = _Block(self.width, self.heads, self.mlp_dim or 4 * self.width,
                       name=f"block_{i}")(x)
        x = nn.LayerNorm(epsilon=_LN_EPS, name="ln_post")(x)
        pooled = x[:, 0]
        if self.embed_dim:
            proj = self.param("proj", nn.initializers.normal(c ** -0.5), (c, self.embed_dim))
            pooled = pooled @ proj
        return x[:, 1:], pooled


def _ln(sd, key):
    return {"scale": sd[f"{key}.weight"], "bias": sd[f"{key}.bias"]}


def _dense(sd, key):
    return {"kernel": sd[f"{key}.weight"].T, "bias": sd[f"{key}.bias"]}


def _attention(sd, key, heads: int):
    w, bias = sd[f"{key}.in_proj_weight"], sd[f"{key}.in_proj_bias"]
    width = w.shape[1]
    out = {}
    for name, wi, bi in zip(("query", "key", "value"), np.split(w, 3), np.split(bias, 3)):
        out[name] = {"kernel": wi.T.reshape(width, heads, width // heads),
                     "bias": bi.reshape(heads, width // heads)}
    out["out"] = {"kernel": sd[f"{key}.out_proj.weight"].T.reshape(heads, width // heads, width),
                  "bias": sd[f"{key}.out_proj.bias"]}
    return out


def _visual_state(source) -> tuple[dict, int | None]:
    """(the visual tower's weights as float32 numpy, keyed without ``visual.``; its head count
    when ``source`` is a module)."""
    heads = None
    if hasattr(source, "state_dict"):  # a torch module: the CLIP model or its ``.visual``
        source = getattr(source, "visual", source)
        heads = source.transformer.resblocks[0].attn.num_heads
        source = source.state_dict()
    if any(k.startswith("visual.") for k in source):  # a whole CLIP state dict
        source = {k[len("visual."):]: v for k, v in source.items() if k.startswith("visual.")}
    to_numpy = lambda v: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v,
                                    dtype=np.float32)
    return {k: to_numpy(v) for k, v in source.items()}, heads


def params_from_open_clip(source, heads: int | None = None) -> dict:
    """open_clip weights → this ViT's Flax params (with ``proj`` when the tower has one).

    ``source``: a CLIP model, its ``.visual``, or a state dict of either (torch tensors or
    arrays); a state dict does not record the head count, so pass ``heads`` with one.
    """
    sd, module_heads = _visual_state(source)
    heads = heads or module_heads
    if not heads:
        raise ValueError("a state dict does not say how many attention heads the ViT has: "
                         "pass heads=")
    layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")})
    params = {
        "conv1": {"kernel": sd["conv1.weight"].transpose(2, 3, 1, 0)},  # OIHW → HWIO
        "class_embedding": sd["class_embedding"],
        "positional_embedding": sd["positional_embedding"],
        "ln_pre": _ln(sd, "ln_pre"),
        "ln_post": _ln(sd, "ln_post"),
    }
    if "proj" in sd:
        params["proj"] = sd["proj"]
    for i in range(layers):
        key = f"transformer.resblocks.{i}"
        params[f"block_{i}"] = {
            "ln_1": _ln(sd, f"{key}.ln_1"), "ln_2": _ln(sd, f"{key}.ln_2"),
            "attn": _attention(sd, f"{key}.attn", heads),
            "c_fc": _dense(sd, f"{key}.mlp.c_fc"), "c_proj": _dense(sd, f"{key}.mlp.c_proj"),
        }
    return params
