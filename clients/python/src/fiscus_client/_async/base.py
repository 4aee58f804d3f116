"""What every part of the asynchronous client stands on: the connection and its answers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Self

from fiscus_client.models import Page
from fiscus_client.transport import (
    Model,
    auth_headers,
    checked_body,
    decoded,
    error_of,
    resolve_config,
    without_none,
)


class AsyncBase:
    """A Fiscus gateway reached with one API key.

    `url` and `api_key` default to the environment variables FISCUS_URL and FISCUS_API_KEY;
    `transport` replaces the network (httpx's mock transport in tests, say).
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Connect to the gateway at `url` with `api_key`."""
        self.url, api_key = resolve_config(url, api_key)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=auth_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connections."""
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any call to the API; the decoded JSON, or FiscusError for an error answer."""
        return decoded(await self._http.request(method, path, **kwargs))

    async def _one(self, model: type[Model], method: str, path: str, **kwargs: Any) -> Model:
        return model.model_validate(await self.request(method, path, **kwargs))

    async def _page(self, model: type[Model], path: str, **params: Any) -> Page[Model]:
        return Page[model].model_validate(  # type: ignore[valid-type]
            await self.request("GET", path, params=without_none(params))
        )

    async def _etag(self, path: str, if_match: str | None) -> str:
        """`if_match` if given, else the resource's current ETag (read with GET)."""
        if if_match is not None:
            return if_match
        answer = await self._http.get(path)
        decoded(answer)
        return answer.headers["ETag"]

    async def _bytes(self, path: str, **params: Any) -> bytes:
        """A binary answer, checked against its X-Content-SHA256 when it has one."""
        answer = await self._http.get(path, params=without_none(params))
        if answer.status_code >= 400:
            raise error_of(answer)
        return checked_body(answer.content, answer.headers.get("X-Content-SHA256"))

    async def _save(self, path: str, target: Path, **params: Any) -> Path:
        """Stream a binary answer into `target` (a file, or a folder to take the server's
        file name in), checked against its X-Content-SHA256; the file written."""
        async with self._http.stream("GET", path, params=without_none(params)) as answer:
            if answer.status_code >= 400:
                await answer.aread()
                raise error_of(answer)
            if target.is_dir():
                target = target / file_name_of(answer, path)
            digest = hashlib.sha256()
            partial = target.with_name(target.name + ".part")
            with partial.open("wb") as file:
                async for chunk in answer.aiter_bytes():
                    digest.update(chunk)
                    file.write(chunk)
            try:
                checked_body(b"", answer.headers.get("X-Content-SHA256"), digest.hexdigest())
            except BaseException:
                partial.unlink()
                raise
            partial.replace(target)
        return target


def file_name_of(answer: httpx.Response, path: str) -> str:
    """The file name the server gives (Content-Disposition), else the path's last part."""
    disposition = answer.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename" and value:
            return Path(value.strip('"')).name
    return Path(path).name
