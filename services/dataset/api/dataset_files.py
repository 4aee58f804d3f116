"""Where a dataset's files live in storage, and moving them in and out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from services.dataset.domain.intake import UploadFormat, UploadRecord
from shared import storage
from shared.population import ENTITIES, file_name, write_population
from shared.settings import Settings

# The original is stored under a fixed name; the name the upload gave is kept in its row,
# reduced to characters that are safe in a path and a Content-Disposition header.
ORIGINAL = "original/upload"
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Upload:
    """An uploaded file: its format as checked, the name it came with, its bytes."""

    format: UploadFormat
    filename: str | None
    content: IO[bytes]


def original_name(filename: str | None) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    safe = UNSAFE_NAME.sub("_", base).strip("._")[:200]
    return safe or "upload"


def keep_original(root: str, upload: Upload) -> UploadRecord:
    """Store the uploaded file as it came, beside the dataset's Parquet files."""
    size, sha256 = storage.copy_in(storage.join(root, ORIGINAL), upload.content)
    return UploadRecord(upload.format, original_name(upload.filename), size, sha256)


def original_source(root: str) -> Iterator[bytes]:
    """A lazy reader of the kept original; FileNotFoundError up front if it is missing."""
    fs, path = storage.filesystem(storage.join(root, ORIGINAL))
    if not fs.exists(path):
        raise FileNotFoundError(f"{ORIGINAL} is missing from {root}")
    return _chunks(fs, path)


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
