"""`badspi batch --scheduler`: the same per-capture function on a real Dask cluster
(two worker processes) gives the same dataset as the local pool."""

import pytest

import badspi_pcap.batch as batch
import badspi_pcap.batch.runners as batch_runners
from badspi_pcap.cli import main
from batch_inputs import CAPTURES, INPUTS, assert_same_dataset, build_inputs
from conftest import chdir

distributed = pytest.importorskip("distributed")
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
