"""Shared fixtures: real test data, a generated sample site served on 127.0.0.1."""
from __future__ import annotations

import os
from pathlib import Path

# Before anything imports jax: two simulated CPU devices, so the trainer's mesh is real.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Where the project runs a real model: each OCR engine, the text gate's detector, lid.176, the
# open_clip scorer, and any JAX train step. A test that reaches one of them without the
# ``slow`` marker fails, so ``make test-fast`` (``-m "not slow"``) never runs a model by accident.
MODEL_ENTRY_POINTS = [
    ("pipelines.annotate.ocr", "EasyOcrBackend", "__init__"),
    ("pipelines.annotate.ocr", "RapidOcrBackend", "__init__"),
    ("pipelines.annotate.ocr", "TesseractBackend", "read"),
    ("pipelines.annotate.gate", "TextGate", "__init__"),
    ("pipelines.annotate.langid_model", "LangId", "__init__"),
    ("pipelines.score.scorer_model", "Scorer", "_load"),
    ("flax.training.train_state", "TrainState", "apply_gradients"),
]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a test's fixtures are set up (a module's model fixture included, when this test is
    the first to ask for it): without ``slow``, every model entry point refuses."""
    if item.get_closest_marker("slow"):
        return
    import importlib

    def refuse(*_args, **_kwargs):
        raise AssertionError(f"{item.nodeid} runs a real model: mark it @pytest.mark.slow "
                             "(tests/conftest.py, MODEL_ENTRY_POINTS)")

    item.model_guard = pytest.MonkeyPatch()
    for module, cls, method in MODEL_ENTRY_POINTS:
        item.model_guard.setattr(getattr(importlib.import_module(module), cls), method, refuse)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    if hasattr(item, "model_guard"):
        item.model_guard.undo()


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The real third-party data (``../shared/data`` or ``$OPENWEBLI_TEST_DATA``)."""
    path = Path(os.environ.get("OPENWEBLI_TEST_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        raise FileNotFoundError(f"test data not found at {path}; set OPENWEBLI_TEST_DATA")
    return path


@pytest.fixture(scope="session")
def small_site(tmp_path_factory):
    """A small sample site on disk: (root, counts)."""
    from pipelines.sample_site import SiteSpec, generate_site

    root = tmp_path_factory.mktemp("site")
    eval_dir = tmp_path_factory.mktemp("eval-images")
    counts = generate_site(root, SiteSpec(gallery_pages=8, sign_pages=2, images_per_page=3, seed=7),
                           eval_dir=eval_dir)
    return root, counts, eval_dir


@pytest.fixture(scope="session")
def site_url(small_site):
    """The small site served on 127.0.0.1 for the whole session."""
    from pipelines.sample_site import serve_site

    with serve_site(small_site[0]) as base:
        yield base


def corpus_config(eval_images: tuple = ()):
    from pipelines.corpus_job import CorpusConfig
    from pipelines.dedup.near import NearDedupConfig
    from pipelines.score.scorer_model import default_scorer_spec

    config = CorpusConfig(scorer_spec=default_scorer_spec(),
                          near_dedup=NearDedupConfig(eval_images=tuple(map(str, eval_images))))
    return config.allowing_networks(("127.0.0.1/32",))


def placeholder_alts(site_root) -> int:
    """<img> tags whose alt is one of the placeholders the site generator writes, counted in
    its HTML (the generator draws them at random)."""
    import re
    from pathlib import Path

    alts = [alt for page in Path(site_root).rglob("*.html")
            for alt in re.findall(r'<img [^>]*alt="([^"]*)"', page.read_text("utf-8"))]
    return sum(alt in ("image", "IMG_0042.jpg", "photo") for alt in alts)


@pytest.fixture(scope="session")
def direct_corpus(site_url, small_site, tmp_path_factory):
    """The corpus job over the small site (with its evaluation image) on the DirectRunner:
    (folder, stats)."""
    from pipelines.corpus_job import CorpusInputs, run_corpus_job

    out = str(tmp_path_factory.mktemp("corpus"))
    return out, run_corpus_job(CorpusInputs(seeds=(f"{site_url}/index.html",)), out,
                               corpus_config((small_site[2],)))
