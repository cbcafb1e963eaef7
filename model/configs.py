"""PaLI configs as code: ``get_config("NAME[:key=value,…]")`` → a frozen ``PaliConfig``."""
from __future__ import annotations

import dataclasses
import difflib


OPTIMIZERS = ("adafactor", "adamw")
SCHEDULES = ("cosine", "rsqrt")


@dataclasses.dataclass(frozen=True)
class PaliConfig:
    """Everything a PaLI run depends on; saved as ``config.json`` in the training workdir."""

    # Frozen ViT: must match the scorer it is imported from (pipelines/score/openwebli-tiny.json).
    image_size: int = 64
    patch_size: int = 8
    vit_width: int = 128
    vit_layers: int = 4
    vit_heads: int = 4
    vit_mlp_dim: int = 0  # 0: 4 × vit_width (open_clip's default)
    # mT5-style encoder-decoder.
    d_model: int = 128
    enc_layers: int = 2
    dec_layers: int = 2
    heads: int = 4
    mlp_dim: int = 384
    compute_dtype: str = "float32"  # or "bfloat16": the encoder-decoder's matmuls; float32 weights
    remat: int = 0  # 1: recompute each encoder/decoder layer's activations in the backward pass
    scan_layers: int = 0  # 1: nn.scan over the stacked layers (one layer compiled, not 24)
    rel_buckets: int = 32
    rel_max_distance: int = 128
    # SentencePiece pieces at most, T5's 100 sentinels and the 1,024 <locNNNN> tokens among them
    # (a soft limit on tiny corpora); the model's embedding size.
    vocab_size: int = 2048
    tokenizer: str = ""  # a SentencePiece model to load (mT5's spiece.model) instead of training
    max_prefix_len: int = 64  # PaLI-style prompts: the demo's split-caption ones reach ~48
    max_target_len: int = 32
    # Device mesh (model/sharding.py): sizes of the data, fsdp and model axes; -1 takes the
    # devices left. The default splits the batch over every device, parameters replicated.
    mesh_data: int = -1
    mesh_fsdp: int = 1
    mesh_model: int = 1
    # Training.
    batch_size: int = 16  # global; must divide by the mesh's data × fsdp size
    steps: int = 200
    optimizer: str = "adafactor"  # or "adamw"
    schedule: str = "cosine"  # after linear warmup: "cosine" decay or T5's "rsqrt"
    grad_accum: int = 1  # micro-batches a step (batch_size is the step's whole batch)
    learning_rate: float = 3e-3
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    # Read-time task weights, "task:rate+task:rate" (e.g. "captioning:2+ocr:1"); "" takes the
    # mixture's own (its info.json). Tasks left out are not drawn.
    task_rates: str = ""
    log_every: int = 20
    checkpoint_every: int = 100
    # Periodic evaluation (single-process runs): every eval_every steps (0: never) and at the
    # end, greedy decoding of at most eval_examples questions of each task's validation split,
    # each scored by its evaluator (model/metrics.py), appended to metrics.jsonl.
    eval_every: int = 0
    eval_examples: int = 32

    def __post_init__(self):
        from model.sharding import check_mesh_sizes

        check_mesh_sizes(self.mesh_data, self.mesh_fsdp, self.mesh_model)
        for whole, part, what in ((self.image_size, self.patch_size, "image_size/patch_size"),
                                  (self.vit_width, self.vit_heads, "vit_width/vit_heads"),
                                  (self.d_model, self.heads, "d_model/heads")):
            if part <= 0 or whole % part:
                raise ValueError(f"{what} = {whole}/{part} must divide evenly")
        _ = self.rates  # checks task_rates
        if self.compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"compute_dtype {self.compute_dtype!r}: float32 or bfloat16")
        if self.optimizer not in OPTIMIZERS or self.schedule not in SCHEDULES:
            raise ValueError(f"optimizer {self.optimizer!r} / schedule {self.schedule!r}: "
                             f"expected one of {OPTIMIZERS} / {SCHEDULES}")
        if self.grad_accum <= 0 or self.batch_size % self.grad_accum:
            raise ValueError(f"grad_accum {self.grad_accum} must divide batch_size "
                             f"{self.batch_size}")
        if min(self.steps, self.batch_size, self.log_every, self.checkpoint_every) <= 0:
            raise ValueError("steps, batch_size, log_every and checkpoint_every must be positive")
        if self.eval_every < 0 or self.eval_examples <= 0:
            raise ValueError("eval_every must be ≥ 0 (0: never) and eval_examples positive")

    @property
    def rates(self) -> dict[str, float] | None:
        """``task_rates`` as {task: rate}, or None for the mixture's own."""
        if not self.task_rates:
            return None
        rates = {}
        for item in self.task_rates.split("+"):
            task, sep, rate = item.partition(":")
            try:
                rates[task.strip()] = float(rate)
            except ValueError:
                sep = ""
            if not sep or rates[task.strip()] <= 0:
                raise ValueError(f"task_rates {self.task_rates!r}: expected task:rate+task:rate "
                                 "with rates > 0")
        return rates

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads


