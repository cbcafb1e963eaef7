"""The optimizer: Adafactor (T5's and PaLI's) or AdamW on a warmup + cosine or rsqrt schedule,
with global-norm clipping; the frozen ViT's subtree gets zero updates."""
from __future__ import annotations

import jax.numpy as jnp
import optax

from model.configs import PaliConfig
from model.pali import FROZEN


def make_schedule(config: PaliConfig) -> optax.Schedule:
    """Linear warmup to the peak, then cosine decay to 0 at ``steps`` or T5's inverse square
    root (peak × sqrt(warmup / step))."""
    peak, warmup = config.learning_rate, max(1, config.warmup_steps)
    if config.schedule == "rsqrt":
        return lambda step: peak * jnp.minimum((step + 1) / warmup,
                                               jnp.sqrt(warmup / jnp.maximum(step + 1, warmup)))
    return optax.warmup_cosine_decay_schedule(
        init_value=peak / warmup, peak_value=peak, warmup_steps=config.warmup_steps,
        decay_steps=max(config.steps, config.warmup_steps + 1))


def make_optimizer(config: PaliConfig) -> optax.GradientTransformation:
    """Adafactor (T5's and PaLI's; factored second moments: little optimizer memory) or AdamW,
    on the config's schedule, with clipping; the ViT subtree gets zero updates."""
    schedule = make_schedule(config)
    if config.optimizer == "adafactor":
        update = optax.adafactor(schedule, weight_decay_rate=config.weight_decay or None)
    else:
        update = optax.adamw(schedule, weight_decay=config.weight_decay)
    trainable = optax.chain(optax.clip_by_global_norm(config.grad_clip), update)
    labels = lambda params: {k: "frozen" if k == FROZEN else "trainable" for k in params}
    return optax.multi_transform({"trainable": trainable, "frozen": optax.set_to_zero()}, labels)
