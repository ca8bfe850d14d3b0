"""A fast webhook receiver for bench/webhook_dispatch.py: counts JSON posts and checks their order.

Each body's (email_id, rcpt or "") must arrive `processed` before `delivered`; GET /stats answers
{"posts": n, "out_of_order": k}. Run: python bench/webhook_receiver_app.py <port>
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn

posts = 0
out_of_order = 0
processed: set[str] = set()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global posts, out_of_order
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "POST":
        event = json.loads(body)
        posts += 1
        if event["event"] == "processed":
            processed.add(event["email_id"])
        elif event["email_id"] not in processed:
            out_of_order += 1
        answer = b"ok"
    else:
        answer = json.dumps({"posts": posts, "out_of_order": out_of_order}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(answer)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": answer})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        server_header=False,
        date_header=False,
    )
