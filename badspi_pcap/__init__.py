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
from importlib import import_module

# Imported when first used (PEP 562), so that `badspi --help` and small commands do not
# pay for pandas, pyarrow and Scapy: name -> module that defines it.
_LAZY = {
    "Analysis": ".analysis", "AnalysisOptions": ".options", "CAUSES": ".causes", "Thresholds": ".causes",
    "Correlation": ".analysis", "analyze": ".analysis", "correlate": ".analysis",
    "CaptureRead": ".capture", "CaptureWarning": ".capture", "read_capture": ".capture", "read_packets": ".capture",
    "classify_lines": ".diagnosis", "diagnose": ".diagnosis",
    "BadspiError": ".errors", "InputError": ".errors", "Skipped": ".errors", "UsageError": ".errors",
    "parse_logs": ".logs", "read_events": ".logs",
    "plot_offset_histogram": ".report.plots", "plot_timeline": ".report.plots",
    "parse_sas": ".sas", "read_sas": ".sas",
    "icmp_summary": ".summary", "ike_summary": ".summary", "sa_summary": ".summary",
    "sequence_table": ".sequence", "sequence_summary": ".sequence", "counter_deltas": ".sas.counters",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    try:  # a submodule used as an attribute (badspi_pcap.schema)
        return import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Analysis", "AnalysisOptions", "BadspiError", "CAUSES", "CaptureRead", "CaptureWarning", "Correlation",
    "InputError", "Skipped", "Thresholds", "UsageError", "analyze", "classify_lines", "correlate", "diagnose",
    "icmp_summary", "ike_summary",
    "parse_logs", "parse_sas", "plot_offset_histogram", "plot_timeline", "read_capture", "read_events",
    "read_packets", "read_sas", "sa_summary", "sequence_summary", "sequence_table", "counter_deltas",
]
__version__ = "0.1.0"
