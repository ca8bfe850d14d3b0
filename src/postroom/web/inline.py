"""Inline images for the HTML preview: `cid:` references become data: URIs.

The preview runs in a sandboxed iframe whose requests carry no session cookie (its origin is opaque
and the cookie is SameSite=Strict), so the images travel inside the document instead of as links.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote

_CID = re.compile(r"""cid:([^\s"'<>()]+)""", re.IGNORECASE)
_IMAGE_TYPE = re.compile(r"^image/[a-z0-9.+-]+$")
MAX_INLINE_BYTES = 5 * 1024 * 1024


def referenced_images(html: str, attachments: list[dict[str, Any]]) -> dict[str, int]:
    """Content-ID → part index of the image parts the HTML refers to, within MAX_INLINE_BYTES."""
    wanted = {unquote(m.group(1)) for m in _CID.finditer(html)}
    found: dict[str, int] = {}
    budget = MAX_INLINE_BYTES
    for item in attachments:
        cid, size = str(item.get("content_id") or ""), int(item.get("size") or 0)
        if cid in wanted and _IMAGE_TYPE.match(str(item.get("content_type"))) and size <= budget:
            found[cid] = int(item["index"])
            budget -= size
    return found


def data_uri(content_type: str, content: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(content).decode('ascii')}"


def rewrite_cids(html: str, uris: dict[str, str]) -> str:
    """Replace each `cid:<id>` with its data: URI; unknown ids are left as they are."""
    return _CID.sub(lambda m: uris.get(unquote(m.group(1)), m.group(0)), html)
