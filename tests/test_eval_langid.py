"""``openwebli eval-langid`` on the real Leipzig sentences and single words."""
import json

import pytest

from pipelines.annotate.eval_langid import evaluate_langid, markdown_table
from pipelines.cli import main


@pytest.fixture(scope="module")
def sentences(test_data):
    return evaluate_langid(test_data / "langid" / "sentences")


def test_unsupported_languages_are_listed_not_failed(sentences):
    assert sentences["unsupported"] == ["lg", "mi", "sn", "st", "tn", "ts", "xh", "zu"]
    assert sentences["supported"] == 67 and "zu" not in sentences["languages"]


def test_accuracy_on_sentences(sentences):
    # Measured 0.892 top-1 and 0.930 counting ms/id, bs/hr/sr and no/nn/da as groups.
    assert sentences["mean_accuracy"] >= 0.88
    assert sentences["mean_group_accuracy"] >= 0.92
    assert sentences["languages"]["nb"]["accuracy"] > 0.7  # nb is scored against lid's "no"
    assert sentences["languages"]["bs"]["group_accuracy"] > 0.9 > sentences["languages"]["bs"]["accuracy"]


def test_cli_json_has_top_level_mean(test_data, capsys):
    assert main(["eval-langid", "--data", str(test_data / "langid" / "single-words"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.45 <= result["mean_accuracy"] <= 0.6  # single words are hard: measured 0.515


def test_markdown_table(sentences):
    table = markdown_table(sentences)
    assert table.count("\n") == 67 + 2 and "**mean (67 supported)**" in table
