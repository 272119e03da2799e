"""`badspi batch`: folders, globs and tar/zip archives of real captures into one dataset.

Every capture's rows must equal what reading the fixture alone gives; bad files are
listed, never fatal; re-runs resume by content; nothing half-written looks complete."""
import hashlib
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import badspi_pcap.batch as batch
from badspi_pcap.analysis import analyze
from badspi_pcap.archive import HashingReader, Limits
from badspi_pcap.capture import read_capture
from badspi_pcap.cli import cli, main
from badspi_pcap.errors import UsageError
from batch_inputs import CAPTURES, ERRORS, INPUTS, LAB, SKIPPED, assert_same_dataset, build_inputs, logs, table
from conftest import chdir

pytestmark = pytest.mark.filterwarnings("ignore::badspi_pcap.capture.CaptureWarning")   # damaged inputs on purpose


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return build_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def done(inputs):
    """One inline run over everything, shared by the read-only tests."""
    with chdir(inputs):
        result = batch.run_batch(INPUTS, "out", jobs=1)
    return inputs, result


def rows_of(summary, address):
    row = summary[summary["capture"] == address]
    assert len(row) == 1, (address, list(summary["capture"]))
    return row.iloc[0]


def test_every_entry_is_listed_with_its_status(done):
    _, result = done
    s = result.summary
    assert sorted(s["capture"]) == sorted([*CAPTURES, *SKIPPED, *ERRORS])
    for address in CAPTURES:
        assert rows_of(s, address)["status"] == "ok", rows_of(s, address)["error"]
    for address, words in {**SKIPPED, **ERRORS}.items():
        row = rows_of(s, address)
        assert row["status"] == ("error" if address in ERRORS else "skipped")
        assert words in row["error"], row["error"]
    assert (s["run"] == "new").all()


def rows_for(dataset, name):
    """(address, fixture, that capture's rows of table ``name`` without its ids) per capture."""
    rows, summary = table(dataset, name), table(dataset, "summary")
    for address, fixture in CAPTURES.items():
        cid = rows_of(summary, address)["capture_id"]
        mine = rows[rows["capture_id"] == cid]
        assert (mine["capture"] == address).all()
        yield address, fixture, mine.drop(columns=["capture_id", "capture"]).reset_index(drop=True)


def test_packets_equal_reading_each_fixture_alone(done):
    inputs, _ = done
    summary = table(inputs / "out", "summary")
    for address, fixture, ours in rows_for(inputs / "out", "packets"):
        alone = read_capture(fixture)
        want = alone.packets.drop(columns=["capture"]).reset_index(drop=True)
        assert alone.counts.frames > 0
        pd.testing.assert_frame_equal(ours, want, check_dtype=False)
        row = rows_of(summary, address)
        assert (row["frames"], row["ipsec_packets"]) == (alone.counts.frames, len(alone.packets))
        assert row["first_time"] == alone.first_time and row["last_time"] == alone.last_time


def test_findings_equal_analyzing_each_fixture_alone(done):
    inputs, _ = done
    for address, fixture, ours in rows_for(inputs / "out", "findings"):
        want = analyze(fixture).findings.reset_index(drop=True)
        # Typed rows, compared as plain values; the batch names the capture by its address.
        ours, want = (pa.Table.from_pandas(df, preserve_index=False).to_pylist() for df in (ours, want))
        for row in ours:
            row["evidence"] = [{**e, "capture": fixture.name if e["capture"] == address else e["capture"]}
                               for e in row["evidence"]]
        assert ours == want


