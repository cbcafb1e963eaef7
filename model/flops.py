"""Model FLOPs of PaLI, counted the standard way (as MFU papers do): 2·m·n·k for every matmul of
the forward pass, attention's QKᵀ and AV included; the trained part's backward pass counts twice
its forward; the frozen ViT runs forward only. Elementwise work (norms, softmax, GELU) is left
out, as it is from MFU. Pure arithmetic on the config."""
from __future__ import annotations

from model.configs import PaliConfig


def _attention(q_len: int, kv_len: int, d: int, inner: int) -> int:
    """q, k, v and output projections, QKᵀ and AV: ``inner`` = heads × head dim."""
    return 2 * (q_len * d * inner + 2 * kv_len * d * inner + q_len * inner * d
                + 2 * q_len * kv_len * inner)


def vit_forward(c: PaliConfig) -> int:
    patches = (c.image_size // c.patch_size) ** 2
    tokens, w = patches + 1, c.vit_width
    mlp = c.vit_mlp_dim or 4 * w
    layer = _attention(tokens, tokens, w, w) + 2 * 2 * tokens * w * mlp
    return 2 * patches * c.patch_size ** 2 * 3 * w + c.vit_layers * layer


def trained_forward(c: PaliConfig) -> int:
    """The image projection, the encoder over patches + prefix, the decoder, the output head."""
    patches = (c.image_size // c.patch_size) ** 2
    n_enc, n_dec, d = patches + c.max_prefix_len, c.max_target_len, c.d_model
    gated_mlp = lambda n: 3 * 2 * n * d * c.mlp_dim
    encoder = c.enc_layers * (_attention(n_enc, n_enc, d, d) + gated_mlp(n_enc))
    decoder = c.dec_layers * (_attention(n_dec, n_dec, d, d) + _attention(n_dec, n_enc, d, d)
                              + gated_mlp(n_dec))
    return 2 * patches * c.vit_width * d + encoder + decoder + 2 * n_dec * d * c.vocab_size


def step_flops(c: PaliConfig) -> int:
    """Model FLOPs of one training step of ``batch_size`` examples."""
    return c.batch_size * (vit_forward(c) + 3 * trained_forward(c))
