"""`badspi batch` from a bucket to a bucket: a real S3-compatible server (moto's server
mode on 127.0.0.1) holds the inputs (a folder, a tar.gz and a zip), the logs and the map;
the dataset is written there too.  Inline and on a Dask cluster whose workers run in
another folder and reach the data only through the bucket, the dataset equals the one a
local run writes; resume and "done only when its manifest exists" hold there too."""
import os

import pandas as pd
import pytest

import badspi_pcap.batch as batch
from badspi_pcap.cli import main
from batch_inputs import CAPTURES, INPUTS, build_inputs, logs
from conftest import chdir


def require(module: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e.name} is required in CI (the test extra installs it)")
        pytest.skip(f"{e.name} not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with bucket ``cases`` (inputs, logs, map) and an empty
    bucket ``results``; yields the fsspec filesystem."""
    require("s3fs")
    server_module = require("moto.server")
    import fsspec

    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "FSSPEC_S3_ENDPOINT_URL": endpoint}.items():
            mp.setenv(key, value)          # for new processes (Dask workers) ...
        mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})   # ... and this one
        fsspec.filesystem("s3").clear_instance_cache()
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        for bucket in ("cases", "results"):
            fs.mkdir(bucket)
        local = build_inputs(tmp_path_factory.mktemp("inputs"))
        fs.put(str(local) + "/", "cases/in", recursive=True)
        fs.put(str(logs("icmp-net-unreach")), "cases/logs/gw.log")
        fs.pipe("cases/map.csv", b"capture,events,log_tz\nicmp-net-unreach*,logs/gw.log,Europe/Berlin\n")
        yield fs, local
    server.stop()


URLS = [f"s3://cases/in/{name}" for name in INPUTS]


def run(dataset, **kwargs):
    return batch.run_batch(URLS, dataset, mapping=batch.read_map("s3://cases/map.csv"), **kwargs)


def by_id(dataset, table: str) -> pd.DataFrame:
    """A table with what names where the inputs were taken out (addresses relative to the
    inputs, the log named LOG)."""
    df = batch.read_dataset(dataset, table)
    for column in ("evidence_frames", "evidence_lines"):
        if column in df:
            df[column] = (df[column].str.replace("s3://cases/in/", "", regex=False)
                          .str.replace(r"(s3://cases/logs/gw\.log|/\S*/screenos-syslog\.log)", "LOG", regex=True))
    if "evidence" in df:   # typed findings (issue 11): (capture, frame) pairs
        df["evidence"] = [[{**e, "capture": e["capture"].replace("s3://cases/in/", "")} for e in refs]
                          for refs in df["evidence"]]
    keys = {"packets": ["capture_id", "frame"],
            "findings": ["capture_id", "tunnel", "cause"]}.get(table, ["capture_id"])
    return df.drop(columns=[c for c in ("capture", "path", "logs") if c in df]).sort_values(keys).reset_index(drop=True)


def test_bucket_to_bucket_equals_a_local_run_and_resumes(s3, tmp_path):
    fs, local_inputs = s3
    result = run("s3://results/inline", jobs=1)
    ok = result.summary[result.summary["status"] == "ok"]
    assert len(ok) == len(CAPTURES) and ok["capture"].str.startswith("s3://cases/in/").all()
    assert "s3://cases/in/caps.zip::more.tar::ikev2-rekey.pcap" in set(ok["capture"])   # nested archive, streamed
    net = ok[ok["capture"] == "s3://cases/in/folder/icmp-net-unreach.pcap"].iloc[0]
    # the map's log, read from S3
    assert net["logs"] == "s3://cases/logs/gw.log" and net["main_cause"] == "embedded-icmp"
    assert not fs.exists("results/inline/_lock")
    with chdir(local_inputs):
        batch.run_batch(INPUTS, tmp_path / "local", jobs=1, mapping=batch.read_map(_local_map(tmp_path)))
    for table in ("packets", "findings"):
        pd.testing.assert_frame_equal(by_id("s3://results/inline", table), by_id(tmp_path / "local", table))
    summary = by_id("s3://results/inline", "summary")
    local = by_id(tmp_path / "local", "summary")
    ids = set(ok["capture_id"])
    pd.testing.assert_frame_equal(summary[summary["capture_id"].isin(ids)].reset_index(drop=True),
                                  local[local["capture_id"].isin(ids)].reset_index(drop=True))

    again = run("s3://results/inline", jobs=1)                  # resume: nothing to do
    assert again.checked == 0 and set(again.summary["run"]) <= {"earlier", "duplicate"}

    # done only when its manifest exists: without it the rows are not read, and the capture is redone
    victim = net["capture_id"]
    fs.rm(f"results/inline/_manifest/{victim}.json")
    fs.invalidate_cache()
    assert victim not in set(batch.read_dataset("s3://results/inline")["capture_id"])
    redo = run("s3://results/inline", jobs=1)
    assert redo.checked == 1 and redo.summary.loc[redo.summary["run"] == "new", "capture_id"].tolist() == [victim]
    fs.invalidate_cache()
    assert victim in set(batch.read_dataset("s3://results/inline")["capture_id"])


def _local_map(tmp_path) -> str:
    path = tmp_path / "map.csv"
    path.write_text(f"capture,events,log_tz\nicmp-net-unreach*,{logs('icmp-net-unreach')},Europe/Berlin\n")
    return str(path)


@pytest.mark.filterwarnings("ignore")   # a local Dask cluster's start/stop warnings, not the code under test
def test_a_dask_cluster_without_the_client_s_files_writes_the_same_dataset(s3, tmp_path, capsys):
    fs, _ = s3
    distributed = require("distributed")
    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()
    if not fs.exists("results/inline/_manifest"):
        run("s3://results/inline", jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40, local_directory=str(elsewhere)) as cluster:
        with distributed.Client(cluster.scheduler_address) as client:
            client.run(os.chdir, str(elsewhere))                # nothing of the client's folder is at hand
            assert set(client.run(os.getcwd).values()) == {str(elsewhere)}
        code = main(["batch", *URLS, "--map", "s3://cases/map.csv", "-o", "s3://results/dask",
                     "--scheduler", cluster.scheduler_address])
        assert code == 0
        out = capsys.readouterr().out
        assert f"{len(CAPTURES)} ok" in out and "dataset: s3://results/dask/" in out
        with distributed.Client(cluster.scheduler_address) as client:
            done = client.run(lambda dask_worker: dask_worker.state.executed_count)
        assert sum(done.values()) >= len(CAPTURES), done
        fs.invalidate_cache()
        for table in ("packets", "findings", "summary"):
            pd.testing.assert_frame_equal(by_id("s3://results/dask", table), by_id("s3://results/inline", table))
        assert main(["batch", *URLS, "--map", "s3://cases/map.csv", "-o", "s3://results/dask",
                     "--scheduler", cluster.scheduler_address]) == 0
        assert "0 checked now" in capsys.readouterr().out
    assert not fs.exists("results/dask/_lock")