def test_summary_says_which_captures_show_icmp_errors_quoting_ipsec(done):
    inputs, _ = done
    s = table(inputs / "out", "summary")
    net = rows_of(s, "folder/icmp-net-unreach.pcap")
    truth = json.loads((LAB / "icmp-net-unreach.truth.json").read_text())
    assert net["icmp_errors_ipsec"] == 35 == len(truth["icmp_errors"])
    assert net["quoted_spis"] == "0x1000a001" and "0x1000a001" in net["spi_list"]
    assert net["verdicts"] == "SPI 0x1000a001: embedded-icmp INCONCLUSIVE (no log line)"
    assert rows_of(s, "caps.zip::/abs/natt2.pcap")["quoted_spis"] == "0x3000c003"
    assert rows_of(s, "folder/sub/spi-mismatch.pcap")["icmp_errors_ipsec"] == 0
    assert rows_of(s, "caps.zip::more.tar::snoop.txt.xz")["format"] == "netscreen"
    assert rows_of(s, "caps.tar.gz::nested/ipv6.pcap.gz")["compression"] == "gzip"


def test_identity_is_the_sha256_of_the_stored_bytes(done):
    inputs, _ = done
    s = table(inputs / "out", "summary")
    plain = (inputs / "folder/icmp-net-unreach.pcap").read_bytes()
    row = rows_of(s, "folder/icmp-net-unreach.pcap")
    assert row["sha256"] == hashlib.sha256(plain).hexdigest() and row["capture_id"] == row["sha256"][:16]
    import tarfile
    with tarfile.open(inputs / "caps.tar.gz") as tar:
        member = tar.extractfile("nested/ipv6.pcap.gz").read()   # the stored (gzip) bytes
    assert rows_of(s, "caps.tar.gz::nested/ipv6.pcap.gz")["sha256"] == hashlib.sha256(member).hexdigest()


def test_member_names_are_only_labels(done):
    inputs, _ = done
    # Nothing was written outside the dataset: the inputs folder holds what it held.
    assert sorted(p.name for p in inputs.iterdir()) == sorted(["folder", "caps.tar.gz", "caps.zip", "out"])
    assert not (inputs.parent / "evil.pcap").exists() and not Path("/abs/natt2.pcap").exists()
    for sub in ("packets", "findings", "summary"):
        names = [p.name for p in (inputs / "out" / sub).iterdir()]
        assert all(len(n) == len("0123456789abcdef.parquet") for n in names), names


def test_dataset_reads_with_plain_pyarrow_and_pandas(done):
    inputs, _ = done
    out = inputs / "out"
    packets = ds.dataset(out / "packets", format="parquet")
    assert str(packets.schema.field("spi").type) == "uint32"
    assert str(packets.schema.field("time").type) == "timestamp[ns, tz=UTC]"
    assert packets.count_rows() == sum(len(read_capture(f).packets) for f in CAPTURES.values())
    summary = pd.read_parquet(out / "summary")
    assert len(summary) == len(CAPTURES) + len(SKIPPED) + len(ERRORS)
    assert set(pq.read_schema(next((out / "findings").iterdir())).names) >= {"capture_id", "capture", "cause",
                                                                                "verdict"}


def test_duckdb_reads_the_dataset(done):
    if os.environ.get("CI"):
        import duckdb  # installed by the test extra: CI must run this
    else:
        duckdb = pytest.importorskip("duckdb")
    inputs, _ = done
    out = inputs / "out"
    got = duckdb.sql(f"select s.capture, count(*) from read_parquet('{out}/packets/*.parquet') p "
                     f"join read_parquet('{out}/summary/*.parquet') s using (capture_id) "
                     f"where p.kind = 'icmp-error' and p.inner_spi = {0x1000a001} group by all order by 1").fetchall()
    assert ("folder/icmp-net-unreach.pcap", 35) in got


def test_archive_limits_are_listed(inputs):
    with chdir(inputs):
        result = batch.run_batch(["caps.zip"], "limits", jobs=1, limits=Limits(max_depth=1, max_members=4))
    s = result.summary.set_index("capture")
    assert "nested more than 1 deep" in s.loc["caps.zip::more.tar", "error"]
    assert "more than 4 members" in s.loc["caps.zip", "error"]
    assert "caps.zip::zlink.pcap" not in s.index   # the fifth member: not read


def count_checks(monkeypatch):
    calls = []
    real = batch.check_capture

    def counting(source, options):
        calls.append(source.address)
        return real(source, options)

    monkeypatch.setattr(batch, "check_capture", counting)
    return calls


