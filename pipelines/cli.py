"""The ``openwebli`` command line. Corpus-stage commands also take Beam pipeline options
(``--runner``, ``--job_endpoint``, ``--direct_running_mode`` …): unknown flags go to Beam."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


GATE_CHOICES = {"auto": None, "on": True, "off": False}


def _corpus_config(args):
    from pipelines.corpus_job import CorpusConfig
    from pipelines.annotate.gate import GateConfig
    from pipelines.annotate.ocr import OcrConfig
    from pipelines.dedup.near import NearDedupConfig
    from pipelines.score.scorer_model import default_scorer_spec

    images = _image_config(args)
    return CorpusConfig(scorer_spec=args.scorer or default_scorer_spec(),
                        keep_fraction=args.keep_fraction, cut_mode=args.cut,
                        per_language=args.per_language,
                        min_language_share=args.min_language_share,
                        score_kind=args.score_kind, images=images,
                        safety=_safety_config(args),
                        crawl=_crawl_config(args, images),
                        near_dedup=NearDedupConfig(eval_images=tuple(args.eval_images or ())),
                        ocr=OcrConfig(backend=args.ocr_backend),
                        text_gate=GateConfig(enabled=GATE_CHOICES[args.text_gate]))


def _safety_config(args):
    from pipelines.safety.checks import Lists, SafetyConfig

    config = SafetyConfig(block_hashes=tuple(args.block_hashes or ()),
                          phash_distance=args.phash_distance, opt_out=tuple(args.opt_out or ()),
                          unsafe_terms=tuple(args.unsafe_terms or ()),
                          default_terms=not args.no_default_terms, pii=args.pii,
                          faces=args.faces, nsfw=_nsfw_config(args))
    Lists.load(config)  # a missing or malformed list fails here, before any worker starts
    return config


def _nsfw_config(args):
    from pipelines.safety.nsfw import NsfwConfig, read_prompts

    if not args.nsfw:
        return NsfwConfig()
    if args.nsfw.startswith("onnx:") and not os.path.isfile(args.nsfw[5:]):
        raise FileNotFoundError(f"--nsfw {args.nsfw}: no such ONNX file")
    prompts = {}
    if args.nsfw_prompts:
        unsafe, safe = read_prompts(args.nsfw_prompts)
        prompts = {"unsafe_prompts": unsafe, "safe_prompts": safe}
    floats = lambda text: tuple(float(v) for v in text.split(","))
    return NsfwConfig(model=args.nsfw, threshold=args.nsfw_threshold,
                      classes=tuple(int(v) for v in args.nsfw_classes.split(",")),
                      mean=floats(args.nsfw_mean), std=floats(args.nsfw_std), **prompts)


def _crawl_config(args, images):
    from pipelines.crawl.transforms import CrawlConfig

    return CrawlConfig(max_depth=args.max_depth, fetch=images.fetch)


def _image_config(args):
    from pipelines.fetch.images import ImageFetchConfig
    from pipelines.http import PRIVATE_NETWORKS, FetchConfig
    from quality_filters.image import ImageRules

    fetch = FetchConfig(user_agent=args.user_agent, host_interval=args.host_interval,
                        max_per_host=args.max_per_host,
                        allowed_networks=PRIVATE_NETWORKS if args.allow_private_networks else (),
                        opt_out=tuple(args.opt_out or ()), ai_txt=args.ai_txt)
    rules = ImageRules(image_size=args.image_size, resize_mode=args.resize_mode)
    config = ImageFetchConfig(fetch=fetch, rules=rules, threads=args.threads,
                              decode_threads=args.decode_threads,
                              block_hashes=tuple(args.block_hashes or ()),
                              phash_distance=args.phash_distance)
    from pipelines.fetch.images import load_block_hashes
    from pipelines.http import load_opt_out

    load_block_hashes(config)  # a missing or malformed list fails here, not in a worker
    load_opt_out(fetch.opt_out)
    return config


def _inputs(args):
    from pipelines.crawl_job import CorpusInputs

    return CorpusInputs(seeds=tuple(args.seeds or ()), archives=tuple(args.input or ()),
                        url_lists=tuple(args.url_list or ()), fetch_missing=not args.no_fetch)


def _every_core(beam_args: list[str]) -> list[str]:
    """Beam options that run the DirectRunner with a worker process per core, unless the user
    chose a runner or DirectRunner settings."""
    if any(a.startswith(("--runner", "--direct_")) for a in beam_args):
        return beam_args
    # Like img2dataset, use every core by default (decoding is CPU-bound; one process's
    # threads keep ~1.7 of 2 cores busy).
    from pipelines.beam_util import usable_cores

    return [*beam_args, f"--direct_num_workers={usable_cores()}",
            "--direct_running_mode=multi_processing"]


def cmd_fetch(args, beam_args):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.accounting import format_funnel
    from pipelines.fetch_job import run_fetch_job

    stats = run_fetch_job(tuple(args.url_list or ()), args.output, _image_config(args),
                          PipelineOptions(_every_core(beam_args)), force=args.force,
                          candidate_folders=tuple(args.candidates or ()))
    print(format_funnel(stats))


def cmd_crawl(args, beam_args):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.accounting import format_funnel
    from pipelines.crawl_job import CrawlJobConfig, run_crawl_job

    images = _image_config(args)
    config = CrawlJobConfig(crawl=_crawl_config(args, images), images=images)
    stats = run_crawl_job(_inputs(args), args.output, config,
                          PipelineOptions(_every_core(beam_args)), force=args.force)
    print(format_funnel(stats))
    print(f"{stats['archived_images']} images taken from the archives (archived/), "
          f"{stats['candidates_to_fetch']} candidates to fetch "
          f"(openwebli fetch --candidates {args.output})")


def cmd_build(args, beam_args):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.accounting import format_funnel
    from pipelines.corpus_job import run_corpus_job

    stats = run_corpus_job(_inputs(args), args.output, _corpus_config(args),
                           PipelineOptions(beam_args), force=args.force)
    print(format_funnel(stats))
    print(format_cut(stats["score_cut"]))


def format_cut(cut: dict) -> str:
    """The score cut's thresholds and kept pairs, per language where it cut per language."""
    head = (f"score cut ({cut['mode']}): top {cut['keep_fraction']:.0%} "
            f"{'of each language' if cut['per_language'] else 'of the corpus'}")
    if cut.get("min_language_share"):
        head += f", and at least the top {cut['min_language_share']:.0%} of each language"
    lines = [head + ", thresholds " + ", ".join(
        f"{g} {t:.4f}" for g, t in cut["thresholds"].items())]
    for lang, seen in cut["seen_per_language"].items():
        lines.append(f"  {lang:<6}{cut['kept_per_language'][lang]:>8} kept of {seen}")
    return "\n".join(lines)


