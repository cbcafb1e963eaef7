"""``openwebli train``: one train loop for PaLI on a mixture folder.

A jitted step over a ``jax.sharding.Mesh`` (batch split along ``data``, params replicated),
optax AdamW with warmup + cosine decay and gradient clipping, the ViT frozen (its subtree is
masked out of the optimizer and gets no gradient), Orbax checkpoints with resume.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from model.configs import PaliConfig
from model.data import read_examples, train_dataset
from model.pali import FROZEN, PaLI
from model.tokenizer import MODEL_FILE, PAD_ID, Tokenizer, train_tokenizer
from model.vit import params_from_open_clip

log = logging.getLogger("openwebli.train")


def make_optimizer(config: PaliConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        config.learning_rate / max(1, config.warmup_steps), config.learning_rate, config.warmup_steps, max(config.steps, config.warmup_steps + 1))
    trainable = optax.chain(optax.clip_by_global_norm(config.grad_clip),
                            optax.adamw(schedule, weight_decay=config.weight_decay))
    labels = lambda params: {k: "frozen" if k == FROZEN else "trainable" for k in params}
    return optax.multi_transform({"trainable": trainable, "frozen": optax.set_to_zero()}, labels)


def _dummy_batch(config: PaliConfig, n: int = 1) -> dict:
    s = config.image_size
    return {"image": np.zeros((n, s, s, 3), np.float32),
            "prefix": np.zeros((n, config.max_prefix_len), np.int32),
            "decoder_input": np.zeros((n, config.max_target_len), np.int32)}


def create_state(config: PaliConfig, scorer_checkpoint: str | None = None, warn: bool = True):
    """Fresh train state; the ViT's weights come from the scorer's open_clip checkpoint."""
    model = PaLI(config)
    b = _dummy_batch(config)
    params = model.init(jax.random.PRNGKey(config.seed), b["image"], b["prefix"],
                        b["decoder_input"])["params"]
    if scorer_checkpoint:
        params = dict(params)
        params[FROZEN] = _vit_from_scorer(scorer_checkpoint, config, params[FROZEN])
    elif warn:
        log.warning("no scorer checkpoint: the frozen ViT keeps its random initialisation")
    return train_state.TrainState.create(apply_fn=model.apply, params=params,
                                         tx=make_optimizer(config))


def _vit_from_scorer(path: str, config: PaliConfig, expected) -> dict:
    import torch

    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    params = params_from_open_clip(state_dict, config.vit_layers, config.vit_heads)
    params.pop("proj")
    shapes = lambda t: jax.tree.map(np.shape, t)
    if shapes(params) != shapes(jax.device_get(expected)):
        raise ValueError(f"scorer checkpoint {path} does not match the config's ViT "
                         f"(width {config.vit_width}, layers {config.vit_layers})")
    log.info("frozen ViT initialised from %s", path)
    return jax.tree.map(jnp.asarray, params)


def loss_fn(params, apply_fn, batch):
    logits = apply_fn({"params": params}, batch["image"], batch["prefix"], batch["decoder_input"])
    weights = (batch["target"] != PAD_ID).astype(jnp.float32)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"])
    return (losses * weights).sum() / jnp.maximum(weights.sum(), 1.0)


def train_step(state, batch):
    loss, grads = jax.value_and_grad(loss_fn)(state.params, state.apply_fn, batch)
    return state.apply_gradients(grads=grads), loss


def _tokenizer(data_dir: str, workdir: Path, config: PaliConfig) -> Path:
    path = workdir / MODEL_FILE
    if not path.exists():
        texts = [t for ex in read_examples(data_dir) for t in (ex.prefix, ex.target)]
        train_tokenizer(texts, workdir, config.vocab_size)
    size = Tokenizer(path).vocab_size
    if size > config.vocab_size:
        raise ValueError(f"tokenizer has {size} pieces but the config's vocab_size is "
                         f"{config.vocab_size}")
    return path


def _checkpoints(workdir: Path, config: PaliConfig) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=2, save_interval_steps=1)
    return ocp.CheckpointManager((workdir / "checkpoints").resolve(), options=options)


def _shard(mesh: Mesh, state, batch_spec):
    replicated = NamedSharding(mesh, P())
    state = jax.device_put(state, replicated)
    step = jax.jit(train_step, in_shardings=(replicated, batch_spec),
                   out_shardings=(replicated, replicated), donate_argnums=0)
    return state, step


def train(config: PaliConfig, data_dir: str, workdir: str,
          scorer_checkpoint: str | None = None) -> dict:
    """Train for ``config.steps`` (resuming from the latest checkpoint); return loss figures."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    mesh = Mesh(np.array(jax.devices()), ("data",))
    if config.batch_size % mesh.size:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by {mesh.size} devices")
    batches = iter(train_dataset(data_dir, str(_tokenizer(data_dir, work, config)), config))
    state = create_state(config, scorer_checkpoint)
    manager = _checkpoints(work, config)
    if manager.latest_step() is not None:
        state = manager.restore(manager.latest_step(), args=ocp.args.StandardRestore(state))
        log.info("resumed from step %d", int(state.step))
    batch_spec = NamedSharding(mesh, P("data"))
    state, step_fn = _shard(mesh, state, batch_spec)
    return _loop(state, step_fn, batches, batch_spec, manager, config)


def _loop(state, step_fn, batches, batch_spec, manager, config: PaliConfig) -> dict:
    losses, start, first = [], time.time(), int(state.step)
    while int(state.step) < config.steps:
        batch = jax.device_put(next(batches), batch_spec)
        state, loss = step_fn(state, batch)
        step = int(state.step)
        losses.append(float(loss))
        if step % config.log_every == 0 or step == config.steps:
            rate = (step - first) * config.batch_size / (time.time() - start)
            log.info("step %4d/%d  loss %.4f  %.1f examples/s", step, config.steps, losses[-1], rate)
        if step % config.checkpoint_every == 0 or step == config.steps:
            manager.save(step, args=ocp.args.StandardSave(state))
    manager.wait_until_finished()
    seconds = time.time() - start
    window = max(1, min(10, len(losses) // 4))
    return {"steps": int(state.step), "trained_steps": len(losses),
            "first_loss": float(np.mean(losses[:window])) if losses else float("nan"),
            "last_loss": float(np.mean(losses[-window:])) if losses else float("nan"),
            "seconds": round(seconds, 1),
            "examples_per_s": round(len(losses) * config.batch_size / max(seconds, 1e-9), 1)}
