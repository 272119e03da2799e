"""badspi_pcap: why does an IPsec gateway log "received a packet with a bad SPI"?

Public API (plain functions from files or tables to pandas DataFrames):

- ``read_packets(paths)``: the ``packets`` table of captures; ``read_capture(path)`` for one
  capture with its counts and what was skipped.
- ``read_events(paths)`` / ``parse_logs(paths)``: the ``events`` table of gateway logs.
- ``read_sas(paths)`` / ``parse_sas(paths)``: the ``sas`` table of SA-table outputs.
- ``correlate(packets, events, sas)``: the log on the capture's clock, lines linked to packets.
- ``classify_lines`` and ``diagnose``: causes per line, then findings per tunnel.
- ``analyze(captures, events, sas)``: all of it; returns an ``Analysis`` holding every table.
- ``sa_summary``, ``icmp_summary``, ``ike_summary``: small tables from ``packets``.
- ``sequence_table(packets, window)`` / ``sequence_summary``: ESP/AH sequence numbers per SA
  (duplicates, late arrivals, restarts; what an anti-replay window drops);
  ``counter_deltas(before, after)``: drop counters between two SA-table snapshots.
- ``plot_timeline(analysis, tunnel)`` and ``plot_offset_histogram(analysis)``: matplotlib
  figures (needs the ``notebook`` extra); an ``Analysis`` shows itself as HTML in Jupyter.
"""
from .analyze import Analysis, Correlation, analyze, correlate
from .causes import CAUSES, Thresholds
from .capture import CaptureRead, CaptureWarning, read_capture, read_packets
from .diagnose import classify_lines, diagnose
from .errors import BadspiError, InputError, Skipped, UsageError
from .logs import parse_logs, read_events
from .options import AnalysisOptions
from .report.plots import plot_offset_histogram, plot_timeline
from .sa import parse_sas, read_sas
from .counters import counter_deltas
from .sequence import sequence_summary, sequence_table
from .summary import icmp_summary, ike_summary, sa_summary

__all__ = [
    "Analysis", "AnalysisOptions", "BadspiError", "CAUSES", "Thresholds", "CaptureRead", "CaptureWarning", "Correlation", "InputError", "Skipped",
    "UsageError", "analyze", "classify_lines", "correlate", "diagnose", "icmp_summary", "ike_summary",
    "parse_logs", "parse_sas", "plot_offset_histogram", "plot_timeline", "read_capture", "read_events",
    "read_packets", "read_sas", "sa_summary", "sequence_summary", "sequence_table", "counter_deltas",
]
__version__ = "0.1.0"
