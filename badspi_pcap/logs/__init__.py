"""Gateway event logs -> the events table.

``parse_logs(paths, format=None, year=None, log_tz=None, reference_times=None) -> LogParse``
and ``read_events(paths, ...) -> DataFrame``.  One module per vendor format (screenos, junos,
asa, ios, fortios, panos, panos_system, strongswan, libreswan, linux), each a small table of
rules (``rules.py``); the event kinds are listed in ``kinds.py``; every format, its public
source and what is unconfirmed: docs/formats.md.
"""
from .kinds import KINDS
from .parse import FORMATS, VENDORS, LogParse, parse_logs, read_events

__all__ = ["FORMATS", "KINDS", "VENDORS", "LogParse", "parse_logs", "read_events"]