def test_rerun_skips_what_is_done_and_force_redoes_it(inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(inputs)
    calls = count_checks(monkeypatch)
    out = tmp_path / "ds"
    batch.run_batch(INPUTS, out, jobs=1)
    assert sorted(calls) == sorted(CAPTURES)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    calls.clear()
    again = batch.run_batch(INPUTS, out, jobs=1)
    assert calls == [] and (again.summary["run"] == "earlier").all() and again.checked == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == stamps
    forced = batch.run_batch(INPUTS, out, jobs=1, force=True)
    assert sorted(calls) == sorted(CAPTURES) and (forced.summary["run"] == "new").all()


def test_a_renamed_capture_is_not_checked_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = count_checks(monkeypatch)
    Path("a").mkdir()
    Path("a/one.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    batch.run_batch(["a"], "ds", jobs=1)
    Path("a/one.pcap").rename("a/renamed.pcap")
    Path("a/copy.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    calls.clear()
    result = batch.run_batch(["a"], "ds", jobs=1)
    assert calls == []
    s = result.summary.set_index("capture")
    assert s.loc["a/copy.pcap", "run"] == "earlier" and s.loc["a/renamed.pcap", "run"] == "duplicate"
    assert s.loc["a/renamed.pcap", "error"] == "same content as a/copy.pcap"


def test_other_logs_redo_a_capture(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = count_checks(monkeypatch)
    Path("one.pcap").write_bytes((LAB / "icmp-net-unreach.pcap").read_bytes())
    opts = batch.CheckOptions(events=(str(logs("icmp-net-unreach")),), log_tz="Europe/Berlin")
    first = batch.run_batch(["one.pcap"], "ds", jobs=1, options=opts)
    assert first.summary["main_cause"].tolist() == ["embedded-icmp"]
    batch.run_batch(["one.pcap"], "ds", jobs=1, options=opts)
    assert calls == ["one.pcap"]
    other = batch.CheckOptions(events=(str(logs("icmp-net-unreach-logself")),), log_tz="Europe/Berlin", log_self=True)
    batch.run_batch(["one.pcap"], "ds", jobs=1, options=other)
    assert calls == ["one.pcap", "one.pcap"]


class Killed(BaseException):
    """Stands for the process being killed: nothing in the batch catches it."""


def test_a_run_killed_mid_write_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("in").mkdir()
    Path("in/a.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    Path("in/b.pcap").write_bytes((LAB / "spi-mismatch.pcap").read_bytes())
    real = pq.write_table
    writes = []

    def dies_on_the_fourth_write(table, where, **kw):
        writes.append(where)
        if len(writes) == 4:           # a's three tables written; b's packets file half written
            Path(where).write_bytes(b"PAR1" + b"\0" * 100)
            raise Killed()
        return real(table, where, **kw)

    monkeypatch.setattr(batch.pq, "write_table", dies_on_the_fourth_write)
    with pytest.raises(Killed):
        batch.run_batch(["in"], "ds", jobs=1)
    monkeypatch.setattr(batch.pq, "write_table", real)
    out = Path("ds")
    for p in out.rglob("*.parquet"):
        pq.read_table(p)               # every file that looks like data is whole
    done = [json.loads(p.read_text())["capture"] for p in (out / "_manifest").glob("*.json")]
    assert done == ["in/a.pcap"]
    assert len(list((out / "packets").glob("*.parquet"))) == 1
    # A temporary a real kill would leave behind is never read as data, and goes next run.
    (out / "packets" / ".x.parquet.abc.part").write_bytes(b"PAR1 half")
    assert ds.dataset(out / "packets").count_rows() == len(read_capture(LAB / "natt.pcap").packets)
    calls = count_checks(monkeypatch)
    result = batch.run_batch(["in"], "ds", jobs=1)
    assert calls == ["in/b.pcap"] and not list(out.rglob("*.part"))
    assert sorted(result.summary["run"]) == ["earlier", "new"]


def test_a_failed_check_is_listed_and_retried_next_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    module = sys.modules["badspi_pcap.analysis"]
    monkeypatch.setattr(module, "analyze", lambda *a, **k: 1 / 0)   # a bug in the analysis
    first = batch.run_batch(["a.pcap"], "ds", jobs=1)
    assert first.summary["status"].tolist() == ["failed"]
    assert first.summary["error"].iloc[0] == "internal error: ZeroDivisionError: division by zero"
    assert pd.read_parquet("ds/summary")["status"].tolist() == ["failed"]
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    second = batch.run_batch(["a.pcap"], "ds", jobs=1)
    assert second.summary[["status", "run"]].values.tolist() == [["ok", "new"]]


def test_the_pool_loses_only_the_capture_whose_worker_died():
    runner = batch.PoolRunner(2)
    from batch_inputs import die_on_crash
    got = {item: (ok, value) for item, ok, value in runner.run(die_on_crash, [1, 2, "crash", 3, 4, 5])}
    assert {k: v for k, v in got.items() if k != "crash"} == {1: (True, 2), 2: (True, 4), 3: (True, 6),
                                                               4: (True, 8), 5: (True, 10)}
    ok, error = got["crash"]
    assert not ok and isinstance(error, batch.WorkerDied)


def test_pool_results_equal_inline_results(inputs, tmp_path):
    with chdir(inputs):
        batch.run_batch(INPUTS, tmp_path / "one", jobs=1)
        batch.run_batch(INPUTS, tmp_path / "two", jobs=2)
    assert_same_dataset(tmp_path / "one", tmp_path / "two")


def test_logs_are_matched_by_the_map_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("cases/1").mkdir(parents=True)
    Path("cases/2").mkdir(parents=True)
    Path("cases/1/gw.pcap").write_bytes((LAB / "icmp-net-unreach.pcap").read_bytes())
    Path("cases/2/gw.pcap").write_bytes((LAB / "spi-mismatch.pcap").read_bytes())
    Path("cases/2/other.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    Path("logs").mkdir()
    Path("logs/1.log").write_bytes(logs("icmp-net-unreach").read_bytes())
    Path("logs/2.log").write_bytes(logs("spi-mismatch").read_bytes())
    Path("map.csv").write_text("capture,events,log_tz\n"
                               "cases/1/*,logs/1.log,Europe/Berlin\n"
                               "cases/2/gw.pcap,logs/2.log;logs/1.log,\n")
    tz = json.loads(logs("spi-mismatch").with_name("truth.json").read_text())["params"]["tz"]
    result = batch.run_batch(["cases"], "ds", jobs=1, mapping=batch.read_map("map.csv"),
                             options=batch.CheckOptions(log_tz=tz))
    s = result.summary.set_index("capture")
    assert s.loc["cases/1/gw.pcap", "main_cause"] == "embedded-icmp"
    assert s.loc["cases/2/gw.pcap", "main_cause"] == "stale-sa"
    assert pd.isna(s.loc["cases/2/other.pcap", "logs"]) and pd.isna(s.loc["cases/2/other.pcap", "main_cause"])
    assert s.loc["cases/2/gw.pcap", "logs"].endswith("logs/2.log; " + str(tmp_path / "logs/1.log"))
    want = analyze(LAB / "spi-mismatch.pcap", [Path("logs/2.log"), Path("logs/1.log")], log_tz=tz).findings
    got = table("ds", "findings")
    got = got[got["capture"] == "cases/2/gw.pcap"]
    assert sorted(zip(got["tunnel"], got["cause"], got["verdict"])) == \
        sorted(zip(want["tunnel"], want["cause"], want["verdict"]))


@pytest.mark.parametrize("text,message", [
    ("pattern,events\nx,y\n", "needs a 'capture' column"),
    ("capture,year\nx,soon\n", "year 'soon' is not a number"),
    ("capture,log_self\nx,maybe\n", "log_self must be true or false"),
])
def test_a_bad_map_is_a_usage_error(tmp_path, text, message):
    (tmp_path / "map.csv").write_text(text)
    with pytest.raises(UsageError, match=message):
        batch.read_map(tmp_path / "map.csv")


def test_a_missing_log_or_input_stops_before_any_work(tmp_path):
    with pytest.raises(UsageError, match="no such file or folder"):
        batch.run_batch([str(tmp_path / "nope")], tmp_path / "ds", jobs=1)
    with pytest.raises(UsageError, match="no file or folder matches"):
        batch.run_batch([str(tmp_path / "*.pcap")], tmp_path / "ds", jobs=1)
    with pytest.raises(UsageError, match="cannot read"):
        batch.run_batch([str(LAB / "natt.pcap")], tmp_path / "ds", jobs=1,
                        options=batch.CheckOptions(events=(str(tmp_path / "gone.log"),)))
    assert not list(tmp_path.rglob("*.parquet"))


def test_globs_and_the_dataset_inside_the_input_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("caps").mkdir()
    Path("caps/a.pcap").write_bytes((LAB / "natt.pcap").read_bytes())
    Path("caps/b.pcapng").write_bytes((LAB / "icmp-net-unreach.pcapng").read_bytes())
    batch.run_batch(["caps"], "caps/out", jobs=1)
    again = batch.run_batch(["caps/*.pcap*", "caps"], "caps/out", jobs=1)
    assert sorted(again.summary["capture"]) == ["caps/a.pcap", "caps/b.pcapng"]


def test_one_run_at_a_time_per_dataset(tmp_path):
    import fcntl
    (tmp_path / "ds").mkdir()
    with open(tmp_path / "ds" / "_lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UsageError, match="another badspi batch"):
            batch.run_batch([str(LAB / "natt.pcap")], tmp_path / "ds", jobs=1)


def test_hashing_reader_rewinds_its_head_and_hashes_each_byte_once():
    import io
    data = bytes(range(256)) * 40
    reader = HashingReader(io.BytesIO(data), keep=4096)
    assert reader.read(100) == data[:100]
    reader.seek(0)
    assert reader.read(5000) == data[:5000]          # past the kept head now
    with pytest.raises(OSError):
        reader.seek(10)
    reader.seek(6000)                                  # forward: read through
    assert reader.read(10) == data[6000:6010]
    assert reader.finish() == hashlib.sha256(data).hexdigest()


def test_cli_prints_the_summary_and_exits_0_with_a_bad_file(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(inputs)
    code = main(["batch", *INPUTS, "-o", str(tmp_path / "ds"), "-j", "1"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["capture", "status", "frames", "ipsec", "spis", "icmp_ipsec", "result"]
    row = next(ln for ln in lines if ln.startswith("folder/icmp-net-unreach.pcap "))
    assert row.split()[1:6] == ["ok", "144", "134", "2", "35"]
    bad = next(ln for ln in lines if ln.startswith("folder/sub/corrupt.pcap "))
    assert bad.split()[1] == "error" and "not a capture file" in bad
    n = len(CAPTURES) + len(SKIPPED) + len(ERRORS)
    assert f"{n} found: {len(CAPTURES)} ok, 1 error, {len(SKIPPED)} skipped; {n} checked now" in out
    again = CliRunner().invoke(cli, ["batch", *INPUTS, "-o", str(tmp_path / "ds"), "-j", "1"])
    assert again.exit_code == 0 and f"0 checked now, {n} done by an earlier run (*)" in again.output
    assert "ok*" in again.output


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing.pcap"), "-o", str(tmp_path / "ds")]) == 1
    assert capsys.readouterr().err == f"Error: {tmp_path / 'missing.pcap'}: no such file or folder\n"
    result = CliRunner().invoke(cli, ["batch", str(LAB / "natt.pcap")])
    assert result.exit_code == 2 and "Missing option '-o'" in result.output


def test_members_of_a_tgz_in_order_cost_one_pass(inputs, monkeypatch):
    from badspi_pcap.archive import release, scan
    from badspi_pcap.compressed import Decompressed
    rewinds = []
    real = Decompressed.seek

    def seek(self, *args):   # the archive's stream rewound (not a .pcap.gz member's own)
        if not isinstance(self.raw, HashingReader):
            rewinds.append(1)
        return real(self, *args)

    monkeypatch.setattr(Decompressed, "seek", seek)
    sources = [e for e in scan(inputs / "caps.tar.gz", "caps.tar.gz") if isinstance(e, batch.CaptureSource)]
    assert len(sources) == 4
    rewinds.clear()
    try:
        for source in sources:
            assert batch.check_capture(source).summary["status"] == "ok"
        assert rewinds == []             # the archive kept open, read forward once
        for source in reversed(sources):
            assert batch.check_capture(source).summary["status"] == "ok"
        assert len(rewinds) >= 3         # going back means decompressing again from the start
    finally:
        release()


def test_a_tgz_cut_short_keeps_what_is_there(tmp_path):
    import io
    import tarfile
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz", compresslevel=0) as tar:   # stored: cut offsets map 1:1
        for name in ("natt.pcap", "spi-mismatch.pcap"):
            tar.add(LAB / name, arcname=name)
    whole = (LAB / "natt.pcap").stat().st_size
    cut = 512 + whole + (512 - whole % 512) % 512 + 512 + 4000    # 4000 bytes into the second member
    (tmp_path / "cut.tgz").write_bytes(data.getvalue()[:cut])
    result = batch.run_batch([str(tmp_path / "cut.tgz")], tmp_path / "ds", jobs=1)
    s = result.summary.set_index("capture")
    first, second = (str(tmp_path / "cut.tgz") + "::" + n for n in ("natt.pcap", "spi-mismatch.pcap"))
    assert s.loc[first, "status"] == "ok" and s.loc[first, "warnings"] == 0
    assert s.loc[second, "status"] == "ok"
    assert "the archive ends 12671 bytes before the end of this member" in s.loc[second, "warning_text"]
    assert s.loc[str(tmp_path / "cut.tgz"), "status"] == "error"
    packets = table(tmp_path / "ds", "packets")
    kept = packets[packets["capture"] == second].drop(columns=["capture_id", "capture"]).reset_index(drop=True)
    want = read_capture(LAB / "spi-mismatch.pcap").packets.drop(columns=["capture"])
    assert 0 < len(kept) < len(want)
    pd.testing.assert_frame_equal(kept, want.head(len(kept)).reset_index(drop=True), check_dtype=False)
    printed = batch.batch_table(result.summary)
    row = printed[printed["capture"].str.endswith("::spi-mismatch.pcap")].iloc[0]
    assert (row["status"], row["result"]) == ("ok", "2 warnings")


def test_decompression_bombs_in_archives_are_not_read_to_the_end(tmp_path):
    import io
    import tarfile
    import zipfile
    zeros = bytes(70 << 20)                     # deflates about 1000:1
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.pcap", zeros)
        z.writestr("natt.pcap", (LAB / "natt.pcap").read_bytes())
    with tarfile.open(tmp_path / "bomb.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("zeros.pcap")
        info.size = len(zeros)
        tar.addfile(info, io.BytesIO(zeros))
    entries = {e.address.rsplit("/", 1)[-1]: e for e in
               scan_all(tmp_path / "bomb.zip") + scan_all(tmp_path / "bomb.tgz")}
    assert entries["bomb.zip::bomb.pcap"].status == "skipped"
    assert "would expand more than 100 times the compressed size" in entries["bomb.zip::bomb.pcap"].reason
    assert isinstance(entries["bomb.zip::natt.pcap"], batch.CaptureSource)
    stopped = entries["bomb.tgz"]               # the tar stream stopped at the limit
    assert stopped.status == "error" and "a decompression bomb?" in stopped.reason
    assert entries["bomb.tgz::zeros.pcap"].status == "error"    # read up to the limit only: zeros


def scan_all(path):
    from badspi_pcap.archive import scan
    return scan(path, str(path))
