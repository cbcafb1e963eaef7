"""Where a benchmark's figures go: ``benchmarks/results/<name>.json`` (or ``--output``), and
one JSON line on stdout with ``--json``."""
from __future__ import annotations

import json
from pathlib import Path


def add_output_args(parser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--output", default=f"benchmarks/results/{name}.json")


def save(result: dict, args) -> bool:
    """Write ``result`` to ``args.output``; print it as one JSON line when ``args.json``
    (then True: the caller prints nothing else)."""
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result))
    return args.json
