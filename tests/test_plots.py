"""Timeline and clock-offset plots: what each panel shows, on the lab fixtures and on a
synthetic week-long capture.  Figures are built with matplotlib's object API and
rendered with Agg; the tests read the drawn artists back instead of comparing pixels."""
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES, capture_only, require_matplotlib, scenario

require_matplotlib()
import matplotlib.dates as mdates  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from badspi_pcap import analyze, plot_offset_histogram, plot_timeline, schema  # noqa: E402
from badspi_pcap.correlation import offset_candidates, rate_limited  # noqa: E402
from badspi_pcap.report.plots import figure_png, rate_bin_seconds, timeline_tunnels, tunnel_data  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::badspi_pcap.capture.CaptureWarning")   # damaged inputs on purpose
ROOT = FIXTURES.parent


def axes_of(fig):
    """The rate, lanes and SA axes (the device-clock axis is a child of the first)."""
    assert len(fig.axes) == 3
    return fig.axes


def lane_marks(ax) -> dict[str, np.ndarray]:
    """Lane label -> x positions (date numbers) of the marks drawn in it."""
    labels = {round(t, 3): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    out: dict[str, list] = {}
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            xy = np.asarray(coll.get_offsets())
            out.setdefault(labels[round(float(xy[0, 1]), 3)], []).extend(xy[:, 0])
    return {k: np.sort(np.array(v)) for k, v in out.items()}


def date_num(series) -> np.ndarray:
    return mdates.date2num(series.astype("int64").to_numpy().astype("datetime64[ns]"))


def legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


# ---------------------------------------------------------------- binning and tunnels

@pytest.mark.parametrize("span,expected", [(30, 1), (60, 1), (3600, 10), (86400, 300), (7 * 86400, 1800)])
def test_rate_bins_follow_the_span(span, expected):
    assert rate_bin_seconds(span) == expected


def test_tunnel_to_spis_from_lines_findings_and_the_reverse_sa():
    a = scenario("icmp-net-unreach")
    td = tunnel_data(a, "tunnel 0x9a")
    # the device's own outbound SPI (quoted by ICMP), the peer's inbound one, and an
    # SPI only named by a line outside the capture
    assert set(td.spis) == {0x1000a001, 0x2000b002, 0xf5b2d4ea}
    assert td.direction[0x1000a001] == "out" and td.direction[0x2000b002] == "in"
    assert len(td.icmp) == 35 and td.peer == "198.51.100.1"


def test_two_tunnels_to_one_peer_keep_their_own_spis():
    a = scenario("mixed-icmp-stale")
    first, second = tunnel_data(a, "tunnel 0x9a"), tunnel_data(a, "tunnel 0x9b")
    assert 0x1000a001 in first.spis and 0x4000d004 in second.spis
    assert not {s for s in first.spis if (first.esp["spi"] == s).any()} & set(second.spis)
    assert set(first.esp["capture"]) == {"icmp-net-unreach.pcap"}
    assert set(second.esp["capture"]) == {"spi-mismatch.pcap"}


def test_rekeyed_sas_of_the_tunnel_are_all_on_its_timeline():
    a = scenario("ikev2-rekey", with_sa=True)
    td = tunnel_data(a, "tunnel 0x9a")
    seen = set(a.packets.loc[a.packets["kind"] == "esp", "spi"].astype(int))
    assert seen <= set(td.spis)          # 3 SA pairs: before and after two rekeys
    assert len(td.ike) == len(a.packets[a.packets["kind"] == "ike"])


def test_strongest_finding_comes_first():
    assert timeline_tunnels(scenario("icmp-net-unreach"))[0] == "tunnel 0x9a"
    assert timeline_tunnels(scenario("mixed-icmp-stale"))[:2] == ["tunnel 0x9a", "tunnel 0x9b"]
    assert timeline_tunnels(scenario("icmp-net-unreach"), seen_only=True) == ["tunnel 0x9a"]


# ---------------------------------------------------------------- the timeline

def test_embedded_icmp_timeline_lines_up_lines_with_icmp_errors():
    a = scenario("icmp-net-unreach")
    fig = plot_timeline(a)
    rate, lanes, sas = axes_of(fig)
    marks = lane_marks(lanes)
    line_lane = next(k for k in marks if k.startswith("BAD SPI lines"))
    covered = a.lines[(a.lines["tunnel"] == "tunnel 0x9a") & a.lines["covered"]]
    # BAD SPI lines are drawn at their time on the capture clock (shifted by the offset)
    assert np.allclose(marks[line_lane], np.sort(date_num(covered["time"])))
    assert abs(covered["time"].iloc[0] - covered["time_device"].iloc[0]
               + pd.Timedelta(seconds=a.clock_offset.seconds)) < pd.Timedelta(milliseconds=1)
    icmp_lanes = {k: v for k, v in marks.items() if k.startswith("ICMP from 192.0.2.254")}
    assert sorted(k.split("\n")[1] for k in icmp_lanes) == ["10x administratively prohibited", "16x net unreachable",
                                                            "9x host unreachable"]
    # every line has an ICMP error within a second of it
    icmp = np.concatenate(list(icmp_lanes.values()))
    assert all(np.min(np.abs(icmp - x)) * 86400 < 1.0 for x in marks[line_lane])
    assert any("0x1000a001 outbound, 58 pkts (BAD SPI, quoted by ICMP)" == t for t in legend_texts(rate))
    assert "0x2000b002 inbound, 41 pkts" in legend_texts(rate)
    assert "line: embedded-icmp" in legend_texts(lanes)
    assert [t.get_text() for t in sas.get_yticklabels()] == ["0x1000a001 out", "0x2000b002 in"]
    assert fig._suptitle.get_text().startswith("tunnel 0x9a: embedded-icmp CONFIRMED\npeer 198.51.100.1")
    assert "1 BAD SPI line before this range (from 2026-11-26 19:57:27 UTC) not shown" in sas.get_xlabel()


def test_axes_read_in_utc_and_in_the_devices_logged_time():
    a = scenario("icmp-net-unreach")
    fig = plot_timeline(a)
    figure_png(fig)  # draw, so that tick labels exist
    rate, _, sas = axes_of(fig)
    bottom = [t.get_text() for t in sas.get_xticklabels() if t.get_text()]
    assert sas.get_xlabel().startswith("capture time (UTC)")
    assert "20:05:30" in bottom                                   # HH:MM:SS for a 30 s capture
    top = next(ax for ax in rate.child_axes)
    assert top.get_xlabel().startswith("device clock as logged, 2026-11-26 (UTC+01:00; device clock +37.0 s")
    labels = [t.get_text() for t in top.get_xticklabels() if t.get_text()]
    assert "21:06:10" in labels   # 20:05:33 UTC + 37 s + 1 h: what the log lines say
    log_line = next(ln for ln in a.lines.itertuples() if ln.covered)
    written = pd.Timestamp(log_line.time_local)
    shifted = log_line.time + pd.Timedelta(seconds=a.clock_offset.seconds + 3600)
    assert abs(shifted.tz_localize(None) - written) < pd.Timedelta(seconds=1)


def test_rekey_timeline_shows_both_peers_starting_phase2_and_sa_lifetimes():
    a = scenario("ikev2-rekey", with_sa=True)
    fig = plot_timeline(a, "tunnel 0x9a")
    rate, lanes, sas = axes_of(fig)
    marks = lane_marks(lanes)
    p2 = marks["IKE Phase 2 / rekey\n(capture)"]
    assert len(p2) == len(a.packets[a.packets["ike_exchange"] == "CREATE_CHILD_SA"])
    legend = legend_texts(lanes)
    assert {"IKE request from device", "IKE request from peer", "line: rekey-collision",
            "log: Phase 2 complete / SA up"} <= set(legend)
    # requests from both sides within 0.1 s: the collision
    packets = a.packets
    ike = packets[(packets["ike_exchange"] == "CREATE_CHILD_SA") & ~packets["ike_response"].fillna(False).astype(bool)]
    assert (ike["time"].diff().dt.total_seconds() < 0.1).any()
    rows = [t.get_text() for t in sas.get_yticklabels()]
    assert "0xc275bfa9 in" in rows and "0xc10ebe7c (log only)" in rows
    # the lifetime bar of a Phase 2 line: 30 s from its completion
    bars = [c for c in sas.collections if len(c.get_paths())]
    widths = sorted(round(p.get_extents().width * 86400, 1) for c in bars for p in c.get_paths())
    assert 30.0 in widths
    # outbound above the axis, inbound below
    stairs = {p.get_label(): p for p in rate.patches if p.get_label() and not p.get_label().startswith("_")}
    assert min(stairs["0xc275bfa9 inbound, 40 pkts (BAD SPI)"].get_data().values) < 0
    assert max(stairs["0xc436fd13 outbound, 40 pkts"].get_data().values) > 0


def test_capture_only_timeline_shows_the_lines_a_device_would_log():
    a = capture_only()
    fig = plot_timeline(a)
    _, lanes, _ = axes_of(fig)
    marks = lane_marks(lanes)
    expected = marks["BAD SPI lines an affected\ndevice would log (model)"]
    assert len(expected) == int(a.findings["expected_lines"].iloc[0]) == 2
    assert not any(ax.child_axes for ax in fig.axes)   # no log: no device clock axis


def test_without_findings_each_address_pair_gets_a_timeline():
    a = analyze(FIXTURES / "pcaps" / "lab" / "ikev2-rekey.pcap")    # no ICMP, no log: the device is unknown
    assert a.findings.empty and timeline_tunnels(a) == ["192.0.2.1 <-> 198.51.100.1"]
    fig = plot_timeline(a)
    rate, lanes, sas = axes_of(fig)
    assert "0xc275bfa9 198.51.100.1 -> 192.0.2.1, 40 pkts" in legend_texts(rate)
    assert "IKE request from 198.51.100.1" in legend_texts(lanes)
    assert "IKE request from 192.0.2.1" in legend_texts(lanes)
    assert len(sas.get_yticklabels()) == 6
    assert not any(label.startswith("BAD SPI") for label in lane_marks(lanes))


def test_nothing_to_plot_is_said():
    a = analyze(FIXTURES / "pcaps" / "corpus" / "zeek-smtp.pcap")
    fig = plot_timeline(a)
    assert "nothing to plot" in fig.axes[0].texts[0].get_text()
    assert figure_png(fig).startswith(b"\x89PNG")


def week_analysis(days: float = 7.0):
    """The icmp-net-unreach analysis with a synthetic capture of ``days``: ESP both ways
    around the clock with a rekey every 8 h, a 6 h burst of ICMP errors on day 3 quoting
    the outbound SPI, and a BAD SPI line per 10 s of ICMP errors."""
    a = scenario("icmp-net-unreach")
    start = pd.Timestamp("2026-11-20 00:00", tz="UTC")
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, days * 86400, 40000))
    sa = (t // (8 * 3600)).astype(int)
    out = rng.random(len(t)) < 0.5
    n = len(t)
    esp = schema.to_frame(schema.from_columns(schema.PACKETS, {
        "capture": ["week.pcap"] * n, "frame": np.arange(1, n + 1),
        "time": pd.to_datetime((start.value + t * 1e9).astype("int64"), utc=True), "kind": ["esp"] * n,
        "ip_version": [4] * n, "src": np.where(out, "192.0.2.1", "198.51.100.1"),
        "dst": np.where(out, "198.51.100.1", "192.0.2.1"),
        "spi": np.where(out, 0x1000a001 + sa * 0x10, 0x2000b002 + sa * 0x10), "seq": np.arange(1, n + 1)}))
    ti = np.sort(rng.uniform(2.5 * 86400, 2.75 * 86400, 3000))
    m = len(ti)
    icmp = schema.to_frame(schema.from_columns(schema.PACKETS, {
        "capture": ["week.pcap"] * m, "frame": np.arange(n + 1, n + m + 1),
        "time": pd.to_datetime((start.value + ti * 1e9).astype("int64"), utc=True), "kind": ["icmp-error"] * m,
        "ip_version": [4] * m, "src": ["192.0.2.254"] * m, "dst": ["192.0.2.1"] * m, "icmp_type": [3] * m,
        "icmp_code": rng.choice([0, 1], m), "inner_src": ["192.0.2.1"] * m, "inner_dst": ["198.51.100.1"] * m,
        "inner_proto": [50] * m, "inner_spi": 0x1000a001 + (ti // (8 * 3600)).astype(int) * 0x10,
        "inner_seq": np.arange(m) + 5}))
    packets = pd.concat([esp, icmp], ignore_index=True).sort_values("time", ignore_index=True)
    logged = ti[rate_limited(ti, 10.0)]
    base = a.lines[(a.lines["tunnel"] == "tunnel 0x9a") & a.lines["covered"]].iloc[[0]]
    lines = base.loc[base.index.repeat(len(logged))].reset_index(drop=True)
    lt = pd.Series(pd.to_datetime((start.value + (logged + 0.3) * 1e9).astype("int64"), utc=True))
    lines["time"] = lt.astype(a.lines["time"].dtype).values
    lines["spi"] = pd.array(0x1000a001 + (logged // (8 * 3600)).astype(int) * 0x10, dtype=a.lines["spi"].dtype)
    cap = dataclasses.replace(a.captures[0], capture="week.pcap", first_time=packets["time"].min(),
                              last_time=packets["time"].max())
    return dataclasses.replace(a, captures=[cap], packets=packets, lines=lines, matches=a.matches.iloc[:0])


def test_a_week_long_capture_bins_by_the_half_hour_and_labels_days():
    a = week_analysis()
    fig = plot_timeline(a, "tunnel 0x9a")
    png = figure_png(fig)
    rate, lanes, sas = axes_of(fig)
    assert rate.get_ylabel() == "ESP packets/min\n(30 min bins)"
    bottom = [t.get_text() for t in sas.get_xticklabels() if t.get_text()]
    assert "Nov 21" in bottom and len(bottom) <= 10
    legend = legend_texts(rate)
    # 43 SPIs: the two named by lines alone, the others summed per direction
    assert "19 other SPIs outbound, 18101 pkts" in legend and "21 other SPIs inbound, 20005 pkts" in legend
    assert sum("(BAD SPI, quoted by ICMP)" in t for t in legend) == 2
    assert [t.get_text() for t in sas.get_yticklabels()] == ["SAs outbound", "SAs inbound"]
    marks = lane_marks(lanes)
    assert len(marks["BAD SPI lines\n(log, on capture clock)"]) == len(a.lines)
    assert len(png) < 400_000


def test_a_one_minute_window_of_the_week_uses_one_second_bins():
    a = week_analysis()
    fig = plot_timeline(a, "tunnel 0x9a", start="2026-11-22 12:00:00", end="2026-11-22 12:01:00")
    figure_png(fig)
    rate, _, sas = axes_of(fig)
    assert rate.get_ylabel() == "ESP packets/s\n(1 s bins)"
    assert "12:00:30" in [t.get_text() for t in sas.get_xticklabels()]


# ---------------------------------------------------------------- the clock offset histogram

def test_offset_candidates_are_the_pairs_the_estimate_clusters():
    a = scenario("icmp-net-unreach")
    d = offset_candidates(a.events.assign(time=a.events["time_device"]), a.packets)
    assert len(d) == a.clock_offset.candidates == 4
    # whole-second log times: the candidates lie in the second below the offset
    assert np.all((d > a.clock_offset.seconds - 1) & (d <= a.clock_offset.seconds))
    assert abs(np.median(d) + 0.5 - a.clock_offset.seconds) < 1e-6
    with pytest.raises(ValueError):
        offset_candidates(a.events, a.packets, "guess")


@pytest.mark.parametrize("name", ["icmp-net-unreach", "ipv6", "spi-mismatch"])
def test_offset_histogram_shows_the_pairs_and_the_estimate(name):
    a = scenario(name)
    fig = plot_offset_histogram(a)
    ax = fig.axes[0]
    assert sum(bar.get_height() for bar in ax.containers[0]) == a.clock_offset.candidates
    red = [ln for ln in ax.lines if ln.get_color() == "#d62728"]
    assert red and np.allclose(red[0].get_xdata(), a.clock_offset.seconds)
    assert f"estimate: {a.clock_offset.seconds:+.1f} s" in legend_texts(ax)
    assert ax.get_title(loc="left") == f"Clock offset: {a.clock_offset.describe()}"


def test_offset_histogram_without_pairs_says_so():
    a = capture_only()
    ax = plot_offset_histogram(a).axes[0]
    assert "nothing to estimate the offset from" in ax.texts[0].get_text()


def test_plots_never_touch_pyplot():
    code = ("import warnings; warnings.simplefilter('ignore'); import sys, badspi_pcap as bp; "
            f"a = bp.analyze({str(FIXTURES / 'pcaps/lab/icmp-net-unreach.pcap')!r}); "
            "from badspi_pcap.report.plots import figure_png; figure_png(bp.plot_timeline(a)); "
            "print('matplotlib.pyplot' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
