"""Score-stage benchmark: the Beam score stage (RunInference + the exact cut) against
open_clip's own batched forward on the same pairs, side by side in one run.

Both sides start from the same folder of annotated pairs (Parquet, as ``openwebli filter``
writes it) and include loading the model: the raw side reads the files with pyarrow, decodes,
preprocesses and runs ``encode_image``/``encode_text`` in batches of 64; the stage is
``openwebli score`` (``pipelines/score/job.py``: RunInference, the exact cut, the output
written) on the DirectRunner, one worker. Pairs are real COCO photos at 384 px with their
captions, repeated to ``--pairs``. (Fed from ``beam.Create`` instead, the stage spent ~12 s
of 15 in Create itself, which pickles every record into the pipeline: not what a job does.)

    python -m benchmarks.score_bench [--json] [--pairs N] [--repeats R] [--models …]

``openwebli-tiny`` is the project's scorer; ``ViT-B-32`` has random weights (no download here)
but the cost of the real one.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

from benchmarks.output import add_output_args, save
from benchmarks.safety_bench import DATA, make_pairs


def _raw(spec: str, folder: Path, batch: int = 64) -> float:
    import pyarrow.parquet as pq
    import torch
    from PIL import Image

    from pipelines.score.scorer_model import load_scorer

    start = time.perf_counter()
    scorer = load_scorer(spec, device="cpu")
    with torch.inference_mode():
        for path in sorted(folder.glob("part-*.parquet")):
            table = pq.read_table(path, columns=["image_bytes", "alt_text"]).to_pylist()
            for i in range(0, len(table), batch):
                chunk = table[i:i + batch]
                images = [Image.open(io.BytesIO(r["image_bytes"])).convert("RGB") for r in chunk]
                pixels = torch.stack([scorer.preprocess(im) for im in images])
                scorer.model.encode_image(pixels)
                scorer.model.encode_text(scorer.tokenizer([r["alt_text"] for r in chunk]))
    return time.perf_counter() - start


def _stage(spec: str, folder: Path, out: Path) -> float:
    from pipelines.score.cut import CutConfig
    from pipelines.score.job import run_score_job

    start = time.perf_counter()
    run_score_job(str(folder), str(out), spec, CutConfig(), force=True)
    return time.perf_counter() - start


def _write_pairs(folder: Path, pairs) -> None:
    import apache_beam as beam

    from pipelines.corpus_io import WriteRecords, mark_completed, write_info
    from pipelines.beam_util import make_pipeline
    from schemas import AnnotatedPair

    with make_pipeline() as p:
        p | beam.Create(pairs) | WriteRecords(str(folder), AnnotatedPair)
    write_info(str(folder), AnnotatedPair, {})
    mark_completed(str(folder))


def run(n: int, models: list[str], repeats: int = 3) -> dict:
    import tempfile

    from pipelines.score.scorer_model import default_scorer_spec

    tmp = Path(tempfile.mkdtemp(prefix="score-bench-"))
    _write_pairs(tmp / "pairs", make_pairs(DATA, n))
    out = {}
    for name in models:
        spec = default_scorer_spec() if name == "openwebli-tiny" else name
        times = [(_raw(spec, tmp / "pairs"), _stage(spec, tmp / "pairs", tmp / name))
                 for _ in range(repeats)]  # interleaved, so drift hits both sides alike
        raw = statistics.median(t[0] for t in times)
        stage = statistics.median(t[1] for t in times)
        out[name] = {"raw_pairs_per_s": round(n / raw, 1), "stage_pairs_per_s": round(n / stage, 1),
                     "ratio": round(raw / stage, 3)}
    return {"pairs": n, "repeats": repeats, "models": out}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_args(p, "score")
    p.add_argument("--pairs", type=int, default=512)
    p.add_argument("--models", nargs="+", default=["openwebli-tiny", "ViT-B-32"])
    p.add_argument("--repeats", type=int, default=3, help="interleaved runs; medians reported")
    args = p.parse_args(argv)
    result = run(args.pairs, args.models, args.repeats)
    if not save(result, args):
        for name, m in result["models"].items():
            print(f"{name:<16} raw {m['raw_pairs_per_s']:7.1f} pairs/s  stage "
                  f"{m['stage_pairs_per_s']:7.1f} pairs/s  ratio {m['ratio']:.2f}")
    return result


if __name__ == "__main__":
    main()
