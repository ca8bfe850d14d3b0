"""The reference for bench/http_send.py: the smallest JSON POST endpoint on Postroom's HTTP stack.

One Starlette route that reads the whole body and answers a small JSON object shaped like a
successful /v3/email/send answer, served by uvicorn with the options `postroom serve` uses
(uvloop, httptools, no access log, no server header, one process).

    python bench/reference_app.py --port 8090
"""

from __future__ import annotations

import argparse
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def send(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "request_id": str(uuid.uuid4()),
            "data": {"succeeded": 1, "failed": 0, "failures": [], "email_id": "reference", "size": len(body)},
        }
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/v3/email/send", send, methods=["POST"]), Route("/healthz", healthz)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        server_header=False,
    )


if __name__ == "__main__":
    main()
