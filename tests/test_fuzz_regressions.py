"""What the coverage-guided fuzz runs (fuzz/) found, each reduced to a small case.

Findings in the capture readers (a pcapng block length of 4 GB allocating 4 GB, Scapy's
exceptions escaping) have their cases in test_hostile_limits.py."""
from __future__ import annotations

from badspi_pcap.sas import parse_sas
from conftest import FIXTURES

GET_SA = (FIXTURES / "logs" / "icmp-net-unreach" / "get-sa.txt").read_text()


def test_sa_table_number_too_big_for_its_column(tmp_path):
    # fuzz_logs, run 17,863: a `get sa` port of 100 digits made Arrow raise OverflowError
    # for the whole table.
    row = next(line for line in GET_SA.splitlines() if line.startswith("0000009a>"))
    broken = GET_SA.replace(row, row.replace(" 500 ", " 5" + "1" * 99 + " ", 1))
    path = tmp_path / "get-sa.txt"
    path.write_text(broken)
    result = parse_sas(path)
    want = parse_sas(FIXTURES / "logs" / "icmp-net-unreach" / "get-sa.txt").sas
    assert len(result.sas) == len(want)
    assert result.sas["port"].isna().sum() == 1 and result.sas["spi"].tolist() == want["spi"].tolist()
    line = broken.splitlines().index(row.replace(" 500 ", " 5" + "1" * 99 + " ", 1)) + 1
    assert [(s.where, s.reason) for s in result.skipped] == [
        (f"line {line}", "port 51111111111111111111... is out of range; left empty")]


def test_a_wrapped_line_no_format_reads_counts_all_its_lines(tmp_path):
    # fuzz_logs (seed 1, after the replay fixtures joined the seeds): a kernel audit line cut
    # short, with indented lines after it, was joined into one unparsed line but counted as
    # one, so the file's lines no longer added up.
    from badspi_pcap.logs import parse_logs
    path = tmp_path / "wrapped.log"
    path.write_text("Nov 26 12:08:48 gwA-ssg kernel: audit: type=1415 audit(1795723728.659:1interface: Gi0/2\n"
                    "    Crypto map tag: CMAP, local addr 192.0.2.1\n"
                    "        IV size: 16 bytes\n"
                    "Nov 26 12:08:49 gwA-ssg kernel: audit: type=1415 audit(1795723729.380:102): op=SA-notfound "
                    "src=198.51.100.1 dst=192.0.2.1 spi=536915970(0x2000b002) seqno=13\n")
    stats = parse_logs(path, year=2021).stats.iloc[0]
    assert (stats["lines"], stats["recognised"], stats["unparsed"]) == (4, 1, 3)
