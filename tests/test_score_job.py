"""``openwebli score``: a folder of pairs through the score stage alone, with the project's
scorer."""
import io
import random

import pytest

from pipelines import synthetic
from pipelines.cli import main
from pipelines.corpus_io import read_json, read_records
from schemas import CorpusPair, Rejection
from tests.test_safety_stage import _pair, _write_folder

pytestmark = pytest.mark.slow  # the project's scorer


def _scene_pairs(n: int):
    """n generated scenes, captioned in English (even) or French (odd), half of them with
    another scene's caption (what the cut must drop first)."""
    rng, out = random.Random(7), []
    for i in range(n):
        scene, other = synthetic.random_scene(rng), synthetic.random_scene(rng)
        buf = io.BytesIO()
        synthetic.render_scene(scene, (96, 72), rng).save(buf, "JPEG")
        lang = "en" if i % 2 == 0 else "fr"
        caption = synthetic.scene_caption(scene if i % 4 < 2 else other, lang)
        out.append(_pair(i, image_bytes=buf.getvalue(), alt_text=caption, lang=lang))
    return out


def test_score_command_cuts_each_language(tmp_path, capsys):
    pairs = _scene_pairs(40)
    _write_folder(tmp_path / "pairs", pairs)
    out = tmp_path / "scored"
    assert main(["score", "--input", str(tmp_path / "pairs"), "--output", str(out),
                 "--keep-fraction", "0.25", "--per-language"]) == 0
    printed = capsys.readouterr().out
    assert "score           40      10        30  below_score_threshold=30" in printed
    assert "score cut (exact): top 25% of each language" in printed
    kept = read_records(str(out), CorpusPair)
    assert sorted(p.lang for p in kept) == ["en"] * 5 + ["fr"] * 5  # round(0.25 · 20) each
    cut = read_json(str(out), "stats.json")["score_cut"]
    assert cut["kept_per_language"] == {"en": 5, "fr": 5}
    assert cut["seen_per_language"] == {"en": 20, "fr": 20}
    rejects = read_records(str(out / "rejects"), Rejection)
    # Each language's threshold separates its kept pairs from its rejected ones.
    for lang in ("en", "fr"):
        scores = [p.score for p in kept if p.lang == lang]
        below = [float(r.detail) for r in rejects
                 if next(p for p in pairs if p.pair_id == r.record_id).lang == lang]
        assert min(scores) == pytest.approx(cut["thresholds"][lang], abs=1e-4)
        assert min(scores) >= max(below) - 1e-4
    # Most kept pairs carry their own caption (half of all pairs do): the scorer works.
    own = [p for p in kept if int(p.pair_id[1:]) % 4 < 2]
    assert len(own) >= 8


def test_score_command_rescores_a_corpus_folder(tmp_path, capsys):
    pairs = _scene_pairs(12)
    _write_folder(tmp_path / "pairs", pairs)
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["score", "--input", str(tmp_path / "pairs"), "--output", str(first),
                 "--keep-fraction", "0.5"]) == 0
    assert main(["score", "--input", str(first), "--output", str(second),
                 "--keep-fraction", "0.5"]) == 0
    again = {p.pair_id: p.score for p in read_records(str(second), CorpusPair)}
    once = {p.pair_id: p.score for p in read_records(str(first), CorpusPair)}
    assert len(again) == 3 and set(again) <= set(once)  # half of the 6 kept the first time
    assert all(again[k] == pytest.approx(once[k], abs=1e-5) for k in again)
