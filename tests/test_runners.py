"""The corpus job on Beam's PortableRunner, with SDK workers in separate processes.

Beam's own job service and an external worker pool run as subprocesses (what Flink and Dataflow
do with their workers): every DoFn and model handler must pickle and load its model there.
"""
import os
import socket
import subprocess
import sys
import time

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.corpus_job import CorpusInputs, run_corpus_job
from tests.conftest import corpus_config

pytestmark = pytest.mark.slow  # the corpus job on two runners: every real model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, seconds: float = 60.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {seconds} s")


@pytest.fixture(scope="module")
def portable_services():
    job_port, pool_port = _free_port(), _free_port()
    # The pool starts workers with `python` from PATH: put this venv's first.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    procs = [
        subprocess.Popen([sys.executable, "-m",
                          "apache_beam.runners.portability.local_job_service_main",
                          "--port", str(job_port)], env=env, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                          "--service_port", str(pool_port)], env=env, stderr=subprocess.DEVNULL),
    ]
    try:
        _wait_for(job_port)
        _wait_for(pool_port)
        yield job_port, pool_port
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def test_portable_runner_with_external_workers_matches_direct(
        portable_services, site_url, small_site, direct_corpus, tmp_path):
    job_port, pool_port = portable_services
    options = PipelineOptions([
        "--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
        "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"])
    seeds = CorpusInputs(seeds=(f"{site_url}/index.html",))
    stats = run_corpus_job(seeds, str(tmp_path), corpus_config((small_site[2],)), options)
    direct = dict(direct_corpus[1])
    # The scorer's float32 cosines depend on which pairs share a batch (seen: 0.69069761 here,
    # 0.69069773 on the DirectRunner): the threshold agrees to 1e-6, every count exactly.
    assert stats.pop("score_threshold") == pytest.approx(direct.pop("score_threshold"), abs=1e-6)
    assert stats == direct


def test_exact_cut_is_the_same_on_the_portable_runner(portable_services):
    """100k scores, exactly the top 10 %, with every step on workers in other processes."""
    from tests.test_score_cut import CutConfig, _pairs, exact_top, run_cut

    job_port, pool_port = portable_services
    options = PipelineOptions([
        "--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
        "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"])
    pairs = _pairs(100_000)
    run_cut([pairs[i:i + 10_000] for i in range(0, len(pairs), 10_000)], CutConfig(0.1),
            exact_top(pairs, 0.1), options=options)
