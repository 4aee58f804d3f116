"""Where a dataset's files live in storage, and moving them in and out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from shared import storage
from shared.population import ENTITIES, file_name, write_population
from shared.settings import Settings


def dataset_root(settings: Settings, dataset_id: str) -> str:
    """The storage folder of one dataset: `<storage root>/datasets/<id>`."""
    return storage.join(settings.resolved_storage_url, "datasets", dataset_id)


def store_files(root: str, files: dict[str, bytes]) -> None:
    """Write the six entity files; on failure leave nothing behind."""
    try:
        write_population(root, files)
    except BaseException:
        remove_files(root)
        raise


def remove_files(root: str) -> None:
    fs, path = storage.filesystem(root)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def archive_sources(root: str) -> list[tuple[str, int, Iterable[bytes]]]:
    """Each entity file's size and a lazy reader of its bytes, for the download zip.

    Raises FileNotFoundError up front, before any byte of the answer is sent.
    """
    sources: list[tuple[str, int, Iterable[bytes]]] = []
    for entity in ENTITIES:
        fs, path = storage.filesystem(storage.join(root, file_name(entity)))
        if not fs.exists(path):
            raise FileNotFoundError(f"{file_name(entity)} is missing from {root}")
        sources.append((entity, int(fs.size(path)), _chunks(fs, path)))
    return sources


def _chunks(fs: Any, path: str) -> Iterator[bytes]:
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(storage.CHUNK):
            yield chunk
