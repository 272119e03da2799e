"""SA tables from device CLI output -> the ``sas`` table, its counters, and counter deltas.

``parse_sas(paths, format=None) -> SaParse`` and ``read_sas(paths) -> DataFrame``
(``read.py``); one parser module per vendor output (``screenos``, ``junos``, ``ios``,
``strongswan``, ``linux``), each a tuple of ``SaTable``s (``table.py``); ``counters.py``
turns two snapshots of drop counters into deltas.  Every table, its public source and what
is unconfirmed: docs/formats.md.
"""
from .read import COUNTERS, TABLES, SaParse, parse_sas, read_sas, select_tables

__all__ = ["COUNTERS", "TABLES", "SaParse", "parse_sas", "read_sas", "select_tables"]
