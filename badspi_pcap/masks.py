"""Row masks over the packets table computed with Arrow kernels, and the rows and values they select.

On the Arrow-backed columns every pandas comparison (``==``, ``isin``, ``notna``, ``&``)
builds a Series and costs about 0.1 ms however few the rows: a batch of small captures
pays it dozens of times each.  These give the same masks as NumPy booleans (missing
values are False) straight from the Arrow arrays.
"""
from __future__ import annotations

import functools
import threading
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow(column: pd.Series):
    """The column as an Arrow (chunked) array, without a copy when it is Arrow-backed."""
    return pa.array(column.array, from_pandas=True)


def one_array(values):
    """An Arrow array as it is, a chunked one as one array (its chunks joined only when
    there are several)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def flags(mask) -> np.ndarray:
    """An Arrow boolean array as NumPy booleans, missing = False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def value_in(table: pd.DataFrame, name: str, values: Iterable) -> np.ndarray:
    """Rows whose ``name`` is one of ``values`` (``table[name].isin(values)``)."""
    column = arrow(table[name])
    if pa.types.is_null(column.type):        # a column with no value at all
        return np.zeros(len(table), dtype=bool)
    of_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type   # Arrow looks values up
    return flags(pc.is_in(column, value_set=_value_set(tuple(values), of_type)))


@functools.lru_cache(maxsize=256)
def _value_set(values: tuple, type: pa.DataType) -> pa.Array:
    """The values as an array of the column's type (made once: a batch asks for the same few)."""
    return pa.array(list(values)).cast(type)


def kind_in(table: pd.DataFrame, kinds: Iterable[str] | str) -> np.ndarray:
    """Rows whose ``kind`` is one of ``kinds`` (``table["kind"].isin(kinds)``)."""
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    column = table["kind"]
    if len(column) < SPARSE_FROM or not _arrow_backed(column):
        return value_in(table, "kind", kinds)
    held = arrow(column)
    if not (pa.types.is_string(held.type) or pa.types.is_large_string(held.type)):
        return value_in(table, "kind", kinds)       # e.g. dictionary-typed: its buffers do not say its values
    codes, distinct_kinds = _kind_codes(held)
    return np.append(np.isin(distinct_kinds, kinds), False)[codes]       # code -1 (no kind) reads the False


# A big table's kind codes, by the identity of the column's memory (the entry holds the
# column, so that memory cannot be reused by another while the entry lives).
_KIND_CODES: dict[tuple, tuple] = {}
_KIND_CODES_KEPT = 2
_kind_codes_lock = threading.Lock()


def _kind_codes(column) -> tuple[np.ndarray, np.ndarray]:
    """Per row the code of its kind among the distinct kinds (-1: none), and those kinds,
    made once per column: every stage asks which packets are of some kinds, and comparing
    a million strings costs 6-8 ms each time where looking the codes up costs 1-2."""
    key = _identity(column)
    with _kind_codes_lock:
        kept = _KIND_CODES.get(key)
    if kept is None:
        encoded = one_array(pc.dictionary_encode(column))
        values = np.array(encoded.dictionary.to_pylist(), dtype=object)
        codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False),
                           dtype=np.int8 if len(values) < 127 else np.int32)
        kept = (column, codes, values)
        with _kind_codes_lock:
            _KIND_CODES[key] = kept
            while len(_KIND_CODES) > _KIND_CODES_KEPT:
                _KIND_CODES.pop(next(iter(_KIND_CODES)))
    return kept[1], kept[2]