# The PaLI paper's shapes (Chen et al. 2022, tables 1 and 12): ViT-G/14 (1.8B) and ViT-e/14
# (3.9B) at 224 px; mT5-Large (1.2B) and mT5-XXL (13B) with mT5's 250,000 pieces and the 1,124
# extra tokens (251,136: the next multiple of 128; mT5 itself pads 250,100 to 250,112).
# Weights and optimizer state sharded over every device by default (mesh_fsdp=-1).
VIT_G = dict(image_size=224, patch_size=14, vit_width=1664, vit_layers=48, vit_heads=16,
             vit_mlp_dim=8192)
VIT_E = dict(image_size=224, patch_size=14, vit_width=1792, vit_layers=56, vit_heads=16,
             vit_mlp_dim=15360)
MT5_LARGE = dict(d_model=1024, enc_layers=24, dec_layers=24, heads=16, mlp_dim=2816,
                 vocab_size=251_136)
MT5_XXL = dict(d_model=4096, enc_layers=24, dec_layers=24, heads=64, mlp_dim=10240,
               vocab_size=251_136)
POD = dict(mesh_data=1, mesh_fsdp=-1, batch_size=4096, max_prefix_len=64, max_target_len=64,
           optimizer="adafactor", schedule="rsqrt", learning_rate=1e-2, warmup_steps=10_000,
           steps=1_000_000, compute_dtype="bfloat16", remat=1, scan_layers=1)

CONFIGS = {
    "demo": PaliConfig(optimizer="adamw"),  # ~200 steps in about a minute on 2 CPU cores
    "tiny": PaliConfig(d_model=64, enc_layers=1, dec_layers=1, heads=2, mlp_dim=128,
                       vocab_size=1536, max_prefix_len=16, max_target_len=16, batch_size=8,
                       optimizer="adamw",
                       steps=40, learning_rate=5e-3, warmup_steps=5, log_every=10,
                       checkpoint_every=20),  # for tests: seconds
    # The learning benchmark's (benchmarks/learn_bench.py): the demo's model, short prompts and
    # targets (three boxes fit), ~10 minutes on 2 CPU cores.
    "learn": PaliConfig(optimizer="adamw", max_prefix_len=24, max_target_len=24, batch_size=32,
                        steps=1000, learning_rate=3e-3, warmup_steps=50, log_every=50,
                        checkpoint_every=1000),
    "pali-3b": PaliConfig(**VIT_G, **MT5_LARGE, **POD),
    "pali-15b": PaliConfig(**VIT_G, **MT5_XXL, **POD),
    "pali-17b": PaliConfig(**VIT_E, **MT5_XXL, **POD),
}


# Decoding (model/decode.py): `openwebli predict | eval` and the trainer's periodic evaluation.
DECODE_METHODS = ("greedy", "beam", "sample")


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    method: str = "greedy"
    max_len: int = 32  # tokens generated at most (EOS included); capped at max_target_len
    beam: int = 4  # beams, for "beam"
    length_penalty: float = 0.6  # GNMT's alpha: scores divided by ((5 + length) / 6) ** alpha
    temperature: float = 1.0  # for "sample"
    top_k: int = 0  # for "sample": draw among the k likeliest tokens (0: all)
    seed: int = 0

    def __post_init__(self):
        if self.method not in DECODE_METHODS:
            raise ValueError(f"decoding method {self.method!r}: expected one of "
                             f"{DECODE_METHODS}")
        if self.max_len <= 0 or self.beam <= 0 or self.top_k < 0 or self.temperature <= 0:
            raise ValueError("max_len and beam must be positive, top_k ≥ 0, temperature > 0")


def _closest(name: str, options) -> str:
    match = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _parse_value(field: dataclasses.Field, key: str, text: str):
    try:
        return type(field.default)(text)  # every field is an int or a float
    except ValueError as e:
        raise ValueError(f"config key {key!r}: cannot parse {text!r}") from e


def get_config(spec: str) -> PaliConfig:
    """``"demo"`` or ``"demo:steps=50,learning_rate=1e-3"`` → PaliConfig."""
    name, _, overrides = spec.partition(":")
    if name not in CONFIGS:
        raise KeyError(f"unknown config {name!r}{_closest(name, CONFIGS)} (have {sorted(CONFIGS)})")
    fields = {f.name: f for f in dataclasses.fields(PaliConfig)}
    changes = {}
    for item in filter(None, overrides.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise KeyError(f"bad config override {item!r}{_closest(key, fields)}")
        changes[key] = _parse_value(fields[key], key, value.strip())
    return dataclasses.replace(CONFIGS[name], **changes)