def cmd_score(args, beam_args):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.accounting import format_funnel
    from pipelines.score.cut import CutConfig
    from pipelines.score.job import run_score_job
    from pipelines.score.scorer_model import default_scorer_spec

    cut = CutConfig(args.keep_fraction, args.cut, args.per_language, args.min_language_share)
    stats = run_score_job(args.input, args.output, args.scorer or default_scorer_spec(), cut,
                          args.score_kind, PipelineOptions(beam_args), force=args.force)
    print(format_funnel(stats))
    print(format_cut(stats["score_cut"]))


def _a_file(path: str, flag: str) -> str:
    """``path``, or a one-line error where it names a folder (open() would raise mid-command)."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path} is a folder; give a file")
    return path


def cmd_filter(args, beam_args):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.accounting import format_funnel
    from pipelines.safety.job import run_filter_job

    stats = run_filter_job(args.input, args.output, _safety_config(args),
                           PipelineOptions(beam_args), force=args.force)
    print(format_funnel(stats))


def cmd_mixture(args, beam_args):
    from apache_beam.options.pipeline_options import PipelineOptions

    import dataclasses

    from pipelines.mixture.job import run_mixture_job
    from pipelines.mixture.spec import MixtureSpec, corpus_spec

    if not args.spec and not args.corpus:
        raise ValueError("give --corpus (a corpus folder), --spec (a mixture spec file) or both")
    spec = (MixtureSpec.from_file(_a_file(args.spec, "--spec"), args.corpus) if args.spec
            else corpus_spec(args.corpus))
    overrides = {k: v for k, v in (("format", args.format), ("num_shards", args.num_shards))
                 if v is not None}
    spec = dataclasses.replace(spec, **overrides)
    stats = run_mixture_job(spec, args.output, PipelineOptions(beam_args), force=args.force)
    print(json.dumps(stats, indent=2))


def cmd_train_scorer(args, _):
    from pipelines.score.train_scorer import run_from_args

    result = run_from_args(args)
    print(json.dumps(result["held_out"]) if args.json else json.dumps(result, indent=2))


def cmd_train(args, _):
    from model.configs import get_config
    from model.train import start_processes, train

    start_processes(args.coordinator, args.num_processes, args.process_id, args.distributed)
    result = train(get_config(args.config), args.data, args.workdir,
                   scorer_checkpoint=args.scorer_checkpoint)
    print(json.dumps(result, indent=2))


def cmd_params(args, _):
    from model.configs import get_config
    from model.pali import param_counts

    counts = param_counts(get_config(args.config))
    if args.json:
        print(json.dumps(counts))
        return
    for name, n in counts.items():
        print(f"{name:<18}{n:>16,}  {n / 1e9:8.3f}B")


def _decoding(args):
    from model.configs import DecodeConfig

    method = "beam" if args.beam > 1 else "sample" if args.sample else "greedy"
    return DecodeConfig(method=method, beam=max(args.beam, 1), max_len=args.max_len,
                        length_penalty=args.length_penalty, temperature=args.temperature,
                        top_k=args.top_k, seed=args.seed)


def cmd_predict(args, _):
    from model.predict import image_files, load, predict_files

    files = image_files(args.image)
    records = predict_files(load(args.checkpoint), files, args.prompt, _decoding(args))
    for record in records:
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        elif len(files) == 1:
            print(record["prediction"])
        else:
            print(f"{record['image']}\t{record['prediction']}")


def cmd_eval(args, _):
    from model.evaluate import evaluate_folder
    from model.predict import load

    predictor = load(args.checkpoint, batch_size=args.batch_size)
    tasks = evaluate_folder(predictor, args.data, args.split, args.tasks, args.limit,
                            _decoding(args), args.predictions)
    if not tasks:
        raise ValueError(f"{args.data} has no {args.split} examples to evaluate")
    result = {"checkpoint": args.checkpoint, "step": predictor.step, "split": args.split,
              "tasks": tasks}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for task, m in tasks.items():
        print(f"{task:<18}{m['metric']:<14}{m['value']:8.4f}  ({m['examples']} questions)")


def cmd_metrics(args, _):
    from model.evaluate import score_files

    result = score_files(args.task, _a_file(args.predictions, "--predictions"),
                         _a_file(args.references, "--references"))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    extra = {k: v for k, v in result.items() if isinstance(v, float) and k != "value"}
    print(f"{result['metric']} {result['value']:.4f} over {result['examples']} examples"
          + "".join(f", {k} {v:.4f}" for k, v in extra.items()))


def cmd_eval_langid(args, _):
    from pipelines.annotate.eval_langid import evaluate_langid, markdown_table

    result = evaluate_langid(args.data)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(markdown_table(result))
        print(f"unsupported by the model: {', '.join(result['unsupported']) or 'none'}")


def cmd_eval_ocr(args, _):
    from pipelines.annotate.eval_ocr import evaluate_ocr

    result = evaluate_ocr(args.data, args.backend)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['backend']}: word recall {result['word_recall']:.3f}, CER {result['cer']:.3f}"
              f" over {result['words']} words in {result['images']} images")


def cmd_demo(args, beam_args):
    from pipelines.demo import run_demo

    run_demo(args.workdir, beam_args, force=args.force)


def _add_input_args(p, output_help: str):
    """The inputs of ``build`` and ``crawl``, and their image options."""
    p.add_argument("--seeds", nargs="+", help="start URLs of a live crawl")
    p.add_argument("--input", nargs="+",
                   help="WARC/ARC/WAT/WET files or globs (local, gs://, s3://)")
    p.add_argument("--url-list", nargs="+",
                   help="URL lists: img2dataset/LAION .parquet (URL, TEXT), CC3M .tsv, .txt")
    p.add_argument("--no-fetch", action="store_true",
                   help="use only images stored in the archives; reject the others")
    p.add_argument("--output", required=True, help=output_help)
    p.add_argument("--max-depth", type=int, default=3, help="links followed from the seeds")
    _add_image_args(p)
    p.add_argument("--force", action="store_true", help="rebuild a COMPLETED folder")


def _add_corpus_args(p):
    _add_input_args(p, "corpus folder to write")
    _add_safety_args(p)
    _add_score_args(p)
    from pipelines.annotate.ocr import BACKENDS

    p.add_argument("--ocr-backend", default="easyocr", choices=sorted(BACKENDS))
    p.add_argument("--text-gate", choices=GATE_CHOICES, default="auto",
                   help="OCR only the images where a cheap detector reads text: auto (the "
                        "default) gates EasyOCR and Tesseract, not RapidOCR")
    p.add_argument("--eval-images", nargs="+",
                   help="folders/files of evaluation images: near-duplicates are removed")


def _add_score_args(p):
    from pipelines.score.cut import CUT_MODES
    from pipelines.score.scorer_model import SCORE_KINDS

    p.add_argument("--scorer", help="MODEL[:CHECKPOINT] for open_clip (default: the project's)")
    p.add_argument("--score-kind", choices=SCORE_KINDS, default="auto",
                   help="the sigmoid logit (SigLIP models: auto when the model has a "
                        "logit_bias) or the cosine (CLIP)")
    p.add_argument("--keep-fraction", type=float, default=0.1, help="top fraction kept by score")
    p.add_argument("--cut", choices=CUT_MODES, default="exact",
                   help="exact: exactly round(fraction × pairs) kept (two passes); "
                        "approximate: one quantile pass")
    p.add_argument("--per-language", action="store_true",
                   help="keep the top fraction of each language (by alt-text language)")
    p.add_argument("--min-language-share", type=float, default=0.0,
                   help="with the global cut, also keep each language's own top share")


def _add_image_args(p):
    from pipelines.http import DEFAULT_USER_AGENT, FetchConfig
    from quality_filters.image import RESIZE_MODES, ImageRules

    p.add_argument("--image-size", type=int, default=ImageRules.image_size,
                   help="stored size in pixels (see --resize-mode); images are never enlarged")
    p.add_argument("--resize-mode", default=ImageRules.resize_mode, choices=RESIZE_MODES)
    p.add_argument("--threads", type=int, default=16, help="concurrent requests per worker")
    p.add_argument("--decode-threads", type=int, default=0,
                   help="threads per worker that decode and resize (0: one per core)")
    p.add_argument("--user-agent", default=DEFAULT_USER_AGENT)
    p.add_argument("--host-interval", type=float, default=0.0,
                   help="least seconds between two requests to one host, per worker")
    p.add_argument("--max-per-host", type=int, default=FetchConfig.max_per_host,
                   help="requests in flight to one host at once, per worker (0: no limit)")
    p.add_argument("--allow-private-networks", action="store_true",
                   help="let the fetcher reach loopback/private addresses (tests, demo)")
    p.add_argument("--ai-txt", action="store_true",
                   help="also honour each image host's ai.txt (robots.txt syntax; one more "
                        "request per host)")
    _add_list_args(p)


def _add_list_args(p):
    """Hash lists and opt-out lists: checked by every stage that fetches or keeps images."""
    from quality_filters.safety import DEFAULT_PHASH_DISTANCE

    p.add_argument("--block-hashes", nargs="+", metavar="FILE",
                   help="hash lists, one sha256:<hex>, md5:<hex> or phash:<hex> a line: "
                        "matching images are rejected (blocklisted_hash) and never written")
    p.add_argument("--phash-distance", type=int, default=DEFAULT_PHASH_DISTANCE,
                   help="bits within which a phash: entry matches")
    p.add_argument("--opt-out", nargs="+", metavar="FILE",
                   help="opt-out lists, one domain or http(s) URL prefix a line: never "
                        "requested, never kept")



def _add_safety_args(p):
    """The safety stage's text and image checks (build, filter)."""
    from quality_filters.faces import FACE_MODES
    from quality_filters.pii import PII_MODES

    p.add_argument("--unsafe-terms", nargs="+", metavar="FILE",
                   help="more unsafe words and phrases, one a line (beside the shipped lists)")
    p.add_argument("--no-default-terms", action="store_true",
                   help="do not use the shipped unsafe-term lists")
    p.add_argument("--pii", choices=PII_MODES, default="redact",
                   help="e-mail addresses, phone, card and IBAN numbers, IP addresses in the "
                        "texts: redact (the default), drop the pair, or keep")
    p.add_argument("--faces", choices=FACE_MODES, default="blur",
                   help="faces in the images: blur (the default), drop the pair, or keep")
    p.add_argument("--nsfw", metavar="SPEC",
                   help="an NSFW image classifier: onnx:PATH or clip:MODEL[:CHECKPOINT] "
                        "(open_clip zero-shot); none by default")
    p.add_argument("--nsfw-threshold", type=float, default=0.5,
                   help="unsafe probability at or above which a pair is dropped (nsfw_image)")
    p.add_argument("--nsfw-classes", default="1",
                   help="ONNX: comma-separated indices of the unsafe output classes")
    p.add_argument("--nsfw-mean", default="0.5,0.5,0.5", help="ONNX: input normalisation")
    p.add_argument("--nsfw-std", default="0.5,0.5,0.5", help="ONNX: input normalisation")
    p.add_argument("--nsfw-prompts", metavar="FILE",
                   help="zero-shot prompts, 'unsafe: TEXT' and 'safe: TEXT' lines")


