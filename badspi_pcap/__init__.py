"""badspi_pcap: why does an IPsec gateway log "received a packet with a bad SPI"?

Public API (plain functions from files or tables to pandas DataFrames):

- ``read_packets(paths)``: the ``packets`` table of captures; ``read_capture(path)``
  for one capture with its summary and what was skipped.
- ``sa_summary``, ``icmp_summary``, ``ike_summary``: small tables from ``packets``.
"""
from .capture import CaptureRead, CaptureWarning, read_capture, read_packets
from .errors import BadspiError, InputError, Skipped, UsageError
from .summary import icmp_summary, ike_summary, sa_summary

__all__ = [
    "BadspiError", "CaptureRead", "CaptureWarning", "InputError", "Skipped", "UsageError",
    "icmp_summary", "ike_summary", "read_capture", "read_packets", "sa_summary",
]
__version__ = "0.1.0"
