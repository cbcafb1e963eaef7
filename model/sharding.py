"""Sharding: a ``data`` × ``fsdp`` × ``model`` device mesh, every parameter's logical axes, and one
rules table from logical axes to mesh axes (t5x / MaxText's scheme).

- ``data``: the batch is split, parameters are replicated;
- ``fsdp``: the batch is split and so are the weights and the optimizer state (along ``embed``);
- ``model``: tensor parallelism, heads and the MLP's hidden units (and the vocabulary) split.

Parameters are annotated by path (``ANNOTATIONS``, as big_vision names its sharding rules by
parameter name) rather than inside the modules, so the modules and the open_clip import stay as
they are; the mapping from logical to mesh axes is flax's (``nn.logical_to_mesh_axes``). A
dimension its mesh axes do not divide is replicated instead.
"""
from __future__ import annotations

import logging
import math
import re

import flax.linen as nn
import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

log = logging.getLogger("openwebli.train")
MESH_AXES = ("data", "fsdp", "model")
BATCH_AXES = ("data", "fsdp")  # both split the batch

# (regex searched in a leaf's path, its logical axes): the first match wins. Optimizer state
# leaves (AdamW's mu and nu, Adafactor's factors) end in their parameter's path and match too.
ANNOTATIONS: tuple[tuple[str, tuple], ...] = (
    (r"vit/.*attn/(query|key|value)/kernel$", ("vit_embed", "vit_heads", "kv")),
    (r"vit/.*attn/(query|key|value)/bias$", ("vit_heads", "kv")),
    (r"vit/.*attn/out/kernel$", ("vit_heads", "kv", "vit_embed")),
    (r"vit/.*c_fc/kernel$", ("vit_embed", "vit_mlp")),
    (r"vit/.*c_fc/bias$", ("vit_mlp",)),
    (r"vit/.*c_proj/kernel$", ("vit_mlp", "vit_embed")),
    (r"vit/conv1/kernel$", (None, None, None, "vit_embed")),
    (r"vit/positional_embedding$", (None, "vit_embed")),
    (r"vit/(class_embedding|.*/(bias|scale))$", ("norm",)),
    (r"(^|/)(q|k|v)/kernel$", ("embed", "heads", "kv")),
    (r"(^|/)o/kernel$", ("heads", "kv", "embed")),
    (r"(^|/)wi_\d+/kernel$", ("embed", "mlp")),
    (r"(^|/)wo/kernel$", ("mlp", "embed")),
    (r"(^|/)relpos/rel_embedding$", (None, "heads")),
    (r"(^|/)embed/embedding$", ("vocab", "embed")),
    (r"(^|/)lm_head/kernel$", ("embed", "vocab")),
    (r"(^|/)image_projection/kernel$", ("vit_embed", "embed")),
    (r"norm/scale$", ("norm",)),
)

# Logical axis → mesh axis (absent or None: replicated).
RULES: tuple[tuple[str, str | None], ...] = (
    ("embed", "fsdp"), ("vit_embed", "fsdp"),
    ("mlp", "model"), ("vit_mlp", "model"), ("heads", "model"), ("vit_heads", "model"),
    ("vocab", "model"),
    ("kv", None), ("norm", None), ("layers", None),
)


def check_mesh_sizes(data: int, fsdp: int, model: int) -> None:
    sizes = [data, fsdp, model]
    if sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise ValueError(f"mesh (data={data}, fsdp={fsdp}, model={model}): sizes are positive, "
                         "one may be -1")


def mesh_shape(data: int, fsdp: int, model: int, devices: int) -> tuple[int, int, int]:
    """The three axis sizes, one of them ``-1`` at most (it takes the devices left)."""
    check_mesh_sizes(data, fsdp, model)
    sizes = [data, fsdp, model]
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if devices % known:
            raise ValueError(f"{devices} devices do not split into a mesh of data × fsdp × "
                             f"model sizes {sizes}")
        sizes[sizes.index(-1)] = devices // known
    if math.prod(sizes) != devices:
        raise ValueError(f"mesh data={sizes[0]} × fsdp={sizes[1]} × model={sizes[2]} needs "
                         f"{math.prod(sizes)} devices; there are {devices}")
    return tuple(sizes)


def make_mesh(config, devices=None) -> Mesh:
    devices = list(devices if devices is not None else jax.devices())
    shape = mesh_shape(config.mesh_data, config.mesh_fsdp, config.mesh_model, len(devices))
    return Mesh(mesh_utils.create_device_mesh(shape, devices), MESH_AXES)


def path_name(path) -> str:
    """A pytree path as "a/b/c" (dict keys, attributes and indices alike)."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return "/".join(parts)


def logical_axes(name: str, ndim: int) -> tuple:
    """A parameter's logical axes, from ``ANNOTATIONS``; Adafactor's factored moments of a
    parameter (``v_row``: its last axis summed out, ``v_col``: the one before) keep the rest."""
    for pattern, axes in ANNOTATIONS:
        if re.search(pattern, name):
            if re.search(r"(^|/)(encoder|decoder)/layers/", name):  # nn.scan's stacked layers
                axes = ("layers", *axes)
            if re.search(r"(^|/)v_row/", name):
                axes = axes[:-1]
            elif re.search(r"(^|/)v_col/", name):
                axes = axes[:-2] + axes[-1:]
            if len(axes) != ndim:
                raise ValueError(f"{name}: {ndim} dimensions, but its annotation {pattern!r} "
                                 f"names {len(axes)}")
            return axes
    raise ValueError(f"parameter {name} has no logical axes: add it to model/sharding.py's "
                     "ANNOTATIONS")


def leaf_spec(name: str, shape: tuple, mesh: Mesh) -> P:
    """The mesh axes of one leaf: scalars and short vectors of optimizer state replicated,
    every dimension its mesh axis does not divide replicated."""
    if not shape or (re.search(r"(^|/)v(_row|_col)?/", name) and shape == (1,)):
        return P()  # a scalar; Adafactor's placeholder for a moment it does not keep
    spec = nn.logical_to_mesh_axes(logical_axes(name, len(shape)), RULES)
    fitted = [axis if axis is None or size % mesh.shape[axis] == 0 else None
              for axis, size in zip(spec, shape)]
    return P(*fitted)


def shardings(tree, mesh: Mesh):
    """A NamedSharding for every array leaf of ``tree`` (abstract or concrete); leaves
    that are not arrays (an optimizer's step count) replicated."""
    def one(path, leaf):
        shape = getattr(leaf, "shape", ())
        return NamedSharding(mesh, leaf_spec(path_name(path), tuple(shape), mesh) if shape
                             else P())
    return jax.tree_util.tree_map_with_path(one, tree)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(BATCH_AXES))


def bytes_per_device(tree) -> dict:
    """{device: bytes of ``tree``'s shards on it} (what a sharding test measures)."""
    out: dict = {}
    for leaf in jax.tree.leaves(tree):
        for shard in leaf.addressable_shards:
            out[shard.device] = out.get(shard.device, 0) + shard.data.nbytes
    return out


def describe(mesh: Mesh) -> str:
    return " × ".join(f"{a}={n}" for a, n in mesh.shape.items())


def total_bytes(tree) -> int:
    return sum(int(np.prod(leaf.shape)) * leaf.dtype.itemsize for leaf in jax.tree.leaves(tree))
