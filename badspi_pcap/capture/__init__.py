"""Captures in, the ``packets`` table out: the entry point is ``read_capture`` / ``read_packets``.

``read_capture`` reads one file (pcap, pcapng, NetScreen snoop text; gzip/bzip2/xz
compressed or not) in bounded batches and returns the IPsec-relevant rows with a
summary of the rest; ``read_packets`` does that for many files and returns one table.

The pieces, in the order a capture goes through them: ``source.py`` opens a file (format
and compression by content), ``pcap.py`` / ``pcapng.py`` / ``netscreen.py`` /
``scapy_reader.py`` walk its records into ``FrameBatch``es (``frames.py``; ``windows.py``,
``chains.py`` and ``parallel.py`` help the own walks), ``decode.py`` (with ``linklayer.py``
and ``ip.py``) decodes a batch column-wise, ``rows.py`` and ``collect.py`` build the table;
``read.py`` strings them together.
"""
from .read import (ENGINES, CaptureContents, CaptureRead, CaptureWarning, capture_names, read_capture, read_packets,
                   walk_frames)

__all__ = ["ENGINES", "CaptureContents", "CaptureRead", "CaptureWarning", "capture_names", "read_capture",
           "read_packets", "walk_frames"]
