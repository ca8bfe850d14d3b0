"""The yardstick for bench/smtp_ingest.py: aiosmtpd with a handler that accepts and discards.

Same server class, options and event loop (uvloop) as Postroom's listener, none of its work.
Usage: python bench/bare_smtp.py PORT
"""

from __future__ import annotations

import asyncio
import sys

import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session


class Discard:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 OK"


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(Discard(), hostname="localhost", data_size_limit=50 * 1024 * 1024, enable_SMTPUTF8=True)

    server = await loop.create_server(factory, "127.0.0.1", port)
    print(f"listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
