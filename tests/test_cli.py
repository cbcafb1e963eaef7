"""The ``openwebli`` command line: its commands and its errors."""
import pytest

from pipelines.cli import main, parser

COMMANDS = {"demo", "build", "crawl", "fetch", "mixture", "train-scorer", "train", "predict", "eval-langid",
            "eval-ocr"}


def test_commands_are_listed(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in COMMANDS)


@pytest.mark.parametrize("argv,message", [
    (["build", "--output", "x"], "give seed URLs (--seeds), archives (--input) or URL lists"),
    (["crawl", "--output", "x"], "give seed URLs (--seeds), archives (--input) or URL lists"),
    (["crawl", "--input", "/nonexistent/*.warc.gz", "--output", "x"], "no file matches"),
    (["fetch", "--output", "x"], "give URL lists (--url-list) or crawl folders (--candidates)"),
    (["mixture", "--corpus", "/nonexistent", "--output", "x"], "not a finished corpus folder"),
    (["train", "--config", "dmeo", "--data", "x", "--workdir", "y"], "did you mean 'demo'"),
    (["predict", "--checkpoint", "/nonexistent", "--image", "x.jpg"], "No such file"),
    (["predict", "--checkpoint", "/nonexistent", "--image", __file__], "not a training workdir"),
])
def test_errors_are_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_beam_flags_only_where_beam_runs():
    with pytest.raises(SystemExit):
        main(["train", "--data", "x", "--workdir", "y", "--runner=DirectRunner"])
