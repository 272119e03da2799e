"""Arrow schemas of the tables the pipeline passes between stages.

Every stage returns pandas DataFrames backed by these Arrow types (``pd.ArrowDtype``):
uint32 SPIs stay uint32, times are ``timestamp[ns, tz=UTC]``, and missing values are
nulls, not NaN.  Column names are part of the public interface (see README.md).
"""
from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd
import pyarrow as pa

UTC_NS = pa.timestamp("ns", tz="UTC")

IPSEC_KINDS = ("esp", "ah", "esp-in-udp")   # packets.kind values with an SPI and a sequence number

PACKETS = pa.schema([
    ("capture", pa.string()),        # file name the packet came from
    ("frame", pa.int64()),           # 1-based frame number, as Wireshark counts
    ("time", UTC_NS),
    ("kind", pa.string()),           # esp | ah | esp-in-udp | ike | nat-keepalive | icmp-error
    ("ip_version", pa.uint8()),
    ("src", pa.string()),
    ("dst", pa.string()),
    ("sport", pa.uint16()),
    ("dport", pa.uint16()),
    ("vlan", pa.uint16()),           # outermost 802.1Q/802.1ad tag
    ("length", pa.uint32()),         # frame length on the wire
    ("ip_length", pa.uint32()),      # outer IP packet length (what gateway logs print)
    ("ip_ttl", pa.uint8()),          # outer IPv4 TTL / IPv6 hop limit (a loop lowers it on a copy)
    ("ip_id", pa.uint16()),          # outer IPv4 identification (null for IPv6)
    ("spi", pa.uint32()),            # ESP/AH SPI (top level only)
    ("seq", pa.uint32()),            # ESP/AH sequence number (top level only)
    ("ike_version", pa.uint8()),     # 1 or 2
    ("ike_exchange", pa.string()),   # MAIN_MODE, QUICK_MODE, IKE_SA_INIT, CREATE_CHILD_SA, ...
    ("ike_msgid", pa.uint32()),
    ("ike_ispi", pa.string()),       # 16 hex digits
    ("ike_rspi", pa.string()),
    ("ike_initiator", pa.bool_()),   # IKEv2 I flag (null for IKEv1)
    ("ike_response", pa.bool_()),    # IKEv2 R flag (null for IKEv1)
    ("icmp_type", pa.uint8()),
    ("icmp_code", pa.uint8()),
    ("icmp_mtu", pa.uint32()),       # next-hop MTU (frag needed) or ICMPv6 Packet Too Big MTU
    ("inner_src", pa.string()),      # the packet quoted inside an ICMP error
    ("inner_dst", pa.string()),
    ("inner_proto", pa.uint8()),
    ("inner_sport", pa.uint16()),
    ("inner_dport", pa.uint16()),
    ("inner_spi", pa.uint32()),
    ("inner_seq", pa.uint32()),
    ("inner_bytes", pa.uint32()),    # bytes quoted after the quoted IP header(s)
    ("note", pa.string()),           # why a field that should be there is null
])

EVENTS = pa.schema([
    ("source", pa.string()),         # file name
    ("line", pa.int64()),            # 1-based line number in that file
    ("time", UTC_NS),                # UTC after the time zone; analyze() moves it to the capture clock
    ("time_local", pa.timestamp("ns")),  # as written by the device (naive)
    ("device", pa.string()),         # the name the device gives itself (ScreenOS device_id, syslog host)
    ("relay", pa.string()),          # a syslog relay's header host/address when it differs from the device
    ("vendor", pa.string()),         # screenos | junos | asa | ios | fortios | panos | strongswan | libreswan | linux
    ("message_id", pa.string()),     # vendor message id: 00026, 402114, KMD_PM_SA_ESTABLISHED, ...
    ("severity", pa.string()),
    ("kind", pa.string()),           # bad-spi | replay | p2-complete | ... (see README)
    ("tunnel_id", pa.int64()),       # normalised to an integer (ScreenOS hex and decimal agree)
    ("tunnel_name", pa.string()),    # VPN / tunnel / child SA name where the line gives one
    ("conn_id", pa.int64()),         # IOS/ASA crypto "connection id" (PKT_REPLAY_ERR), pluto SA serial
    ("interface", pa.string()),
    ("peer", pa.string()),
    ("src", pa.string()),
    ("dst", pa.string()),
    ("length", pa.uint32()),
    ("proto", pa.string()),          # ESP | AH
    ("spi", pa.uint32()),
    ("seq", pa.uint32()),
    ("direction", pa.string()),      # in | out, when the line says
    ("ike_msgid", pa.string()),
    ("lifetime_s", pa.int64()),
    ("text", pa.string()),           # the message text as written
    ("time_received", UTC_NS),       # the time a SIEM export / RFC 5424 header gives the record
    ("received_tz", pa.string()),    # the zone that time was written in (+02:00, UTC)
    ("event_id", pa.int64()),        # unique within an analysis; the key of matches, lines, findings
])

