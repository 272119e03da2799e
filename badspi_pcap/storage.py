"""Files named by a local path or by an fsspec URL (``s3://bucket/key``, ``gs://…``, ``file://…``).

Local paths take the plain ``open``/``os`` route they always took.  A URL goes through
fsspec (``pip install 'badspi_pcap[s3]'`` brings fsspec and s3fs); credentials and the
endpoint come from where the filesystem library reads them (for S3: ``AWS_*`` variables,
``~/.aws``; another endpoint, e.g. MinIO: ``FSSPEC_S3_ENDPOINT_URL``), in every process,
so Dask workers reach the same bucket.  ``file://`` URLs are plain local paths.

``RemoteStore`` is a dataset folder in object storage: each object is written whole by one
PUT (a reader sees it complete or not at all), so nothing is renamed into place.
"""
from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from typing import BinaryIO, Iterator

from .errors import InputError, OutputError, UsageError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """A URL for fsspec (``file://`` ones are local paths, see ``local``)."""
    return isinstance(path, str) and bool(_URL.match(path)) and not path.startswith("file://")


def local(path):
    """``file:///x/y`` -> ``/x/y``; anything else as it is."""
    if isinstance(path, str) and path.startswith("file://"):
        return path[len("file://"):]
    return path


def absolute(path) -> str:
    """A name every worker can open: a URL as it is, a local path made absolute."""
    path = local(path)
    return path if is_url(path) else os.path.abspath(path)


