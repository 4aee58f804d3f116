"""Object storage through fsspec: `file://` by default, any fsspec URL otherwise."""

from __future__ import annotations

import hashlib
from typing import IO, Any

import fsspec

CHUNK = 1024 * 1024


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem serving `uri`, and the path within it."""
    fs, path = fsspec.core.url_to_fs(uri)
    return fs, path


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def _open_for_writing(uri: str) -> Any:
    """A new object at `uri` open for writing (its folder made); an existing one is replaced."""
    fs, path = filesystem(uri)
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    return fs.open(path, "wb")


def write_bytes(uri: str, data: bytes) -> None:
    """Write a whole object; an existing object at `uri` is replaced."""
    with _open_for_writing(uri) as handle:
        handle.write(data)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        data: bytes = handle.read()
    return data


def remove_tree(uri: str) -> bool:
    """Remove the object or folder at `uri` and everything under it; False if there was none."""
    fs, path = filesystem(uri)
    if not fs.exists(path):
        return False
    fs.rm(path, recursive=True)
    return True


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return bool(fs.exists(path))


def sha256_of(uri: str) -> str:
    digest = hashlib.sha256()
    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_in(uri: str, source: IO[bytes]) -> tuple[int, str]:
    """Copy a readable stream to `uri` from its start; its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    source.seek(0)
    with _open_for_writing(uri) as handle:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    return size, digest.hexdigest()
