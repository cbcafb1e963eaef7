"""PaLI: a frozen ViT's patch tokens + the embedded text prefix → T5-style encoder → decoder."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from model.configs import PaliConfig
from model.t5 import Decoder, Encoder
from model.tokenizer import PAD_ID
from model.vit import ViT

FROZEN = "vit"  # the params subtree the optimizer never updates


class PaLI(nn.Module):
    """(images, prefix ids, decoder input ids) → target logits. The token embedding is shared by
    the encoder's prefix and the decoder's input; the output head is separate, as in mT5."""

    config: PaliConfig

    def setup(self):
        c = self.config
        dtype = jnp.dtype(c.compute_dtype)  # parameters stay float32 (the master weights)
        self.vit = ViT(width=c.vit_width, layers=c.vit_layers, heads=c.vit_heads,
                       patch_size=c.patch_size, mlp_dim=c.vit_mlp_dim)
        self.image_projection = nn.Dense(c.d_model, use_bias=False, dtype=dtype)
        self.embed = nn.Embed(c.vocab_size, c.d_model, embedding_init=nn.initializers.normal(1.0),
                              dtype=dtype)
        stack = dict(heads=c.heads, head_dim=c.head_dim, mlp_dim=c.mlp_dim,
                     num_buckets=c.rel_buckets, max_distance=c.rel_max_distance, dtype=dtype,
                     remat=bool(c.remat), scan=bool(c.scan_layers))
        self.encoder = Encoder(layers=c.enc_layers, **stack)
        self.decoder = Decoder(layers=c.dec_layers, **stack)
        self.lm_head = nn.Dense(c.vocab_size, use_bias=False, dtype=dtype)

    def encode(self, images, prefix):
        """→ (encoded (B, patches + prefix, D), mask). The ViT gets no gradient."""
        patches = jax.lax.stop_gradient(self.vit(images)[0])
        x = jnp.concatenate([self.image_projection(patches), self.embed(prefix)], axis=1)
        mask = jnp.concatenate([jnp.ones(patches.shape[:2], bool), prefix != PAD_ID], axis=1)
        return self.encoder(x, mask), mask

    def decode(self, encoded, mask, decoder_input, decode_len: int = 0):
        """→ float32 logits (the loss's softmax in full precision). With ``decode_len``, one
        position a call from a key/value cache (``model/decode.py``)."""
        y = self.decoder(self.embed(decoder_input), encoded, mask, decode_len)
        return self.lm_head(y).astype(jnp.float32)

    def __call__(self, images, prefix, decoder_input):
        encoded, mask = self.encode(images, prefix)
        return self.decode(encoded, mask, decoder_input)



def param_counts(config: PaliConfig) -> dict[str, int]:
    """Parameters per component, from ``jax.eval_shape`` of the init (nothing is allocated):
    the ViT, the text model (mT5: encoder, decoder, shared embedding, output head), the image
    projection between them, and the total."""
    import numpy as np

    s = config.image_size
    images, tokens = np.zeros((1, s, s, 3), np.float32), np.zeros((1, 1), np.int32)
    shapes = jax.eval_shape(lambda rng: PaLI(config).init(rng, images, tokens, tokens)["params"],
                            jax.random.PRNGKey(0))
    size = lambda tree: sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))
    parts = {name: size(tree) for name, tree in shapes.items()}
    counts = {"vit": parts["vit"], "encoder": parts["encoder"], "decoder": parts["decoder"],
              "embeddings": parts["embed"] + parts["lm_head"],
              "image_projection": parts["image_projection"]}
    counts["text"] = counts["encoder"] + counts["decoder"] + counts["embeddings"]
    counts["total"] = sum(parts.values())
    return counts
