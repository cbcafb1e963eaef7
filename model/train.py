"""``openwebli train``: one train loop for PaLI on a mixture folder.

A jitted step over a ``data`` × ``fsdp`` × ``model`` mesh (model/sharding.py: the batch split
along data and fsdp, parameters and optimizer state sharded by one rules table and initialised
directly sharded, never whole on one device); Adafactor or AdamW on a warmup + cosine or rsqrt
schedule with gradient clipping and optional accumulation; the ViT frozen (its subtree is masked
out of the optimizer and gets no gradient); Orbax checkpoints of the state and of the input
iterator, resumed automatically (a damaged newest checkpoint falls back to the one before).
With several processes (``jax.distributed``) each reads its own slice of the mixture and
process 0 trains the tokenizer.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from pathlib import Path

import grain
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax.training import train_state
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from model import sharding
from model.checkpoints import checkpoints, restore
from model.configs import PaliConfig
from model.data import read_examples, train_dataset
from model.optim import make_optimizer
from model.pali import FROZEN, PaLI
from model.tokenizer import MODEL_FILE, PAD_ID, Tokenizer, load_tokenizer, train_tokenizer
from model.vit import params_from_open_clip

log = logging.getLogger("openwebli.train")


def start_processes(coordinator: str | None = None, num_processes: int | None = None,
                    process_id: int | None = None, auto: bool = False) -> None:
    """Join a multi-process run (``jax.distributed``) before any JAX computation: with a
    coordinator (``HOST:PORT`` of process 0), this process's place among ``num_processes``;
    with ``auto``, what the environment says (TPU VMs, Slurm). Neither: one process."""
    if coordinator is None and not auto:
        if num_processes not in (None, 1) or process_id not in (None, 0):
            raise ValueError("--num-processes / --process-id need --coordinator HOST:PORT")
        return
    if coordinator is not None and (num_processes is None or process_id is None):
        raise ValueError("--coordinator needs --num-processes and --process-id")
    jax.distributed.initialize(coordinator, num_processes, process_id)
    log.info("process %d of %d; %d devices here, %d in all", jax.process_index(),
             jax.process_count(), jax.local_device_count(), jax.device_count())


def _dummy_batch(config: PaliConfig, n: int = 1) -> dict:
    s = config.image_size
    return {"image": np.zeros((n, s, s, 3), np.float32),
            "prefix": np.zeros((n, config.max_prefix_len), np.int32),
            "decoder_input": np.zeros((n, config.max_target_len), np.int32)}


def create_state(config: PaliConfig, scorer_checkpoint: str | None = None, warn: bool = True,
                 mesh: Mesh | None = None):
    """Fresh train state, laid out on ``mesh`` (the config's, by default) as it is created:
    the state's shapes from ``jax.eval_shape``, then one jitted init whose outputs are sharded.
    The ViT's weights come from the scorer's open_clip checkpoint."""
    model, tx = PaLI(config), make_optimizer(config)
    b = _dummy_batch(config)

    def init(rng):
        params = model.init(rng, b["image"], b["prefix"], b["decoder_input"])["params"]
        return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)

    mesh = mesh or sharding.make_mesh(config)
    rng = jax.random.PRNGKey(config.seed)
    layout = sharding.shardings(jax.eval_shape(init, rng), mesh)
    state = jax.jit(init, out_shardings=layout)(rng)
    if scorer_checkpoint:
        vit = _vit_from_scorer(scorer_checkpoint, config, state.params[FROZEN])
        params = {**state.params, FROZEN: jax.device_put(vit, layout.params[FROZEN])}
        state = state.replace(params=params)
    elif warn:
        log.warning("no scorer checkpoint: the frozen ViT keeps its random initialisation")
    return state


def _vit_from_scorer(path: str, config: PaliConfig, expected) -> dict:
    import torch

    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    params = params_from_open_clip(state_dict, heads=config.vit_heads)
    params.pop("proj", None)  # PaLI reads patch tokens, not the contrastive embedding
    shapes = lambda t: jax.tree.map(np.shape, t)  # of sharded arrays too, without gathering
    if shapes(params) != shapes(expected):
        raise ValueError(f"scorer checkpoint {path} does not match the config's ViT "
                         f"(width {config.vit_width}, layers {config.vit_layers})")
    log.info("frozen ViT initialised from %s", path)
    return params


def loss_fn(params, apply_fn, batch):
    """Teacher-forced cross-entropy, averaged over the target's non-pad tokens."""
    logits = apply_fn({"params": params}, batch["image"], batch["prefix"], batch["decoder_input"])
    weights = (batch["target"] != PAD_ID).astype(jnp.float32)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"])
    return (losses * weights).sum() / jnp.maximum(weights.sum(), 1.0)


def train_step(state, batch, grad_accum: int = 1):
    """One optimizer update on ``batch``; with ``grad_accum`` > 1 the batch is split into that
    many micro-batches, run one after the other (less activation memory), and their gradients
    averaged: the same update as the whole batch at once, up to float rounding."""
    grad_fn = jax.value_and_grad(loss_fn)
    if grad_accum == 1:
        loss, grads = grad_fn(state.params, state.apply_fn, batch)
        return state.apply_gradients(grads=grads), loss
    micro = jax.tree.map(lambda x: x.reshape(grad_accum, x.shape[0] // grad_accum,
                                             *x.shape[1:]), batch)

    def add(total, one):
        loss, grads = grad_fn(state.params, state.apply_fn, one)
        return jax.tree.map(jnp.add, total, (loss, grads)), None

    zeros = (jnp.zeros(()), jax.tree.map(jnp.zeros_like, state.params))
    (loss, grads), _ = jax.lax.scan(add, zeros, micro)
    scale = lambda x: x / grad_accum
    return state.apply_gradients(grads=jax.tree.map(scale, grads)), scale(loss)


def _tokenizer(data_dir: str, workdir: Path, config: PaliConfig) -> Path:
    """The workdir's tokenizer: the first time, the config's ``tokenizer`` model file (with the
    extra tokens appended) or one trained on the mixture's prefixes and targets."""
    path = workdir / MODEL_FILE
    if jax.process_index() == 0 and not path.exists():
        if config.tokenizer:
            load_tokenizer(config.tokenizer, workdir)
        else:
            texts = [t for ex in read_examples(data_dir) for t in (ex["prefix"], ex["target"])]
            train_tokenizer(texts, workdir, config.vocab_size)
    if jax.process_count() > 1:  # the other processes wait for process 0's tokenizer
        multihost_utils.sync_global_devices("openwebli tokenizer")
    size = Tokenizer(path).vocab_size
    if size > config.vocab_size:
        raise ValueError(f"tokenizer has {size} pieces but the config's vocab_size is "
                         f"{config.vocab_size}")
    return path


TRUNCATION_SAMPLE = 10_000  # examples of each task checked for over-long prefixes and targets


def truncated(examples, tokenizer: Tokenizer, config: PaliConfig) -> dict:
    """How many of ``examples`` the config's lengths cut: prefixes longer than max_prefix_len
    tokens, targets (with EOS) longer than max_target_len."""
    prefix = sum(len(tokenizer.sp.encode(ex["prefix"])) > config.max_prefix_len for ex in examples)
    target = sum(len(tokenizer.sp.encode(ex["target"])) + 1 > config.max_target_len
                 for ex in examples)
    return {"examples": len(examples), "prefix": prefix, "target": target}


def _warn_if_truncated(data_dir: str, tokenizer_path: str, config: PaliConfig) -> None:
    examples = read_examples(data_dir, limit=TRUNCATION_SAMPLE)
    cut = truncated(examples, Tokenizer(tokenizer_path), config)
    if cut["prefix"] or cut["target"]:
        log.warning("of %d examples, %d prefixes are longer than max_prefix_len=%d tokens and %d "
                    "targets longer than max_target_len=%d: they are cut (raise them in the "
                    "config)", cut["examples"], cut["prefix"], config.max_prefix_len,
                    cut["target"], config.max_target_len)


def jit_step(mesh: Mesh, state, grad_accum: int = 1):
    """The train step jitted for ``state``'s layout on ``mesh`` (the state stays as it is laid
    out, the loss is replicated)."""
    layout = sharding.shardings(state, mesh)
    step = functools.partial(train_step, grad_accum=grad_accum)
    return jax.jit(step, in_shardings=(layout, sharding.batch_sharding(mesh)),
                   out_shardings=(layout, NamedSharding(mesh, P())), donate_argnums=0)


def train(config: PaliConfig, data_dir: str, workdir: str,
          scorer_checkpoint: str | None = None) -> dict:
    """Train for ``config.steps`` (resuming from the latest checkpoint); return loss figures."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        (work / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    mesh = sharding.make_mesh(config)
    splits = mesh.shape["data"] * mesh.shape["fsdp"]
    if config.batch_size % splits:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the mesh's "
                         f"data × fsdp = {splits}")
    log.info("mesh %s over %d devices", sharding.describe(mesh), mesh.size)
    tokenizer_path = str(_tokenizer(data_dir, work, config))
    if jax.process_index() == 0:
        _warn_if_truncated(data_dir, tokenizer_path, config)
    state = create_state(config, scorer_checkpoint, mesh=mesh)
    batches = iter(train_dataset(data_dir, tokenizer_path, config, 0, jax.process_index(),
                                 jax.process_count()))
    manager = checkpoints(work)
    state = restore(manager, state, batches) or state  # the iterator is restored in place
    metrics = work / METRICS_FILE if jax.process_index() == 0 else None
    return _loop(state, jit_step(mesh, state, config.grad_accum), batches,
                 sharding.batch_sharding(mesh), manager, config, metrics,
                 _periodic_eval(config, data_dir, tokenizer_path))


def _periodic_eval(config: PaliConfig, data_dir: str, tokenizer_path: str):
    """``evaluate(state) → {task: metrics}`` on the validation split, or None where
    ``eval_every`` is 0 or the run has several processes (each would need its share of the
    decoding; evaluate their checkpoints with ``openwebli eval`` instead)."""
    if not config.eval_every:
        return None
    if jax.process_count() > 1:
        log.warning("eval_every is not run with several processes; evaluate the checkpoints "
                    "with `openwebli eval`")
        return None
    from model.evaluate import evaluate_folder
    from model.predict import Predictor

    tokenizer = Tokenizer(tokenizer_path)

    def evaluate(state) -> dict:
        predictor = Predictor(config, state.params, tokenizer, step=int(state.step))
        tasks = evaluate_folder(predictor, data_dir, "validation", limit=config.eval_examples)
        return {task: {"metric": m["metric"], "value": m["value"], "examples": m["examples"]}
                for task, m in tasks.items()}
    return evaluate


def _global_batch(local: dict, batch_spec: NamedSharding) -> dict:
    """This process's rows → one array over the whole mesh (device_put with one process)."""
    return {k: jax.make_array_from_process_local_data(batch_spec, v) for k, v in local.items()}


METRICS_FILE = "metrics.jsonl"  # one JSON object a logged step, appended (a resumed run adds)


def _log_metrics(path: Path | None, record: dict) -> None:
    if path is not None:
        with path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def _loop(state, step_fn, batches, batch_spec, manager, config: PaliConfig,
          metrics: Path | None = None, evaluate=None) -> dict:
    losses, start, first = [], time.time(), int(state.step)
    while int(state.step) < config.steps:
        state, loss = step_fn(state, _global_batch(next(batches), batch_spec))
        step = int(state.step)
        losses.append(float(loss))
        if step % config.log_every == 0 or step == config.steps:
            seconds = time.time() - start
            rate = (step - first) * config.batch_size / seconds
            log.info("step %4d/%d  loss %.4f  %.2f steps/s  %.1f examples/s", step, config.steps,
                     losses[-1], (step - first) / seconds, rate)
            _log_metrics(metrics, {"step": step, "loss": losses[-1], "examples_per_s": rate})
        if evaluate and (step % config.eval_every == 0 or step == config.steps):
            _log_metrics(metrics, {"step": step, "split": "validation", "eval": evaluate(state)})
        if step % config.checkpoint_every == 0 or step == config.steps:
            manager.save(step, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(batches)))
    manager.wait_until_finished()
    return _summary(losses, int(state.step), time.time() - start, config.batch_size)


def _summary(losses: list[float], steps: int, seconds: float, batch_size: int) -> dict:
    """first/last loss: means over the first/last few steps (a single step's loss is noisy)."""
    window = max(1, min(10, len(losses) // 4))
    mean = lambda xs: float(np.mean(xs)) if xs else float("nan")
    return {"steps": steps, "trained_steps": len(losses),
            "first_loss": mean(losses[:window]), "last_loss": mean(losses[-window:]),
            "seconds": round(seconds, 1),
            "examples_per_s": round(len(losses) * batch_size / max(seconds, 1e-9), 1)}
