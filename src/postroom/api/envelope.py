"""The response envelope on every status: `{"request_id": "<uuid>", "data": {...}}` (decisions.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.responses import Response

from postroom.errors import PostroomError

_encoder = msgspec.json.Encoder()


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def envelope(
    request_id: str, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse({"request_id": request_id, "data": data}, status_code=status, headers=headers)


def error_envelope(request_id: str, exc: PostroomError) -> Response:
    """The one mapping from the exception tree to HTTP status and `data.error`/`data.error_code`."""
    return envelope(request_id, exc.data(), status=exc.status)