SAS = pa.schema([
    ("source", pa.string()),
    ("line", pa.int64()),
    ("device", pa.string()),
    ("vendor", pa.string()),
    ("tunnel_id", pa.int64()),
    ("tunnel_name", pa.string()),    # VPN or child SA name (swanctl, get ike cookie)
    ("gateway", pa.string()),        # the peer's address
    ("src", pa.string()),            # SA endpoints where the table gives both (ip xfrm state)
    ("dst", pa.string()),
    ("port", pa.uint16()),
    ("proto", pa.string()),          # esp | ah
    ("algorithm", pa.string()),
    ("spi", pa.uint32()),
    ("direction", pa.string()),      # in | out
    ("lifetime_s", pa.int64()),
    ("state", pa.string()),
    ("seq", pa.uint32()),            # last/next sequence number where the table shows it
    ("replay_errors", pa.int64()),   # packets this SA (or its flow) dropped as replays, where shown
    ("invalid_spi_errors", pa.int64()),  # packets its flow dropped for an unknown SPI, where shown
    ("replay_window", pa.int64()),   # anti-replay window size (packets), where shown
    ("conn_id", pa.int64()),         # Cisco crypto connection id (IOS "conn id", ASA "conn_id")
])


SEQUENCE = pa.schema([             # packets out of order on their SA (badspi_pcap.sequence)
    ("capture", pa.string()),
    ("frame", pa.int64()),
    ("time", UTC_NS),
    ("src", pa.string()),
    ("dst", pa.string()),
    ("proto", pa.string()),          # esp | ah (ESP in UDP is esp)
    ("spi", pa.uint32()),
    ("seq", pa.uint32()),
    ("kind", pa.string()),           # duplicate | late | restart
    ("top", pa.uint32()),            # highest sequence number before this packet on the SA
    ("behind", pa.uint32()),         # top - seq
    ("seen_before", pa.bool_()),     # this number came before on the SA
    ("outside_window", pa.bool_()),  # behind >= window
    ("fails_check", pa.bool_()),     # a receiver with this window drops it (RFC 4303 3.4.3)
    ("window", pa.uint32()),
    ("first_frame", pa.int64()),     # the earlier packet with the same number (null if none)
])

SEQUENCE_SUMMARY = pa.schema([     # one row per SA
    ("capture", pa.string()),
    ("src", pa.string()),
    ("dst", pa.string()),
    ("proto", pa.string()),
    ("spi", pa.uint32()),
    ("packets", pa.int64()),
    ("first_frame", pa.int64()),
    ("seq_first", pa.uint32()),
    ("seq_last", pa.uint32()),
    ("duplicates", pa.int64()),
    ("late", pa.int64()),
    ("late_outside", pa.int64()),    # late by window or more
    ("restarts", pa.int64()),        # packets of a restarted sequence still below the old top
    ("max_behind", pa.int64()),      # largest behind of a late packet (null: none late)
    ("window_needed", pa.int64()),   # max_behind + 1: the smallest window accepting every late packet
    ("window", pa.int64()),
    ("fails", pa.int64()),           # packets a receiver with this window drops
])


FRAME_REF = pa.struct([("capture", pa.string()), ("frame", pa.int64())])

MATCHES = pa.schema([                # a bad-SPI/replay line <-> a packet behind it
    ("event_id", pa.int64()),
    ("source", pa.string()),
    ("line", pa.int64()),
    ("capture", pa.string()),
    ("frame", pa.int64()),
    ("dt", pa.float64()),            # packet time minus line time (capture clock), seconds
    ("key", pa.string()),            # spi+seq | spi | tuple
    ("role", pa.string()),           # quoted-by-icmp | sent-by-peer | sent-by-device | esp
])

LINES = pa.schema([                  # the bad-SPI/replay events, each with its cause
    *EVENTS,
    ("time_device", UTC_NS),         # the device's own UTC reading (``time`` is on the capture clock)
    ("tunnel", pa.string()),         # tunnel 0x9a | peer 198.51.100.1 | SPI 0x... | unknown tunnel
    ("covered", pa.bool_()),         # inside a capture's time and on traffic the capture sees
    ("coverage", pa.string()),       # covered | outside the capture's time | tunnel not seen in the capture
    ("cause", pa.string()),          # a cause of causes.CAUSES | unexplained | not-covered
    ("proof", pa.string()),          # how the cause explains it: spi+seq | spi | tuple | phase2-order | ...
    ("exact", pa.bool_()),           # the line has its own proof (see README "Reading a verdict")
    ("frames", pa.list_(FRAME_REF)),  # the packets behind the line
])