def filesystem(url: str):
    """(fsspec filesystem, path inside it) for ``url``."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise UsageError(f"{url}: reading URLs needs fsspec: pip install 'badspi_pcap[s3]'") from None
    try:
        return url_to_fs(url)
    except ImportError as e:
        raise UsageError(f"{url}: {e}") from None
    except ValueError as e:
        raise UsageError(f"{url}: {e}") from None


def _text(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def open_binary(path) -> BinaryIO:
    """The file for reading; ``OSError`` as ``open`` raises it (also for a URL)."""
    path = local(path)
    if not is_url(path):
        return open(path, "rb")
    fs, inner = filesystem(path)
    try:
        return io.BufferedReader(fs.open(inner, "rb"), 1 << 16)  # peek(), like a local file
    except OSError:
        raise
    except Exception as e:  # the storage client's own errors (no endpoint, no bucket, denied)
        raise OSError(f"{type(e).__name__}: {e}") from None


def stat(path) -> tuple[int, bool, tuple]:
    """(size, is a regular file, identity that changes when the content may have)."""
    path = local(path)
    if not is_url(path):
        st = os.stat(path)
        import stat as st_mode
        return st.st_size, st_mode.S_ISREG(st.st_mode), (st.st_ino, st.st_size, st.st_mtime_ns)
    fs, inner = filesystem(path)
    try:
        info = fs.info(inner)
    except OSError:
        raise
    except Exception as e:
        raise OSError(f"{type(e).__name__}: {e}") from None
    identity = (info.get("size"), str(info.get("ETag") or info.get("etag") or info.get("LastModified") or ""))
    return int(info.get("size") or 0), info.get("type") == "file", identity


def parent(path) -> str:
    path = local(path)
    if is_url(path):
        return path.rstrip("/").rsplit("/", 1)[0]
    return os.path.dirname(path) or "."


def join(folder: str, name: str) -> str:
    """``name`` in ``folder``; a URL or an absolute path stays as it is."""
    name = local(name)
    if is_url(name) or os.path.isabs(name):
        return name
    if is_url(folder):
        return folder.rstrip("/") + "/" + name
    return os.path.join(folder, name)


def list_files(url: str, exclude: str | None = None) -> list[str]:
    """The files a URL argument names, as URLs in a stable order: the object itself, every
    object under a prefix ("folder"), or those a glob matches; ``exclude`` (the dataset)
    left out."""
    import glob as globbing

    fs, inner = filesystem(url)
    skip = filesystem(exclude)[1].rstrip("/") + "/" if exclude and is_url(exclude) else None
    try:
        if globbing.has_magic(inner):
            found = [p for p in fs.glob(inner) if fs.isfile(p)]
            if not found:
                raise UsageError(f"{url}: no object matches")
        elif fs.isfile(inner):
            found = [inner]
        elif fs.isdir(inner):
            found = fs.find(inner)
        else:
            raise UsageError(f"{url}: no such object or prefix")
    except (UsageError, InputError):
        raise
    except Exception as e:
        raise UsageError(f"{url}: cannot list: {_text(e)}") from None
    return [fs.unstrip_protocol(p) for p in sorted(found) if not (skip and (p + "/").startswith(skip))]


class RemoteStore:
    """A batch dataset under a URL prefix.  Names are relative (``summary/<id>.parquet``)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.fs, self.root = filesystem(self.url)

    def _path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def _do(self, what, name: str, *args):
        try:
            return what(self._path(name), *args)
        except FileNotFoundError:
            raise
        except Exception as e:
            raise OutputError(f"{self.url}/{name}: {_text(e)}") from None

    def exists(self, name: str) -> bool:
        return self._do(self.fs.exists, name)

    def read_bytes(self, name: str) -> bytes:
        return self._do(self.fs.cat_file, name)

    def write_bytes(self, name: str, data: bytes, before=None) -> None:
        if before:
            before()
        self._do(self.fs.pipe_file, name, data)

    def write_table(self, name: str, write, before=None) -> None:
        """``write(file)`` fills the object; it is sent whole once written."""
        buffer = io.BytesIO()
        write(buffer)
        self.write_bytes(name, buffer.getvalue(), before)

    def remove(self, name: str, durable: bool = False) -> None:
        try:
            self._do(self.fs.rm_file, name)
        except FileNotFoundError:
            pass

    def names(self, folder: str) -> list[str]:
        """The objects directly in ``folder`` (their names)."""
        try:
            listed = self._do(self.fs.ls, folder, False)
        except FileNotFoundError:
            return []
        self.fs.invalidate_cache(self._path(folder))
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in listed)

    @contextmanager
    def locked(self, token: str, lock: str) -> Iterator[str]:
        """Object storage has no lock: the run writes its token to ``lock``, and workers of
        an earlier run, seeing another token there, stop writing (``check``).  Two runs
        started at once on one dataset are not kept apart."""
        self.write_bytes(lock, token.encode())
        try:
            yield token
        finally:
            try:
                if self.read_bytes(lock).decode(errors="replace") == token:
                    self.remove(lock)
            except (FileNotFoundError, OutputError):
                pass

    def holds(self, token: str, lock: str) -> bool:
        try:
            return self.read_bytes(lock).decode(errors="replace").strip() == token
        except FileNotFoundError:
            return False


class LocalStore:
    """A batch dataset in a local folder: each file written under a temporary name and
    renamed into place (``atomic_path``), removals made durable where they matter."""

    def __init__(self, root):
        from pathlib import Path
        self.root = Path(root)

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write_bytes(self, name: str, data: bytes, before=None) -> None:
        from .output import atomic_path
        with atomic_path(self.root / name, before_rename=before, tidy=False) as tmp:   # cleaned once per run
            with open(tmp, "wb") as f:
                f.write(data)

    def remove(self, name: str, durable: bool = False) -> None:
        from .output import fsync_path
        target = self.root / name
        if target.exists():
            target.unlink(missing_ok=True)
            if durable:
                fsync_path(target.parent)

    def names(self, folder: str) -> list[str]:
        where = self.root / folder
        return sorted(p.name for p in where.iterdir()) if where.is_dir() else []


def dataset_store(dataset) -> LocalStore | RemoteStore:
    dataset = local(str(dataset))
    return RemoteStore(dataset) if is_url(dataset) else LocalStore(dataset)
