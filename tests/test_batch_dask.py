"""`badspi batch --scheduler`: the same per-capture function on a real Dask cluster
(two worker processes; one worker running four checks at once in threads) gives the same
dataset as the local pool and the inline run."""
import json
import os

import pytest

import badspi_pcap.batch as batch
import badspi_pcap.batch.runners as batch_runners
from badspi_pcap.cli import main
from batch_inputs import CAPTURES, INPUTS, assert_same_dataset, build_inputs, logs
from conftest import chdir

try:
    import distributed
except ImportError:              # a laptop without the [test] extra; in CI (CI=true) a failure
    if os.environ.get("CI"):
        raise
    pytest.skip("dask.distributed not installed: pip install -e '.[test]'", allow_module_level=True)
# a local Dask cluster warns as it starts and stops workers (ports, leaked semaphores): not the code under test
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as c:
        yield c


def test_dask_cluster_gives_the_local_pool_results(cluster, tmp_path):
    inputs = build_inputs(tmp_path / "in")
    with chdir(inputs):
        local = batch.run_batch(INPUTS, tmp_path / "local", jobs=2)
        remote = batch.run_batch(INPUTS, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert_same_dataset(tmp_path / "local", tmp_path / "dask")
    cols = [c for c in local.summary.columns if c != "run"]
    assert local.summary[cols].equals(remote.summary[cols])
    # The checks ran in the cluster's worker processes (how Dask spreads them over the two
    # is its own business: on a loaded machine one worker may take them all).
    with distributed.Client(cluster.scheduler_address) as client:
        done = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(done) == 2 and sum(done.values()) >= len(CAPTURES), done
    assert (remote.summary["status"] == "ok").sum() == len(CAPTURES)


def test_cli_resumes_on_the_cluster(cluster, tmp_path, capsys):
    inputs = build_inputs(tmp_path / "in")
    with chdir(inputs):
        assert main(["batch", *INPUTS, "-o", str(tmp_path / "ds"), "-j", "1"]) == 0
        capsys.readouterr()
        assert main(["batch", *INPUTS, "-o", str(tmp_path / "ds"), "--scheduler", cluster.scheduler_address]) == 0
    assert "0 checked now" in capsys.readouterr().out


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path, capsys, monkeypatch):
    import socket
    monkeypatch.setattr(batch_runners, "DASK_CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["batch", str(tmp_path), "-o", str(tmp_path / "ds"), "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 1 and "cannot reach the Dask scheduler" in capsys.readouterr().err


@pytest.fixture(scope="module")
def threaded_cluster():
    """One worker process running four tasks at once in threads (``dask worker --nthreads 4``),
    its scheduler recording when and in which thread each task ran."""
    from distributed.diagnostics.task_stream import TaskStreamPlugin

    with distributed.LocalCluster(n_workers=1, threads_per_worker=4, processes=True, dashboard_address=None,
                                  silence_logs=40) as c:
        c.task_stream = TaskStreamPlugin(c.scheduler)
        c.scheduler.add_plugin(c.task_stream)
        yield c


# the lab captures among the inputs -> the scenario whose gateway logs and SA table go with them
SCENARIOS = {"icmp-net-unreach.pcap": "icmp-net-unreach", "spi-mismatch.pcap": "spi-mismatch",
             "natt.pcap": "natt", "ikev2-rekey.pcap": "ikev2-rekey", "evil.pcap": "icmp-frag-needed",
             "ipv6.pcap.gz": "ipv6"}


def test_threads_in_one_worker_give_the_inline_runs_dataset(threaded_cluster, tmp_path):
    """Several captures checked at once in one process's threads (the reader, the log
    parsers, analyze, the dataset writes side by side) give, table by table, the rows
    of the inline run."""
    inputs = build_inputs(tmp_path / "in")
    lines = ["capture,events,sas,log_tz"]
    for name, scenario in SCENARIOS.items():
        log = logs(scenario)
        tz = json.loads(log.with_name("truth.json").read_text())["params"]["tz"]
        lines.append(f"*{name},{log},{log.with_name('get-sa.txt')},{tz}")
    (tmp_path / "map.csv").write_text("\n".join(lines) + "\n")
    mapping = batch.read_map(tmp_path / "map.csv")
    with chdir(inputs):
        inline = batch.run_batch(INPUTS, tmp_path / "inline", jobs=1, mapping=mapping)
        threads = batch.run_batch(INPUTS, tmp_path / "dask", scheduler=threaded_cluster.scheduler_address,
                                  mapping=mapping)
    assert_same_dataset(tmp_path / "inline", tmp_path / "dask")      # packets, findings, summary
    cols = [c for c in inline.summary.columns if c != "run"]
    assert inline.summary[cols].equals(threads.summary[cols])
    s = threads.summary.set_index("capture")
    assert (s["status"] == "ok").sum() == len(CAPTURES)
    assert s.loc["folder/sub/spi-mismatch.pcap", "main_cause"] == "stale-sa"        # the logs were read
    assert s["logs"].notna().sum() == len(SCENARIOS)
    with distributed.Client(threaded_cluster.scheduler_address) as client:
        state = client.run(lambda dask_worker: (dask_worker.state.nthreads, dask_worker.state.executed_count))
    (nthreads, executed), = state.values()
    assert nthreads == 4 and executed >= len(CAPTURES)
    # The checks really ran side by side: in several threads, some at the same time.
    runs = [(t["thread"], s["start"], s["stop"]) for t in threaded_cluster.task_stream.buffer
            if str(t["key"]).startswith("run_task-") for s in t["startstops"] if s["action"] == "compute"]
    assert len(runs) >= len(CAPTURES) and len({thread for thread, _, _ in runs}) >= 2
    assert max(sum(a < stop and start < b for _, a, b in runs) for _, start, stop in runs) >= 2