def _arrow_backed(column: pd.Series) -> bool:
    """Held in Arrow memory (not converted afresh on every call)."""
    dtype = column.dtype
    return isinstance(dtype, pd.ArrowDtype) or (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow")


def _identity(column) -> tuple:
    """What makes two Arrow columns the same values: the same buffers, offsets and lengths
    (Arrow memory is immutable)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return tuple((c.offset, len(c), *(0 if b is None else b.address for b in c.buffers())) for c in chunks)


def present(table: pd.DataFrame, name: str) -> np.ndarray:
    """Rows where ``name`` is set (``table[name].notna()``)."""
    return flags(pc.is_valid(arrow(table[name])))


def kind_counts(table: pd.DataFrame) -> dict:
    """Rows per ``kind`` (``table["kind"].value_counts()`` as a dict)."""
    counts = pc.value_counts(arrow(table["kind"])).to_pylist() if len(table) else []
    return {c["values"]: int(c["counts"]) for c in counts}


def distinct_numbers(table: pd.DataFrame, name: str, mask: np.ndarray) -> list[int]:
    """The distinct set values of the integer column ``name`` in the rows of ``mask``, sorted."""
    values = pc.drop_null(pc.filter(arrow(table[name]), pa.array(mask, pa.bool_())))
    return sorted(int(v) for v in pc.unique(values).to_pylist())


def distinct_at(table: pd.DataFrame, name: str, mask: np.ndarray) -> set:
    """The distinct set values of column ``name`` in the rows of ``mask``
    (``set(table.loc[mask, name].dropna())``)."""
    values = pc.drop_null(pc.filter(arrow(table[name]), pa.array(mask, pa.bool_())))
    return set(pc.unique(values).to_pylist())


def take_sorted(column, at: np.ndarray) -> pa.ChunkedArray:
    """``column.take(at)`` for sorted positions, chunk by chunk: Arrow's take on a chunked
    array first joins the chunks, a copy of the whole column."""
    return pa.chunked_array([chunk.take(pa.array(local, pa.int64())) for chunk, local in by_chunk(column, at)],
                            column.type)


def by_chunk(column, at: np.ndarray):
    """(chunk, positions in it) for sorted positions in a chunked column."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    ends = np.cumsum([len(c) for c in chunks])
    start, offset = 0, 0
    for chunk, end, bound in zip(chunks, ends, np.searchsorted(at, ends)):
        yield chunk, at[start:bound] - offset
        start, offset = bound, end


def values_at(table: pd.DataFrame, name: str, at: np.ndarray) -> np.ndarray:
    """The values of column ``name`` at positions ``at`` (any order) as a NumPy array
    (strings as objects), without joining an Arrow column's chunks."""
    column = table[name]
    if not isinstance(column.dtype, pd.ArrowDtype):
        return column.to_numpy()[at]
    order = np.argsort(at, kind="stable")
    values = take_sorted(arrow(column), np.asarray(at)[order]).to_numpy(zero_copy_only=False)
    out = np.empty_like(values)
    out[order] = values
    return out


def rows(table: pd.DataFrame, mask, names) -> pd.DataFrame:
    """``table[mask][names]`` without filtering the other columns (on Arrow-backed
    columns a boolean mask costs a pass over each column it touches)."""
    keep = np.asarray(mask.fillna(False) if hasattr(mask, "fillna") else mask, dtype=bool)
    at = np.flatnonzero(keep) if len(keep) >= SPARSE_FROM else None
    if at is not None and len(at) * 8 < len(keep):
        return rows_at(table, at, names)     # few rows of a big table: read only those
    # column by column: selecting the columns first is itself a costly step on small tables
    return pd.DataFrame({n: table[n].array[keep] for n in names}, index=table.index[keep], copy=False)


SPARSE_FROM = 65536      # rows of a table from which a sparse selection is taken by position


def rows_at(table: pd.DataFrame, at, names=None) -> pd.DataFrame:
    """``table.iloc[at]`` (of the columns ``names``; all by default) for sorted positions,
    taking from each Arrow chunk on its own: Arrow's take over a chunked column first
    joins its chunks, a copy of the whole column per call."""
    names = list(table.columns) if names is None else list(names)
    at = np.asarray(at, dtype=np.int64)
    if len(at) > 1 and not (at[1:] >= at[:-1]).all():
        return table[names].iloc[at]
    if not names:
        return table.iloc[at, :0]
    return pd.DataFrame({n: _taken(table[n], at) for n in names}, index=table.index[at], copy=False)


def frame_positions(packets: pd.DataFrame, keys: set) -> dict:
    """(capture, frame) -> row position, for those of these keys the packets table holds
    (the frame numbers found by an Arrow kernel, then their captures read at those rows)."""
    if not keys:
        return {}
    at = _rows_of_frames(packets, np.array(sorted({f for _, f in keys}), dtype=np.int64))
    near = rows_at(packets, at, ["capture", "frame"])
    found = zip(python_list(near["capture"]), python_list(near["frame"]), at.tolist())
    return {(c, f): i for c, f, i in found if (c, f) in keys}


def python_list(column: pd.Series) -> list:
    """``column.tolist()`` of a text or integer column (None where missing), in one Arrow
    step: pandas' ``tolist`` visits an Arrow-backed column value by value, ten times slower."""
    return arrow(column).to_pylist() if _arrow_backed(column) else column.tolist()


def _rows_of_frames(packets: pd.DataFrame, frames: np.ndarray) -> np.ndarray:
    """The rows whose frame number is one of ``frames`` (sorted), ascending: by binary
    search when the frame numbers rise down the table (one capture), else by hashing."""
    if len(packets) >= SPARSE_FROM:
        numbers = packets["frame"].to_numpy(dtype=np.int64)
        if (numbers[1:] > numbers[:-1]).all():
            at = np.minimum(np.searchsorted(numbers, frames), len(numbers) - 1)
            return np.unique(at[numbers[at] == frames])
    return np.flatnonzero(value_in(packets, "frame", frames.tolist()))


def _taken(column: pd.Series, at: np.ndarray):
    if isinstance(column.dtype, pd.ArrowDtype):
        return pd.arrays.ArrowExtensionArray(take_sorted(arrow(column), at))
    return column.array.take(at)


def distinct(values: pd.Series) -> set:
    """``set(values.dropna())``, from the unique values (iterating a big Arrow-backed
    column value by value is slow)."""
    return set(values.dropna().unique())


def value_codes(column: pd.Series) -> tuple[np.ndarray, list]:
    """Per row the index of its value among the distinct values, and those values (a
    missing value is one of them: None)."""
    encoded = one_array(pc.dictionary_encode(arrow(column), null_encoding="encode"))
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()


def positions_by_value(column: pd.Series) -> dict:
    """Each set value of the column -> the rows that hold it (ascending positions), from
    Arrow's hashing and one stable sort of small codes (no per-row Python)."""
    codes, values = value_codes(column)
    rows = np.flatnonzero(codes != values.index(None)) if None in values else np.arange(len(codes))
    if not len(rows):
        return {}
    codes = codes[rows]
    order = np.argsort(codes.astype(np.uint16) if len(values) <= 1 << 16 else codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(values)))
    return {v: part for v, part in zip(values, np.split(rows[order], starts[1:])) if v is not None}