def _add_decoding_args(p):
    from model.configs import DecodeConfig

    d = DecodeConfig()
    p.add_argument("--beam", type=int, default=1, help="beam search with this many beams "
                                                       "(default 1: greedy)")
    p.add_argument("--length-penalty", type=float, default=d.length_penalty,
                   help="beam scores divided by ((5 + length) / 6) ** this")
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument("--top-k", type=int, default=d.top_k, help="sample among the k likeliest "
                                                             "tokens (0: all)")
    p.add_argument("--seed", type=int, default=d.seed, help="of the sampling")
    p.add_argument("--max-len", type=int, default=d.max_len, help="tokens at most (capped at "
                                                                 "the config's max_target_len)")


def _add_folder_args(p, input_help: str, output_help: str, *add_options) -> None:
    """A one-stage job's folders, its options, and --force."""
    p.add_argument("--input", required=True, help=input_help)
    p.add_argument("--output", required=True, help=output_help)
    for add in add_options:
        add(p)
    p.add_argument("--force", action="store_true", help="rebuild a COMPLETED folder")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="openwebli", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the whole thing on the bundled sample site")
    p.add_argument("--workdir", default="runs/demo")
    p.add_argument("--force", action="store_true", help="redo finished steps")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("build", help="all corpus stages fused into one Beam job")
    _add_corpus_args(p)
    p.set_defaults(fn=cmd_build)
    p = sub.add_parser("filter", help="a corpus folder through the safety stage alone: hash "
                                      "lists, opt-outs, unsafe text, personal data, faces")
    _add_folder_args(p, "corpus folder (openwebli build)", "folder to write",
                     _add_list_args, _add_safety_args)
    p.set_defaults(fn=cmd_filter)
    p = sub.add_parser("score", help="a folder of annotated pairs through the score stage "
                                     "alone: contrastive score and the top-k%% cut")
    _add_folder_args(p, "folder of pairs (openwebli filter, build)", "corpus folder to write",
                     _add_score_args)
    p.set_defaults(fn=cmd_score)
    p = sub.add_parser("crawl", help="seeds, web archives, URL lists → candidates to fetch and "
                                     "images taken from the archives (Beam job)")
    _add_input_args(p, "folder to write (for `openwebli fetch --candidates`)")
    p.set_defaults(fn=cmd_crawl)
    p = sub.add_parser("fetch", help="URL lists, crawl folders → validated, resized, hashed "
                                     "images (Beam job)")
    p.add_argument("--url-list", nargs="+",
                   help="img2dataset/LAION .parquet (URL, TEXT), CC3M .tsv, url-per-line .txt")
    p.add_argument("--candidates", nargs="+",
                   help="folders written by `openwebli crawl`: their candidates are fetched, "
                        "their archived images passed on")
    p.add_argument("--output", required=True, help="folder to write")
    _add_image_args(p)
    p.add_argument("--force", action="store_true", help="rewrite a COMPLETED folder")
    p.set_defaults(fn=cmd_fetch)
    p = sub.add_parser("mixture", help="corpus folder and datasets → PaLI mixture: a folder "
                                       "per task and split")
    p.add_argument("--corpus", help="a corpus folder: the spec's source \"corpus\" (without "
                                    "--spec: the default mixture over it)")
    p.add_argument("--output", required=True)
    p.add_argument("--spec", help="JSON file: {\"sources\": {…}, \"tasks\": {task: {\"source\", "
                                  "\"rate\"}} or \"mixture\": NAME, …} (docs/MIXTURES.md)")
    from pipelines.mixture.formats import FORMATS

    p.add_argument("--format", choices=sorted(FORMATS), help="shard format (default: the spec's, "
                                                             "else arrayrecord)")
    p.add_argument("--num-shards", type=int, help="shards per task and split (default: the spec's, else 4)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(fn=cmd_mixture)
    p = sub.add_parser("train-scorer", help="train the project's contrastive scorer (SigLIP "
                                            "or CLIP loss, LiT) on generated or real pairs")
    from pipelines.score.train_scorer import add_train_scorer_args

    add_train_scorer_args(p)
    p.set_defaults(fn=cmd_train_scorer)
    p = sub.add_parser("train", help="train PaLI on a mixture folder")
    p.add_argument("--config", default="demo", help="NAME[:key=value,…]")
    p.add_argument("--data", required=True, help="mixture folder")
    p.add_argument("--workdir", required=True)
    p.add_argument("--scorer-checkpoint", help="open_clip state dict to initialise the frozen ViT")
    env = os.environ.get
    p.add_argument("--coordinator", default=env("JAX_COORDINATOR_ADDRESS"),
                   help="HOST:PORT of process 0, to train over several processes (hosts); "
                        "default $JAX_COORDINATOR_ADDRESS")
    p.add_argument("--num-processes", type=int, default=env("JAX_NUM_PROCESSES"),
                   help="default $JAX_NUM_PROCESSES")
    p.add_argument("--process-id", type=int, default=env("JAX_PROCESS_ID"),
                   help="this process's index, 0 … N-1; default $JAX_PROCESS_ID")
    p.add_argument("--distributed", action="store_true",
                   help="start jax.distributed from the environment (TPU VMs, Slurm: no "
                        "arguments needed)")
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("params", help="parameter counts of a config, per component "
                                      "(jax.eval_shape: nothing is allocated)")
    p.add_argument("--config", default="demo", help="NAME[:key=value,…] (pali-3b, pali-15b, …)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(fn=cmd_params)
    p = sub.add_parser("eval-langid", help="per-language accuracy of language ID")
    p.add_argument("--data", required=True, help="folder of <language>.txt, one text a line")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(fn=cmd_eval_langid)
    p = sub.add_parser("eval-ocr", help="word recall and CER of an OCR backend")
    p.add_argument("--data", required=True, help="folder with imgs/ and ICDAR gt/gt_<image>.txt")
    from pipelines.annotate.ocr import BACKENDS

    p.add_argument("--backend", default="easyocr", choices=sorted(BACKENDS))
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(fn=cmd_eval_ocr)
    p = sub.add_parser("predict", help="answer a prompt about an image or a folder of images")
    p.add_argument("--checkpoint", required=True, help="a `openwebli train` workdir")
    p.add_argument("--image", required=True, help="an image file, or a folder of them")
    from pipelines.mixture.prompts import prompt

    p.add_argument("--prompt", default=prompt("captioning", lang="en"),
                   help="a task's prompt in the mixture's style (pipelines/mixture/prompts.py); "
                        "default: English captioning in the default style")
    _add_decoding_args(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object a line: image, prompt, prediction, score, boxes")
    p.set_defaults(fn=cmd_predict)
    p = sub.add_parser("eval", help="decode a mixture split and score every task with its "
                                    "evaluator (CIDEr-D, VQA accuracy, exact match, box F1)")
    p.add_argument("--checkpoint", required=True, help="a `openwebli train` workdir")
    p.add_argument("--data", required=True, help="a mixture folder (`openwebli mixture`)")
    p.add_argument("--split", default="validation", help="default: validation")
    p.add_argument("--tasks", nargs="+", help="only these tasks (default: every task)")
    p.add_argument("--limit", type=int, help="questions per task at most")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--predictions", help="folder to write <task>.predictions.jsonl and "
                                         "<task>.references.jsonl into")
    _add_decoding_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(fn=cmd_eval)
    from model.metrics import EVALUATORS

    p = sub.add_parser("metrics", help="score predictions against references (JSON lines)")
    p.add_argument("--task", required=True, choices=sorted(EVALUATORS))
    p.add_argument("--predictions", required=True,
                   help='JSON lines {"id": …, "prediction": "…"}')
    p.add_argument("--references", required=True,
                   help='JSON lines {"id": …, "references": ["…", …]}')
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(fn=cmd_metrics)
    return top


class _DropNoise(logging.Filter):
    """Drops third-party log lines that say nothing to a user of this tool."""

    NOISE = ("apitools not found", "Connection pool is full")

    def filter(self, record):
        return not any(n in record.getMessage() for n in self.NOISE)


def setup_logging() -> None:
    """INFO from the project's own ``openwebli.*`` loggers; WARNING and up from the rest."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(_DropNoise())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    project = logging.getLogger("openwebli")
    project.setLevel(logging.INFO)


def main(argv=None):
    setup_logging()
    args, beam_args = parser().parse_known_args(argv)
    if beam_args and args.command not in ("build", "crawl", "fetch", "filter", "score", "mixture",
                                                  "demo"):
        parser().error(f"unrecognized arguments: {' '.join(beam_args)}")
    try:
        args.fn(args, beam_args)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, ValueError,
            KeyError) as e:
        if os.environ.get("OPENWEBLI_DEBUG"):
            raise
        print(f"openwebli {args.command}: error: {e}\n(set OPENWEBLI_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
