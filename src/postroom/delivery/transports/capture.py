"""Capture: the message is already stored; delivering it means recording that it arrived here."""

from __future__ import annotations

from postroom.delivery.transports.base import Job, Outcome

CAPTURED = Outcome(kind="delivered", response="250 captured", host="capture")


class CaptureTransport:
    """Delivers nowhere: every job is `delivered` with the response `250 captured`."""

    name = "capture"
    needs_content = False

    async def deliver(self, jobs: list[Job]) -> list[Outcome]:
        return [CAPTURED for _ in jobs]

    async def close(self) -> None:
        return None
