"""``openwebli eval-langid`` on the real Leipzig sentences and single words."""
import json

import pytest

from pipelines.annotate.eval_langid import evaluate_langid, markdown_table
from pipelines.cli import main

pytestmark = pytest.mark.slow  # lid.176 on 75 languages


@pytest.fixture(scope="module")
def sentences(test_data):
    return evaluate_langid(test_data / "langid" / "sentences")


def test_unsupported_languages_are_listed_not_failed(sentences, test_data):
    """The data's languages that lid.176 has no label for, read from the model file itself
    (nb is its "no"); DESIGN.md lists the same eight."""
    import fasttext

    from pipelines.paths import lid_model_path

    labels = {label.removeprefix("__label__")
              for label in fasttext.load_model(str(lid_model_path())).get_labels()}
    files = {f.stem for f in (test_data / "langid" / "sentences").glob("*.txt")}
    missing = sorted(files - labels - {"nb"})
    assert sentences["unsupported"] == missing == ["lg", "mi", "sn", "st", "tn", "ts", "xh", "zu"]
    assert sentences["supported"] == len(files) - len(missing) == 67
    assert set(sentences["languages"]) == files - set(missing)


def test_accuracy_on_sentences(sentences):
    # Floors, not copies. Measured (docs/langid.md; lid.176 is deterministic on this data):
    # 0.930 with ms/id, bs/hr/sr/sh and no/nn/da each scored as one class, 0.894 strict (0.892
    # before "sh" was resolved to bs/hr/sr). 0.90 is the target for sentences; the
    # strict floor sits a point under the measurement, so losing the "sh" resolution fails.
    assert sentences["mean_accuracy"] >= 0.90
    assert sentences["mean_exact_accuracy"] >= 0.894 - 0.01
    nb, bs, hr = (sentences["languages"][c] for c in ("nb", "bs", "hr"))
    assert nb["exact_accuracy"] > 0.7  # nb is scored against lid's "no"
    assert bs["accuracy"] > 0.9 > bs["exact_accuracy"]
    assert hr["exact_accuracy"] > 0.75  # 0.657 while "sh" was left as it is
    assert not any("sh" in r["confused_with"] for r in sentences["languages"].values())
    de = sentences["languages"]["de"]
    assert de["accuracy"] == de["exact_accuracy"]  # outside the groups both are the same


def test_groups_are_reported_apart(sentences):
    groups = {"/".join(g["group"]): g for g in sentences["groups"]}
    assert set(groups) == {"id/ms", "bs/hr/sh/sr", "da/nn/no"}
    slavic = groups["bs/hr/sh/sr"]
    assert slavic["members"] == ["bs", "hr", "sr"] and set(groups["da/nn/no"]["members"]) == {
        "da", "nb", "nn"}
    assert slavic["exact_accuracy"]["bs"] == sentences["languages"]["bs"]["exact_accuracy"]
    assert slavic["group_accuracy"] > 0.9
    assert "mean_group_accuracy" not in sentences  # it is mean_accuracy now


def test_cli_json_has_top_level_mean(test_data, capsys):
    assert main(["eval-langid", "--data", str(test_data / "langid" / "single-words"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # Single words are hard: measured 0.540 with the groups as one class, 0.517 strict
    # (docs/langid.md). A window around them, not a copy: the upper edge would catch the JSON
    # reporting the sentences' figures. Strict can only be lower (a group adds right answers).
    assert 0.5 <= result["mean_accuracy"] <= 0.6
    assert 0.5 <= result["mean_exact_accuracy"] <= result["mean_accuracy"]
    assert result["supported"] == 67 and len(result["languages"]) == 67


def _cells(row: str) -> list[str]:
    return [c.strip().strip("*") for c in row.strip().strip("|").split("|")]


def test_markdown_table(sentences):
    """The table, parsed back, shows the result's figures: a row per language, the means, a
    row per group."""
    languages, groups = markdown_table(sentences).split("\n\n")
    rows = languages.splitlines()[2:]  # after the header and its rule
    assert len(rows) == 67 + 1
    for row, (code, r) in zip(rows, sentences["languages"].items()):
        cells = _cells(row)
        assert cells[:4] == [code, str(r["n"]), f"{r['exact_accuracy']:.3f}",
                             f"{r['accuracy']:.3f}"]
        assert cells[4] == ", ".join(f"{k} ({v})" for k, v in r["confused_with"].items())
    assert _cells(rows[-1]) == ["mean (67 supported)", "", f"{sentences['mean_exact_accuracy']:.3f}",
                                f"{sentences['mean_accuracy']:.3f}", ""]
    group_rows = groups.splitlines()[2:]
    assert len(group_rows) == 3
    slavic = next(g for g in sentences["groups"] if "bs" in g["group"])
    assert _cells(group_rows[1]) == [
        "bs/hr/sh/sr", ", ".join(f"{c} {a:.3f}" for c, a in slavic["exact_accuracy"].items()),
        f"{slavic['group_accuracy']:.3f}"]
