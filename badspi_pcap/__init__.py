"""badspi_pcap: why does an IPsec gateway log "received a packet with a bad SPI"?

Public API (each a plain function from files or tables to pandas DataFrames):
``read_packets``.  More stages are added as the pipeline grows.
"""
from .errors import BadspiError, InputError, Skipped, UsageError

__all__ = ["BadspiError", "InputError", "Skipped", "UsageError"]
__version__ = "0.1.0"
