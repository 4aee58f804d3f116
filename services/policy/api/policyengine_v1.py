"""`GET /us/metadata`: policyengine-us metadata in PolicyEngine API v1's shape.

The gateway serves it at the same path (services/gateway/api/policyengine_v1.py). The
document (about 75 MB of JSON) is built once per process on first use and kept, with
its gzip, which a client that accepts it receives.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from services.policy.api.routes import ParameterTreeDep
from services.policy.domain.parameters import PolicyEngineParameterTree
from services.policy.domain.v1_metadata import V1MetadataDocument
from shared.problems import ProblemError

router = APIRouter(prefix="/us", tags=["policyengine-v1"], include_in_schema=False)


class V1Metadata:
    """The document and its gzip, made once."""

    def __init__(self) -> None:
        self.document = V1MetadataDocument()
        self._gzipped: bytes | None = None

    def gzipped(self, tree: PolicyEngineParameterTree) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.document.body(tree), compresslevel=6, mtime=0)
        return self._gzipped


def _metadata_of(request: Request) -> V1Metadata:
    metadata: V1Metadata | None = getattr(request.app.state, "v1_metadata", None)
    if metadata is None:
        metadata = request.app.state.v1_metadata = V1Metadata()
    return metadata


@router.get("/metadata")
async def v1_metadata(
    request: Request,
    tree: ParameterTreeDep,
    accept_encoding: Annotated[str, Header()] = "",
) -> Response:
    if not isinstance(tree, PolicyEngineParameterTree):
        raise ProblemError(503, "Service Unavailable", "metadata needs policyengine-us")
    metadata = _metadata_of(request)
    if "gzip" in accept_encoding.lower():
        body = await asyncio.to_thread(metadata.gzipped, tree)
        return Response(
            body,
            media_type="application/json",
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    body = await asyncio.to_thread(metadata.document.body, tree)
    return Response(body, media_type="application/json", headers={"Vary": "Accept-Encoding"})
