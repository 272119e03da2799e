"""How a few values are written and converted everywhere: an SPI as ``0x%08x`` (what people
search a capture and a log for), and the tables' nanoseconds as seconds."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

NS_PER_S = 1_000_000_000


def spi_text(value) -> str | None:
    """``0x0000abcd``; None for a missing SPI."""
    return None if pd.isna(value) else f"0x{int(value):08x}"


def spi_texts(spis: Iterable, sep: str = ", ") -> str:
    """Several SPIs, each as ``spi_text``, joined by ``sep`` ('' for none)."""
    return sep.join(f"0x{int(s):08x}" for s in spis)


def seconds(times: pd.Series) -> np.ndarray:
    """A ``timestamp[ns]`` column as float seconds since the epoch."""
    return times.astype("int64").to_numpy() / NS_PER_S


def whole_seconds(ns) -> np.ndarray:
    """Per nanosecond time, whether it falls on a whole second (a log that writes no fraction)."""
    return np.asarray(ns) % NS_PER_S == 0
