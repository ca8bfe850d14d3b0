"""Webhook notifications end to end: a real Postroom (capture mode) posts to a real loopback receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from tests.dispatch.webhook_receiver import Received, Receiver, receiver, wait_until

from conftest import TEST_KEY, RunningServer
from envelope_checks import ok
from postroom.storage.tables import webhook_attempts, webhook_notifications

SIM = "simulator.postroom.test"
ALL = ["processed", "delivered", "bounce", "spam", "open", "click", "reject"]


def _hook(server: RunningServer, rec: Receiver, **fields: Any) -> dict[str, Any]:
    data = ok(server.post("webhook/add", {"url": rec.url, "events": ALL, "output_format": "json", **fields}))
    assert isinstance(data, dict)
    return data


def _json(posts: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(p.body) for p in posts]


def _verify(secret: str, post: Received, now: float | None = None, tolerance: float = 300) -> bool:
    """What a receiver does with X-Postroom-Signature: a few lines of standard-library HMAC."""
    fields = dict(part.split("=", 1) for part in post.headers["x-postroom-signature"].split(","))
    if abs((now or time.time()) - int(fields["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + post.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def test_processed_once_then_delivered_per_recipient_signed(server: RunningServer) -> None:
    with receiver() as rec:
        hook = _hook(server, rec, headers=["X-Campaign"])
        email_id = server.send(
            to=["a@example.net", "b@example.net"],
            custom_headers=[{"header": "X-Campaign", "value": "spring"}],
        )
        posts = rec.wait_for(3)
        time.sleep(0.3)
        assert len(rec.received) == 3  # processed once for the message, delivered once per recipient
    bodies = _json(posts)
    processed = [b for b in bodies if b["event"] == "processed"]
    delivered = sorted((b for b in bodies if b["event"] == "delivered"), key=lambda b: b["rcpt"])
    assert len(processed) == 1 and [b["rcpt"] for b in delivered] == ["a@example.net", "b@example.net"]
    assert bodies[0]["event"] == "processed"  # before any delivery of the message
    p = processed[0]
    assert sorted(p["recipients"]) == ["a@example.net", "b@example.net"] and "rcpt" not in p
    assert p["srchost"] == "127.0.0.1" and p["email_id"] == email_id and p["auth"] == TEST_KEY[:16]
    assert (
        p["sender"] == "s@example.com" and p["from_address"] == "s@example.com" and p["subject"] == "subject"
    )
    assert p["message-id"].startswith("<") and p["X-Campaign"] == "spring"
    assert len(p["id"]) == 32 and len({b["id"] for b in bodies}) == 3
    assert time.strptime(p["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert p["sendtime"].endswith("+00:00") and "." in p["sendtime"]
    d = delivered[0]
    assert d["host"] and d["message"].startswith("250") and d["context"] == "Unavailable"
    for post in posts:
        assert post.headers["content-type"] == "application/json"
        assert post.headers["x-postroom-webhook-id"] == str(hook["id"])
        assert post.headers["user-agent"].startswith("Postroom/")
        assert _verify(hook["secret"], post)
        assert not _verify("another secret", post)
        assert not _verify(hook["secret"], Received(post.path, post.headers, post.body + b" "))
        assert not _verify(hook["secret"], post, now=time.time() + 3600)  # an old timestamp


def test_form_output_as_smtp2go_sends_it(server: RunningServer) -> None:
    with receiver() as rec:
        _hook(server, rec, output_format="form", events=["processed", "bounce"])
        server.send(to=[f"hardbounce@{SIM}", f"delivered@{SIM}"])
        posts = rec.wait_for(2)
    forms = [parse_qs(p.body.decode()) for p in posts]
    assert all(p.headers["content-type"] == "application/x-www-form-urlencoded" for p in posts)
    processed = next(f for f in forms if f["event"] == ["processed"])
    assert sorted(processed["recipients"]) == [f"delivered@{SIM}", f"hardbounce@{SIM}"]  # repeated keys
    assert processed["Subject"] == processed["subject"] == ["subject"]
    assert processed["Message-Id"] == processed["message-id"]
    bounce = next(f for f in forms if f["event"] == ["bounce"])
    assert bounce["bounce"] == ["hard"] and bounce["rcpt"] == [f"hardbounce@{SIM}"]
    assert bounce["context"] == [f"RCPT TO:<hardbounce@{SIM}>"] and bounce["message"][0].startswith("550")


def test_opens_clicks_and_spam_follow_their_delivery(server: RunningServer) -> None:
    with receiver() as rec:
        _hook(server, rec)
        server.send(to=[f"open@{SIM}", f"click@{SIM}", f"spam@{SIM}"])
        bodies = _json(rec.wait_for(7))
    by_rcpt: dict[str, list[str]] = {}
    for body in bodies:
        if body["event"] != "processed":
            by_rcpt.setdefault(body["rcpt"], []).append(body["event"])
    assert by_rcpt == {
        f"open@{SIM}": ["delivered", "open"],
        f"click@{SIM}": ["delivered", "click"],
        f"spam@{SIM}": ["delivered", "spam"],
    }


def test_a_failing_receiver_gets_the_same_notification_again(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(webhook_retry_schedule="1s..60s")
    with receiver() as rec:
        rec.script = [500, 503]
        _hook(server, rec, events=["processed"])
        server.send()
        posts = rec.wait_for(3)
    ids = {json.loads(p.body)["id"] for p in posts}
    assert len(ids) == 1  # one notification, three attempts: receivers can drop duplicates by id
    db = server.app.state.services.db
    wait_until(
        lambda: (
            db.read_sync(lambda c: c.execute(select(webhook_notifications.c.state)).scalar()) == "delivered"
        )
    )
    attempts = db.read_sync(
        lambda c: c.execute(select(webhook_attempts).order_by(webhook_attempts.c.id)).all()
    )
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert attempts[0].response_start == "not now" and attempts[2].response_start == '{"ok": true}'


def test_a_receiver_that_is_down_gets_everything_in_order_once_it_is_up(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(webhook_retry_schedule="1s..120s")
    with receiver() as probe:
        port = int(probe.url.split(":")[2].split("/")[0])
    hook_url = f"http://127.0.0.1:{port}/hook"  # nothing listens there now
    ok(
        server.post(
            "webhook/add",
            {"url": hook_url, "events": ["processed", "delivered", "open"], "output_format": "json"},
        )
    )
    server.send(to=[f"open@{SIM}"])
    db = server.app.state.services.db
    wait_until(
        lambda: (db.read_sync(lambda c: c.execute(select(webhook_attempts.c.id)).all()) or [None]) != [None]
    )
    with receiver(port) as rec:
        bodies = _json(rec.wait_for(3, timeout=20))
    assert [b["event"] for b in bodies] == ["processed", "delivered", "open"]
    errors = db.read_sync(
        lambda c: (
            c.execute(select(webhook_attempts.c.error).where(webhook_attempts.c.status_code.is_(None)))
            .scalars()
            .all()
        )
    )
    assert errors and all(e for e in errors)  # the connection failures were recorded with a reason


def test_usernames_disabled_and_tenants_filter_notifications(server: RunningServer) -> None:
    with receiver() as mine, receiver() as others, receiver() as off, receiver() as tenant:
        _hook(server, mine, events=["processed"], usernames=[TEST_KEY[:16]])
        _hook(server, others, events=["processed"], usernames=["someone-else"])
        _hook(server, off, events=["processed"], disabled=True)
        other_key = server.account_key()
        ok(server.post("webhook/add", {"url": tenant.url, "events": ["processed"]}, key=other_key))
        server.send()
        mine.wait_for(1)
        time.sleep(1.0)
        assert (len(mine.received), len(others.received), len(off.received), len(tenant.received)) == (
            1,
            0,
            0,
            0,
        )


def test_removing_a_webhook_cancels_what_is_pending(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(webhook_retry_schedule="1h")
    with receiver() as rec:
        rec.script = [500]
        hook = _hook(server, rec, events=["processed"])
        server.send()
        rec.wait_for(1)
        ok(server.post("webhook/remove", {"id": hook["id"]}))
    db = server.app.state.services.db
    states = db.read_sync(lambda c: c.execute(select(webhook_notifications.c.state)).scalars().all())
    assert states == ["cancelled"]


def _api(server: RunningServer, method: str, path: str, key: str | None = None, **params: Any) -> Any:
    with server.client() as c:
        r = c.request(method, path, params=params, headers={"X-Smtp2go-Api-Key": key or server.key})
    return r


def test_notifications_with_attempts_retry_and_cancel(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(webhook_retry_schedule="1h")
    with receiver() as rec:
        rec.script = [500]
        hook = _hook(server, rec, events=["processed"])
        email_id = server.send()
        rec.wait_for(1)
        base = f"/api/v1/webhooks/{hook['id']}/deliveries"
        wait_until(lambda: _api(server, "GET", base).json()["notifications"][0]["attempts"] == 1)
        [pending] = _api(server, "GET", base, state="pending").json()["notifications"]
        assert (
            pending["email_id"] == email_id
            and pending["event"] == "processed"
            and pending["last_status"] == 500
        )
        assert (
            pending["attempt_log"][0]["status_code"] == 500
            and pending["attempt_log"][0]["response_start"] == "not now"
        )
        assert pending["next_attempt_at"]  # in an hour: retry it now instead
        assert _api(server, "POST", f"{base}/{pending['id']}/retry").json() == {
            "id": pending["id"],
            "state": "pending",
        }
        rec.wait_for(2)
        wait_until(lambda: _api(server, "GET", base).json()["notifications"][0]["state"] == "delivered")
        assert (
            _api(server, "POST", f"{base}/{pending['id']}/cancel").status_code == 404
        )  # delivered: nothing to cancel
        rec.script = [500]
        second = server.send()
        rec.wait_for(3)
        wait_until(lambda: len(_api(server, "GET", base, state="pending").json()["notifications"]) == 1)
        [waiting] = _api(server, "GET", base, state="pending").json()["notifications"]
        assert waiting["email_id"] == second
        assert _api(server, "POST", f"{base}/{waiting['id']}/cancel").json()["state"] == "cancelled"
        page = _api(server, "GET", base, limit=1).json()
        assert len(page["notifications"]) == 1 and page["next_cursor"]
        rest = _api(server, "GET", base, limit=5, cursor=page["next_cursor"]).json()
        assert [n["email_id"] for n in rest["notifications"]] == [email_id] and rest["next_cursor"] is None
        other = server.account_key()
        assert _api(server, "GET", base, key=other).status_code == 404  # another account's webhook
        assert _api(server, "GET", base, cursor="x").status_code == 400
        assert _api(server, "GET", "/api/v1/webhooks/abc/deliveries").status_code == 400


def test_test_events_post_one_sample_of_each_subscribed_event(server: RunningServer) -> None:
    with receiver() as rec:
        hook = _hook(server, rec, events=["processed", "delivered", "bounce", "open"])
        answer = _api(server, "POST", f"/api/v1/webhooks/{hook['id']}/test").json()
        assert [r["event"] for r in answer["results"]] == ["processed", "delivered", "bounce", "open"]
        assert all(r["status_code"] == 200 for r in answer["results"])
        bodies = _json(rec.wait_for(4))
    assert [b["event"] for b in bodies] == ["processed", "delivered", "bounce", "open"]
    assert bodies[2]["bounce"] == "hard" and bodies[0]["recipients"] == ["recipient@example.com"]
    assert all(_verify(hook["secret"], p) for p in rec.received)


def test_the_cli_lists_a_webhooks_notifications(server: RunningServer) -> None:
    from click.testing import CliRunner

    from postroom.cli.main import main

    with receiver() as rec:
        hook = _hook(server, rec, events=["processed"])
        email_id = server.send()
        rec.wait_for(1)
    db = server.app.state.services.db
    wait_until(
        lambda: (
            db.read_sync(lambda c: c.execute(select(webhook_notifications.c.state)).scalar()) == "delivered"
        )
    )
    args = [
        "--database-url",
        server.settings.resolved_database_url,
        "--data-dir",
        str(server.settings.data_dir),
    ]
    listed = CliRunner().invoke(main, ["webhooks", "list", *args])
    assert listed.exit_code == 0 and rec.url in listed.output, listed.output
    shown = CliRunner().invoke(main, ["webhooks", "deliveries", str(hook["id"]), "--json", *args])
    assert shown.exit_code == 0, shown.output
    [row] = [json.loads(line) for line in shown.output.splitlines()]
    assert row["email_id"] == email_id and row["state"] == "delivered"
    assert row["attempt_log"][0]["status_code"] == 200


def test_a_slow_receiver_is_a_failed_attempt_and_is_tried_again(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(webhook_timeout=1, webhook_retry_schedule="1s..60s")
    with receiver() as rec:
        rec.delay = 2.5  # longer than the timeout: the answer comes too late to count
        _hook(server, rec, events=["processed"])
        server.send()
        db = server.app.state.services.db
        wait_until(lambda: len(db.read_sync(lambda c: c.execute(select(webhook_attempts)).all())) >= 1)
        rec.delay = 0
        wait_until(
            lambda: (
                db.read_sync(lambda c: c.execute(select(webhook_notifications.c.state)).scalar())
                == "delivered"
            )
        )
    attempts = db.read_sync(
        lambda c: c.execute(select(webhook_attempts).order_by(webhook_attempts.c.id)).all()
    )
    assert attempts[0].status_code is None and "no answer within 1 s" in attempts[0].error
    assert attempts[0].duration_ms >= 1000 and attempts[-1].status_code == 200
