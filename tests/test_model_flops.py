"""Model FLOPs (model/flops.py) against a hand count and against XLA's count of the compiled
train step, which adds the elementwise work MFU leaves out."""
import jax
import pytest

from model.configs import get_config
from model.flops import _attention, step_flops, trained_forward, vit_forward


def test_attention_by_hand():
    # q: 2 tokens, k/v: 3 tokens, width 4: projections 2·(2·4·4 + 2·3·4·4 + 2·4·4) = 320,
    # QKᵀ and AV 2·2·(2·3·4) = 96
    assert _attention(2, 3, 4, 4) == 416


def test_the_step_counts_backward_twice_but_not_for_the_frozen_vit():
    c = get_config("tiny")
    assert step_flops(c) == c.batch_size * (vit_forward(c) + 3 * trained_forward(c))


@pytest.mark.slow  # compiles a train step (does not run it)
def test_the_count_is_within_3_percent_of_xlas_for_a_matmul_heavy_config():
    from model import sharding
    from model.data import random_batch
    from model.train import create_state, jit_step

    config = get_config("demo:d_model=256,mlp_dim=1024,heads=4,batch_size=8")
    mesh = sharding.make_mesh(config)
    state = create_state(config, warn=False, mesh=mesh)
    batch = jax.device_put(random_batch(config, 8), sharding.batch_sharding(mesh))
    cost = jit_step(mesh, state).lower(state, batch).compile().cost_analysis()
    # the cost of the program one device runs, on half the batch here
    xla = float((cost[0] if isinstance(cost, list) else cost)["flops"]) * mesh.size
    assert step_flops(config) <= xla <= 1.03 * step_flops(config), (step_flops(config), xla)
