"""The multipart body of an upload, read under a size limit as it streams in.

The limit applies while the body arrives, so an oversize upload is refused after
`upload_max_bytes`, not after it has been spooled to disk whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from services.dataset.api.schemas import UploadFields
from services.dataset.domain.archive import UPLOAD_FIELD
from shared.problems import FieldError, ProblemError, invalid

# Room for the boundaries, part headers and text fields around the zip itself.
FORM_OVERHEAD_BYTES = 64 * 1024
TEXT_FIELDS = ("name", "year")


@dataclass(frozen=True)
class UploadForm:
    fields: UploadFields
    archive: UploadFile


@contextlib.asynccontextmanager
async def upload_form(request: Request, max_bytes: int) -> AsyncIterator[UploadForm]:
    """The upload's fields and zip; its temporary file is removed on leaving."""
    form = await _parse(request, max_bytes)
    try:
        yield _upload_of(form, max_bytes)
    finally:
        await form.close()


async def _parse(request: Request, max_bytes: int) -> FormData:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ProblemError(
            415,
            "Unsupported Media Type",
            "send multipart/form-data with a `file` (zip or .h5) and the fields `name` and `year`",
            kind="unsupported-media-type",
        )
    limit = max_bytes + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(max_bytes)
    parser = MultiPartParser(
        request.headers, _capped(request.stream(), limit, max_bytes), max_files=1, max_fields=10
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise ProblemError(
            400, "Bad Request", f"malformed multipart body: {exc.message}", kind="malformed-body"
        ) from exc


async def _capped(
    chunks: AsyncIterator[bytes], limit: int, max_bytes: int
) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise too_large(max_bytes)
        yield chunk


def _upload_of(form: FormData, max_bytes: int) -> UploadForm:
    archive = form.get(UPLOAD_FIELD)
    errors: list[FieldError] = []
    if not isinstance(archive, UploadFile):
        errors.append(
            FieldError(field=f"body.{UPLOAD_FIELD}", message="a zip or HDF5 file is required")
        )
    values = {key: form.get(key) for key in TEXT_FIELDS if isinstance(form.get(key), str)}
    fields: UploadFields | None = None
    try:
        fields = UploadFields.model_validate(values)
    except ValidationError as exc:
        errors.extend(
            FieldError(field=".".join(["body", *map(str, e["loc"])]), message=e["msg"])
            for e in exc.errors()
        )
    if errors or fields is None or not isinstance(archive, UploadFile):
        raise invalid(errors)
    if archive.size is not None and archive.size > max_bytes:
        raise too_large(max_bytes)
    return UploadForm(fields, archive)


def too_large(max_bytes: int) -> ProblemError:
    return ProblemError(
        413,
        "Content Too Large",
        f"the upload is over the limit of {max_bytes} bytes",
        kind="too-large",
        errors=[FieldError(field=UPLOAD_FIELD, message=f"larger than {max_bytes} bytes")],
    )
