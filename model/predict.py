"""``openwebli predict``: greedy decoding from a trained PaLI workdir.

Each decoding step reruns the decoder over the whole fixed-length buffer (no KV cache): simple
and jit-friendly, and cheap at these target lengths.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from model.configs import PaliConfig
from model.data import decode_image
from model.pali import PaLI
from model.tokenizer import EOS_ID, MODEL_FILE, PAD_ID, Tokenizer
from model.checkpoints import checkpoints, restore
from model.train import create_state


class Predictor:
    """A trained PaLI with its tokenizer; ``encode`` and ``decode`` are jitted once."""

    def __init__(self, config: PaliConfig, params, tokenizer: Tokenizer):
        self.config, self.params, self.tokenizer = config, params, tokenizer
        self.model = PaLI(config)
        self._encode = jax.jit(functools.partial(self.model.apply, method=PaLI.encode))
        self._decode = jax.jit(functools.partial(self.model.apply, method=PaLI.decode))

    def predict(self, image_bytes: bytes, prompt: str, max_len: int = 32) -> str:
        """Greedy decoding of at most ``max_len`` tokens (capped at the config's target length)."""
        c = self.config
        max_len = min(max_len, c.max_target_len)
        image = decode_image(image_bytes, c.image_size)[None]
        prefix = self.tokenizer.encode(prompt, c.max_prefix_len)[None]
        encoded, mask = self._encode({"params": self.params}, image, prefix)
        buffer = np.full((1, c.max_target_len), PAD_ID, np.int32)  # position 0: the start token
        out = []
        for i in range(max_len):
            logits = self._decode({"params": self.params}, encoded, mask, jnp.asarray(buffer))
            token = int(jnp.argmax(logits[0, i]))
            if token == EOS_ID:
                break
            out.append(token)
            if i + 1 < c.max_target_len:
                buffer[0, i + 1] = token
        return self.tokenizer.decode(out)


def load(workdir: str) -> Predictor:
    """The latest checkpoint of an ``openwebli train`` workdir."""
    work = Path(workdir)
    if not (work / "config.json").exists():
        raise FileNotFoundError(f"{workdir} is not a training workdir (no config.json)")
    config = PaliConfig(**json.loads((work / "config.json").read_text()))
    state = restore(checkpoints(work), create_state(config, warn=False))
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {work / 'checkpoints'}")
    return Predictor(config, state.params, Tokenizer(work / MODEL_FILE))
