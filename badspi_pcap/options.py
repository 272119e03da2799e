"""The analysis options, in one object from the CLI through ``analyze()`` to batch workers."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class AnalysisOptions:
    """How to read the logs and judge the lines (README "Analysis options")."""

    clock_offset: float | str | None = None   # device clock minus capture clock; None: estimate
    log_tz: str | None = None                 # time zone the device logs in (None: UTC)
    year: int | None = None                   # year of log lines whose headers have none
    log_format: str | None = None             # read the logs as this format/vendor (None: detect)
    log_self: bool = False                    # every bad packet is logged (no rate limit)
    rate_limit_s: float | None = None         # seconds between bad-SPI lines per tunnel (None: the vendor's)
    screenos_version: str | None = None       # e.g. 5.2.0r1 (None: read from `get system` output if given)
    replay_window: int | None = None          # anti-replay window in packets (None: the vendor's default)
    engine: str = "auto"                      # capture reader: auto | scapy

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