ICMP_GROUP = pa.struct([("type", pa.uint8()), ("code", pa.uint8()), ("mtu", pa.uint32()), ("count", pa.int64())])
COVERAGE_GROUP = pa.struct([("reason", pa.string()), ("lines", pa.int64())])

FINDINGS = pa.schema([               # one row per (tunnel, cause); prose is made when rendering
    ("tunnel", pa.string()),         # display key, as in LINES.tunnel
    ("tunnel_id", pa.int64()),
    ("peer", pa.string()),
    ("cause", pa.string()),          # embedded-icmp | spi-before-install | ... | unexplained | not-covered
    ("kind", pa.string()),           # the event kind the cause explains (bad-spi | replay); null: all
    ("verdict", pa.string()),        # confirmed | likely | ruled-out | inconclusive | not-covered
    ("lines", pa.int64()),           # the tunnel's lines of that kind
    ("lines_covered", pa.int64()),   # of those, covered by the capture
    ("lines_explained", pa.int64()),  # of those, explained by this cause
    ("lines_exact", pa.int64()),     # of those, with their own proof
    ("event_ids", pa.list_(pa.int64())),
    ("spis", pa.list_(pa.uint32())),
    ("evidence", pa.list_(FRAME_REF)),
    ("display_filter", pa.string()),  # Wireshark 4.x: selects exactly ``evidence``
    ("icmp_errors", pa.int64()),
    ("expected_lines", pa.int64()),  # lines the rate limit lets through for those ICMP errors
    ("windows_matched", pa.int64()),
    ("routers", pa.list_(pa.string())),
    ("icmp", pa.list_(ICMP_GROUP)),
    ("own_packets", pa.bool_()),     # the quoted packets are the device's own
    ("peer_packets", pa.int64()),
    ("span_s", pa.float64()),
    ("small_seq", pa.bool_()),
    ("collisions", pa.int64()),
    ("rate_limit_s", pa.float64()),
    ("rate_limit_documented", pa.bool_()),
    ("version_affected", pa.bool_()),  # the firmware is documented to log ICMP quotes as bad SPI
    ("not_covered", pa.list_(COVERAGE_GROUP)),
    ("vendor", pa.string()),
    ("version", pa.string()),
    ("first", UTC_NS),
    ("last", UTC_NS),
    ("clock_offset_s", pa.float64()),
    ("facts", pa.string()),          # JSON: further cause-specific facts
])


def with_event_ids(events: pd.DataFrame) -> pd.DataFrame:
    """Events with an ``event_id`` (0, 1, ... in table order where none is set yet)."""
    if "event_id" in events and (events.empty or (events["event_id"].notna().all() and events["event_id"].is_unique)):
        return events
    out = events.copy()
    out["event_id"] = pd.array(range(len(out)), dtype=pd.ArrowDtype(pa.int64()))
    return out


def empty(schema: pa.Schema) -> pd.DataFrame:
    """An empty DataFrame with the schema's columns and types (a copy of one made once:
    a batch asks for many)."""
    key = id(schema)
    if key not in _EMPTY or _EMPTY[key][0] is not schema:
        _EMPTY[key] = (schema, to_frame(schema.empty_table()))
    return _EMPTY[key][1].copy()


_EMPTY: dict[int, tuple[pa.Schema, pd.DataFrame]] = {}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table -> pandas with Arrow-backed dtypes (nulls stay nulls)."""
    if table.schema.pandas_metadata is None and 0 < len(set(table.column_names)) == table.num_columns:
        # What to_pandas(types_mapper=pd.ArrowDtype) gives, column by column without a
        # copy: about half the fixed cost, which counts on the many small tables of a batch.
        return pd.DataFrame({name: pd.arrays.ArrowExtensionArray(column)
                             for name, column in zip(table.column_names, table.columns)}, copy=False)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def from_columns(schema: pa.Schema, columns: Mapping[str, Iterable]) -> pa.Table:
    """Build a table from a dict of columns; missing columns become all-null."""
    n = None
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        if values is None:
            arrays.append(None)
            continue
        arr = pa.array(values, type=field.type, from_pandas=True)
        n = len(arr) if n is None else n
        arrays.append(arr)
    n = n or 0
    arrays = [a if a is not None else pa.nulls(n, type=f.type) for a, f in zip(arrays, schema)]
    return pa.Table.from_arrays(arrays, schema=schema)


def from_rows(schema: pa.Schema, rows: Iterable[Mapping]) -> pa.Table:
    """Build a table from dict rows (absent keys are null)."""
    return pa.Table.from_pylist(list(rows), schema=schema)
