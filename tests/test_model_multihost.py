"""`openwebli train` over two processes on 127.0.0.1 (4 simulated CPU devices each, gloo
collectives) against one process of 8 devices: the same loss at every step."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.test_model_data import make_examples, write_mixture

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "tiny:steps=12,log_every=1,checkpoint_every=12,batch_size=8"


def _train(data: str, workdir: str, devices: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    argv = [sys.executable, "-m", "pipelines.cli", "train", "--config", CONFIG, "--data", data,
            "--workdir", workdir, *extra]
    return subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> None:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]


def _losses(workdir) -> list[float]:
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_as_one(tmp_path):
    (tmp_path / "mixture").mkdir()
    data = write_mixture(tmp_path / "mixture", make_examples(24, seed=2))
    _finish(_train(data, str(tmp_path / "one"), 8))
    coordinator = f"127.0.0.1:{_free_port()}"
    procs = [_train(data, str(tmp_path / "two"), 4, "--coordinator", coordinator,
                    "--num-processes", "2", "--process-id", str(i)) for i in (0, 1)]
    for proc in procs:
        _finish(proc)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == 12
    # each process reads every other example of the same draws, so every global batch holds
    # the same rows in another order: float32 sums in another order, 1e-4
    np.testing.assert_allclose(two, one, rtol=1e-4)


def test_process_flags_are_checked():
    from model.train import start_processes

    with pytest.raises(ValueError, match="need --coordinator"):
        start_processes(None, 2, 1)
    with pytest.raises(ValueError, match="needs --num-processes and --process-id"):
        start_processes("127.0.0.1:1234", None, None)
    start_processes(None, 1, 0)  # one process: nothing to start
