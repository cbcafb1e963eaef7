"""The ``openwebli`` command line: its commands and its errors."""
import re

import pytest

from pipelines.cli import main, parser

COMMANDS = {"demo", "build", "crawl", "fetch", "filter", "score", "mixture", "train-scorer", "train", "predict",
            "eval", "metrics", "eval-langid", "eval-ocr", "params"}


def test_commands_are_listed(capsys):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    # The help's command list: one line per command, "    name   what it does".
    listed = set(re.findall(r"^    ([a-z][a-z-]*) {2,}\S", out, re.MULTILINE))
    assert listed == COMMANDS


@pytest.mark.parametrize("argv,message", [
    (["build", "--output", "x"], "give seed URLs (--seeds), archives (--input) or URL lists"),
    (["crawl", "--output", "x"], "give seed URLs (--seeds), archives (--input) or URL lists"),
    (["crawl", "--input", "/nonexistent/*.warc.gz", "--output", "x"], "no file matches"),
    (["fetch", "--output", "x"], "give URL lists (--url-list) or crawl folders (--candidates)"),
    (["mixture", "--corpus", "/nonexistent", "--output", "x"], "not a finished corpus folder"),
    (["mixture", "--output", "x"], "give --corpus (a corpus folder), --spec"),
    (["train", "--config", "dmeo", "--data", "x", "--workdir", "y"], "did you mean 'demo'"),
    (["predict", "--checkpoint", "/nonexistent", "--image", "x.jpg"], "no image or folder x.jpg"),
    (["predict", "--checkpoint", "/nonexistent", "--image", __file__], "not a training workdir"),
])
def test_errors_are_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_beam_flags_only_where_beam_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", "x", "--workdir", "y", "--runner=DirectRunner"])
    assert exit_.value.code == 2  # argparse's usage error, before anything runs
    assert "openwebli: error: unrecognized arguments: --runner=DirectRunner" in (
        capsys.readouterr().err)


def test_predict_on_a_folder_without_images(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images here")
    assert main(["predict", "--checkpoint", "/nonexistent", "--image", str(tmp_path)]) == 2
    assert f"no images (.jpg, .jpeg, .png, .webp, .gif, .bmp) in {tmp_path}" in (
        capsys.readouterr().err)


@pytest.mark.parametrize("command", [
    ["metrics", "--task", "exact", "--predictions", "{dir}", "--references", "{dir}"],
    ["mixture", "--corpus", "/nonexistent", "--output", "{out}", "--spec", "{dir}"],
    ["fetch", "--url-list", "{dir}", "--output", "{out}"],
    ["crawl", "--input", "{dir}", "--output", "{out}"],
])
def test_a_folder_where_a_file_is_expected_is_one_clear_line(command, tmp_path, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    argv = [a.format(dir=folder, out=tmp_path / "out") for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{folder} is a folder" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
