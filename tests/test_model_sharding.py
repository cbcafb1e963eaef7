"""Sharding on the 2-device simulated mesh (tests/conftest.py): every parameter's logical axes,
the rules table's mesh axes, parameters created sharded, and the same losses on every mesh."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from model import sharding
from model.configs import get_config
from model.data import random_batch


def _abstract_state(config):
    from model.train import create_state

    return jax.eval_shape(lambda: create_state(config, warn=False, mesh=sharding.make_mesh(config)))


@pytest.mark.parametrize("data,fsdp,model,devices,shape", [
    (-1, 1, 1, 8, (8, 1, 1)), (-1, 2, 1, 8, (4, 2, 1)), (2, 2, 2, 8, (2, 2, 2)),
    (1, -1, 1, 8, (1, 8, 1)), (2, 1, -1, 8, (2, 1, 4)),
])
def test_mesh_shapes(data, fsdp, model, devices, shape):
    assert sharding.mesh_shape(data, fsdp, model, devices) == shape


@pytest.mark.parametrize("sizes,error", [
    ((-1, -1, 1, 8), "one may be -1"), ((0, 1, 1, 8), "sizes are positive"),
    ((3, 1, 1, 8), "needs 3 devices; there are 8"), ((-1, 3, 1, 8), "do not split"),
])
def test_mesh_errors(sizes, error):
    with pytest.raises(ValueError, match=error):
        sharding.mesh_shape(*sizes)
    with pytest.raises(ValueError, match="one may be -1"):
        get_config("tiny:mesh_data=-1,mesh_fsdp=-1")


def test_every_parameter_has_logical_axes():
    """The demo config's every parameter and optimizer-state leaf (eval_shape: no memory)."""
    config = get_config("demo:mesh_data=1,mesh_fsdp=2")
    state = _abstract_state(config)
    names = [sharding.path_name(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
    assert len(names) > 100
    specs = sharding.shardings(state, sharding.make_mesh(config))
    flat = {sharding.path_name(p): s.spec
            for p, s in jax.tree_util.tree_flatten_with_path(specs)[0]}
    # by hand from ANNOTATIONS and RULES (model=1 divides everything)
    assert flat["params/encoder/layer_0/attention/q/kernel"] == P("fsdp", "model", None)
    assert flat["params/encoder/layer_0/attention/o/kernel"] == P("model", None, "fsdp")
    assert flat["params/decoder/layer_1/mlp/wo/kernel"] == P("model", "fsdp")
    assert flat["params/embed/embedding"] == P("model", "fsdp")
    assert flat["params/lm_head/kernel"] == P("fsdp", "model")
    assert flat["params/vit/block_0/attn/query/kernel"] == P("fsdp", "model", None)
    assert flat["params/encoder/final_norm/scale"] == P(None)
    assert flat["step"] == P()
    mu = [n for n in flat if n.endswith("mu/encoder/layer_0/attention/q/kernel")]
    assert len(mu) == 1 and flat[mu[0]] == flat["params/encoder/layer_0/attention/q/kernel"]
    with pytest.raises(ValueError, match="parameter encoder/new_layer/gamma has no logical axes"):
        sharding.logical_axes("encoder/new_layer/gamma", 1)


def test_a_dimension_the_mesh_does_not_divide_is_replicated():
    mesh = sharding.make_mesh(get_config("tiny:mesh_data=1,mesh_fsdp=1,mesh_model=2"))
    assert sharding.leaf_spec("params/encoder/relpos/rel_embedding", (32, 3), mesh) == P(None, None)
    assert sharding.leaf_spec("params/encoder/relpos/rel_embedding", (32, 2), mesh) == P(
        None, "model")


def _losses(mesh_args: str, steps: int = 5, batch: int = 4) -> tuple[list[float], dict]:
    from model.train import create_state, jit_step

    config = get_config(f"tiny:batch_size={batch},{mesh_args}")
    mesh = sharding.make_mesh(config)
    state = create_state(config, warn=False, mesh=mesh)
    per_device = sharding.bytes_per_device(state.params)
    step = jit_step(mesh, state)
    losses = []
    for i in range(steps):
        arrays = jax.device_put(random_batch(config, batch, i), sharding.batch_sharding(mesh))
        state, loss = step(state, arrays)
        losses.append(float(loss))
    return losses, per_device


@pytest.mark.slow
def test_every_mesh_gives_the_same_losses_and_fsdp_splits_the_parameters():
    """data=2, fsdp=2 and model=2 over 5 steps: the same losses to 1e-5 relative (float32 sums
    in another order), and with fsdp each device holds about half the parameters' bytes."""
    data, replicated = _losses("mesh_data=2")
    fsdp, split = _losses("mesh_data=1,mesh_fsdp=2")
    model, _ = _losses("mesh_data=1,mesh_model=2")
    np.testing.assert_allclose(fsdp, data, rtol=1e-5)
    np.testing.assert_allclose(model, data, rtol=1e-5)
    assert data[-1] < data[0]  # it trains
    total = max(replicated.values())
    assert sorted(replicated.values()) == [total, total]  # data: every device holds everything
    # fsdp: half each, but for what the rules replicate (norm scales, the ViT's conv, biases)
    assert all(0.5 * total <= b <= 0.56 * total for b in split.values()), (split, total)


EIGHT_DEVICES = """
import json
from tests.test_model_sharding import _losses
out = {}
for mesh in ("mesh_data=8", "mesh_data=1,mesh_fsdp=8", "mesh_data=2,mesh_fsdp=2,mesh_model=2"):
    losses, per_device = _losses(mesh, steps=20, batch=8)
    out[mesh] = {"losses": losses, "bytes": sorted(per_device.values())}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_eight_simulated_devices_give_the_same_losses_over_20_steps():
    """In a process of its own with 8 simulated CPU devices: data=8, fsdp=8 and
    data=2 × fsdp=2 × model=2 give the same 20 losses (to 1e-4 relative: float32 sums in other
    orders over 20 updates), and fsdp=8 leaves each device under 1/8 of the parameters' bytes
    plus what the rules replicate (norm scales, biases, the ViT's patch conv: < 5% here)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    run = subprocess.run([sys.executable, "-c", EIGHT_DEVICES], capture_output=True, text=True,
                         env=env, cwd=os.path.dirname(os.path.dirname(__file__)), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    data, fsdp, mixed = (out[m] for m in out)
    np.testing.assert_allclose(fsdp["losses"], data["losses"], rtol=1e-4)
    np.testing.assert_allclose(mixed["losses"], data["losses"], rtol=1e-4)
    assert data["losses"][-1] < data["losses"][0]  # a fresh batch a step: a small fall
    total = data["bytes"][0]
    assert len(set(data["bytes"])) == 1 and len(fsdp["bytes"]) == 8
    assert max(fsdp["bytes"]) <= total / 8 + 0.05 * total, (fsdp["bytes"], total)


def test_schedules():
    """rsqrt: linear warmup to the peak, then peak × sqrt(warmup / step) (step counted from 1);
    cosine: the peak at the end of warmup, 0 at the last step."""
    from model.optim import make_schedule

    rsqrt = make_schedule(get_config("tiny:schedule=rsqrt,learning_rate=0.01,warmup_steps=100"))
    assert float(rsqrt(0)) == pytest.approx(0.01 / 100)
    assert float(rsqrt(99)) == pytest.approx(0.01)
    assert float(rsqrt(399)) == pytest.approx(0.005)  # sqrt(100 / 400)
    cosine = make_schedule(get_config("tiny:learning_rate=0.01,warmup_steps=5,steps=40"))
    assert float(cosine(5)) == pytest.approx(0.01) and float(cosine(40)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="expected one of"):
        get_config("tiny:optimizer=sgd")
    with pytest.raises(ValueError, match="grad_accum 3 must divide batch_size 8"):
        get_config("tiny:grad_accum=3")


def test_adafactor_moments_are_sharded_like_their_parameters():
    config = get_config("demo:optimizer=adafactor,mesh_data=1,mesh_fsdp=2,d_model=256,mlp_dim=512")
    specs = sharding.shardings(_abstract_state(config), sharding.make_mesh(config))
    flat = {sharding.path_name(p): s.spec
            for p, s in jax.tree_util.tree_flatten_with_path(specs)[0]}
    moment = lambda kind: next(s for n, s in flat.items()
                               if f"/{kind}/encoder/layer_0/mlp/wi_0/kernel" in n)
    # wi_0's kernel is (embed 256, mlp 512): its row moment keeps embed, its column moment mlp
    assert (moment("v_row"), moment("v_col"), moment("v")) == (P("fsdp"), P("model"), P())


@pytest.mark.slow
def test_accumulated_gradients_make_the_whole_batch_update():
    """grad_accum=4 over a batch of 8 against one pass over the 8, Adafactor on fsdp=2: the
    same loss and parameters after two steps (float32 sums in another order: 1e-5)."""
    from model.train import create_state, jit_step

    out = []
    for accum in (1, 4):
        config = get_config(f"tiny:optimizer=adafactor,mesh_data=1,mesh_fsdp=2,grad_accum={accum}")
        mesh = sharding.make_mesh(config)
        state = create_state(config, warn=False, mesh=mesh)
        step = jit_step(mesh, state, config.grad_accum)
        losses = []
        for i in range(2):
            batch = jax.device_put(random_batch(config, 8, i), sharding.batch_sharding(mesh))
            state, loss = step(state, batch)
            losses.append(float(loss))
        out.append((losses, jax.device_get(state.params)))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(out[0][1]), jax.tree.leaves(out[1][1])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert out[0][0][1] < out[0][0][0]


@pytest.mark.slow
def test_remat_and_bfloat16_compute():
    """remat recomputes the same numbers (loss and every gradient to 1e-6); bfloat16 compute
    keeps float32 parameters (the master weights) and a loss within 2% of float32's on the
    same weights (bfloat16 keeps 8 bits of mantissa)."""
    from model.train import create_state, loss_fn

    def loss_and_grads(overrides):
        config = get_config(f"tiny:mesh_data=2,{overrides}")
        state = create_state(config, warn=False)
        batch = random_batch(config, 4, 0)
        loss, grads = jax.jit(jax.value_and_grad(
            lambda p: loss_fn(p, state.apply_fn, batch)))(state.params)
        return state, float(loss), grads

    plain, loss, grads = loss_and_grads("remat=0")
    remat, loss_r, grads_r = loss_and_grads("remat=1")
    assert jax.tree.structure(plain.params) == jax.tree.structure(remat.params)  # same names
    assert loss_r == pytest.approx(loss, rel=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_r)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    bf16, loss_b, grads_b = loss_and_grads("compute_dtype=bfloat16")
    assert {leaf.dtype for leaf in jax.tree.leaves(bf16.params)} == {np.dtype("float32")}
    assert {leaf.dtype for leaf in jax.tree.leaves(grads_b)} == {np.dtype("float32")}
    assert loss_b == pytest.approx(loss, rel=0.02) and loss_b != loss


@pytest.mark.slow
def test_scanned_layers_compute_what_the_unrolled_ones_do():
    """The unrolled model's layer_0 … layer_1 weights stacked into the scanned model's layers/
    give the same loss (to 1e-6); the scanned weights shard with a leading, unsplit layer axis."""
    from model.train import create_state, loss_fn

    overrides = "tiny:mesh_data=1,mesh_fsdp=2,enc_layers=2,dec_layers=2"
    unrolled = create_state(get_config(overrides), warn=False)
    scanned = create_state(get_config(overrides + ",scan_layers=1"), warn=False)
    params = jax.device_get(unrolled.params)
    stacked = dict(params)
    for stack in ("encoder", "decoder"):
        layers = [params[stack].pop(f"layer_{i}") for i in range(2)]
        stacked[stack] = {**params[stack], "layers": jax.tree.map(lambda *x: np.stack(x), *layers)}
    assert jax.tree.structure(stacked) == jax.tree.structure(jax.device_get(scanned.params))
    batch = random_batch(get_config(overrides), 4, 0)
    loss = lambda state, p: float(jax.jit(lambda q: loss_fn(q, state.apply_fn, batch))(p))
    assert loss(scanned, stacked) == pytest.approx(loss(unrolled, jax.device_get(unrolled.params)),
                                                   rel=1e-6)
    q = scanned.params["encoder"]["layers"]["attention"]["q"]["kernel"]
    assert q.shape == (2, 64, 2, 32) and q.sharding.spec == P(None, "fsdp", "model", None)
