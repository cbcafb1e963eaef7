"""Exact resume: `openwebli train` SIGKILLed mid-run and started again ends with the parameters
of an uninterrupted run, bit for bit (the input iterator is restored from the checkpoint, not
replayed); a damaged newest checkpoint falls back to the one before."""
import json
import logging
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from tests.test_model_data import make_examples, write_mixture

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "tiny:steps=30,log_every=1,checkpoint_every=10"


def _start(data: str, workdir) -> subprocess.Popen:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "train", "--config", CONFIG,
                             "--data", data, "--workdir", str(workdir)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


def _logged_steps(workdir) -> list[int]:
    path = workdir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["step"] for line in lines if line.endswith("}")]


def _kill_after_a_checkpoint(proc, workdir) -> int:
    """SIGKILL once checkpoint 10 is final and step 15 is logged; → the last step logged."""
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        steps = _logged_steps(workdir)
        if (workdir / "checkpoints" / "10").is_dir() and steps and steps[-1] >= 15:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return steps[-1]
        time.sleep(0.05)
    raise AssertionError(f"the run ended or stalled before it could be killed: {proc.poll()}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    (root / "mixture").mkdir()
    data = write_mixture(root / "mixture", make_examples(24, seed=3))
    whole, killed = root / "whole", root / "killed"
    _finish(_start(data, whole))
    last = _kill_after_a_checkpoint(_start(data, killed), killed)
    out = _finish(_start(data, killed))
    return whole, killed, last, out


def _params(workdir):
    from model.predict import load

    return jax.device_get(load(str(workdir)).params)


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_parameters_bit_for_bit(runs):
    whole, killed, last, out = runs
    assert 15 <= last < 30
    resumed_from = int(out.split("resumed from step ")[1].split()[0])
    assert resumed_from in (10, 20) and resumed_from <= last
    steps = _logged_steps(killed)  # the killed run's steps, then the resumed run's
    assert steps[-(30 - resumed_from):] == list(range(resumed_from + 1, 31))
    a, b = jax.tree.leaves(_params(whole)), jax.tree.leaves(_params(killed))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    # and the losses of the steps both ran are the same numbers
    loss = lambda w: {json.loads(l)["step"]: json.loads(l)["loss"]
                      for l in (w / "metrics.jsonl").read_text().splitlines()}
    assert all(loss(killed)[s] == loss(whole)[s] for s in range(resumed_from + 1, 31))


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(runs, caplog, tmp_path):
    import shutil

    from model.checkpoints import checkpoints, restore
    from model.configs import PaliConfig
    from model.train import create_state

    whole = runs[0]
    work = tmp_path / "work"
    shutil.copytree(whole, work)
    assert sorted(int(p.name) for p in (work / "checkpoints").iterdir() if p.name.isdigit()) == [
        20, 30]  # max_to_keep=2
    for f in (work / "checkpoints" / "30" / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(b"damaged")
    config = PaliConfig(**json.loads((work / "config.json").read_text()))
    with caplog.at_level(logging.WARNING, logger="openwebli.train"):
        state = restore(checkpoints(work), create_state(config, warn=False))
    assert int(state.step) == 20
    assert "checkpoint 30 in" in caplog.text and "cannot be read" in caplog.text
    for f in (work / "checkpoints" / "20" / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(b"damaged")
    with pytest.raises(ValueError, match=r"no checkpoint in .* can be read \(steps \[30, 20\]\)"):
        restore(checkpoints(work), create_state(config, warn=False))
