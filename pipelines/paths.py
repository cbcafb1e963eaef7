"""Where the project keeps models it fetches or trains (``.cache/models`` in the checkout)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def models_dir() -> Path:
    return Path(os.environ.get("OPENWEBLI_MODELS", REPO_ROOT / ".cache" / "models"))


def lid_model_path() -> Path:
    return Path(os.environ.get("OPENWEBLI_LID_MODEL", models_dir() / "lid.176.ftz"))
