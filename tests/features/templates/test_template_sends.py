"""Sending with a template: /email/send (the official Python client too), /email/batch, and bad data."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from clients.capture_api import fetch_message
from conftest import RunningServer
from envelope_checks import error, invalid, ok

ORDER = {
    "id": "order-shipped",
    "template_name": "Order shipped",
    "subject": "Order {{ order.id }} for {{ name }}",
    "html_body": (
        "<p>Hi {{ name }}</p><ul>{{#each items}}<li>{{sku}} x{{qty}}</li>{{/each}}</ul>"
        "{{#if gift}}<p>A gift!</p>{{else}}<p>For you.</p>{{/if}}{{{ footer }}}"
    ),
    "text_body": (
        "Hi {{ name }}: {{#each items}}{{sku}} x{{qty}}; {{/each}}{{#unless gift}}for you{{/unless}}"
    ),
}
DATA = {
    "name": "Ann <ann>",
    "order": {"id": 42},
    "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
    "gift": False,
    "footer": "<hr>",
}
MESSAGE = {"sender": "shop@example.com", "to": ["ann@example.net"]}


@pytest.fixture
def shop(server: RunningServer) -> RunningServer:
    ok(server.post("template/add", ORDER))
    return server


def parts(msg: Any) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


def test_send_renders_subject_html_and_text(shop: RunningServer) -> None:
    body = {**MESSAGE, "template_id": "order-shipped", "template_data": DATA}
    # the request's own subject and bodies are ignored when it names a template
    email_id = ok(shop.post("email/send", {**body, "subject": "ignored", "html_body": "<p>ignored</p>"}))[
        "email_id"
    ]
    msg = fetch_message(shop, email_id)
    assert msg["Subject"] == "Order 42 for Ann <ann>"  # not escaped outside the HTML part
    found = parts(msg)
    html, text = found["text/html"], found["text/plain"]
    assert "<p>Hi Ann &lt;ann&gt;</p>" in html and "<li>A1 x2</li><li>B2 x1</li>" in html
    assert "<p>For you.</p>" in html and "<hr>" in html and "ignored" not in html
    assert text.strip() == "Hi Ann <ann>: A1 x2; B2 x1; for you"


def test_template_data_as_a_string_and_a_missing_variable(shop: RunningServer) -> None:
    data = json.dumps({"name": "Bo", "gift": True})
    body = {**MESSAGE, "template_id": "order-shipped", "template_data": data}
    msg = fetch_message(shop, ok(shop.post("email/send", body))["email_id"])
    assert msg["Subject"] == "Order  for Bo"  # order.id is missing: empty
    assert "<p>A gift!</p>" in parts(msg)["text/html"]


def test_text_is_generated_from_the_html_when_the_template_has_none(shop: RunningServer) -> None:
    ok(
        shop.post(
            "template/add",
            {
                "id": "html-only",
                "template_name": "H",
                "subject": "S",
                "html_body": "<h1>Hello {{name}}</h1><p>Second <b>line</b></p>",
            },
        )
    )
    msg = fetch_message(
        shop,
        ok(shop.post("email/send", {**MESSAGE, "template_id": "html-only", "template_data": {"name": "Cy"}}))[
            "email_id"
        ],
    )
    text = parts(msg)["text/plain"]
    assert "Hello Cy" in text and "Second" in text and "<" not in text


def test_attachments_headers_and_recipients_of_the_request_still_apply(shop: RunningServer) -> None:
    body = {
        **MESSAGE,
        "cc": ["cc@example.net"],
        "template_id": "order-shipped",
        "template_data": DATA,
        "custom_headers": [{"header": "X-Campaign", "value": "spring"}],
        "attachments": [
            {
                "filename": "a.txt",
                "fileblob": base64.b64encode(b"attached").decode(),
                "mimetype": "text/plain",
            }
        ],
    }
    msg = fetch_message(shop, ok(shop.post("email/send", body))["email_id"])
    assert msg["X-Campaign"] == "spring" and "cc@example.net" in msg["Cc"]
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "a.txt" and attachment.get_content() == "attached"


def test_bad_template_sends_are_envelope_errors(shop: RunningServer) -> None:
    error(shop.post("email/send", {**MESSAGE, "template_id": "no-such-tpl"}), 404)
    for data in ([1, 2], 5, "not json", "[1, 2]", '{"a": '):
        invalid(
            shop.post("email/send", {**MESSAGE, "template_id": "order-shipped", "template_data": data}),
            "template_data",
        )
    deep: Any = 1
    for _ in range(40):  # deeper than the engine reads (a string: the body itself may nest 32 deep)
        deep = {"k": deep}
    invalid(
        shop.post(
            "email/send",
            {
                **MESSAGE,
                "template_id": "order-shipped",
                "template_data": json.dumps(deep),
            },
        ),
        "template_data",
    )


def test_a_template_that_expands_without_bound_is_refused_at_send(shop: RunningServer) -> None:
    loops = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}{{#each ../../../../a}}"
    ok(
        shop.post(
            "template/add",
            {
                "id": "bomb-bomb",
                "template_name": "B",
                "subject": "s",
                "text_body": loops + "boom" + "{{/each}}" * 5,
            },
        )
    )
    r = shop.post(
        "email/send", {**MESSAGE, "template_id": "bomb-bomb", "template_data": {"a": list(range(200))}}
    )
    invalid(r, "template_data")
    assert "size limit" in r.json()["data"]["error"]


def test_a_subaccount_sends_with_its_own_template(shop: RunningServer) -> None:
    from postroom.features.api_keys.service import create_key

    sub = ok(shop.post("subaccount/add", {"fullname": "Team"}))["id"]
    sub_key: str = shop.app.state.services.db.write_sync(lambda conn: create_key(conn, sub, ["*"]))
    body = {**MESSAGE, "template_id": "order-shipped", "template_data": DATA}
    error(shop.post("email/send", body, key=sub_key), 404)  # the master's template is not the team's
    ok(shop.post("template/add", {**ORDER, "subject": "Team: {{name}}"}, key=sub_key))
    email_id = ok(shop.post("email/send", body, key=sub_key))["email_id"]
    with shop.client() as c:
        raw = c.get(f"/api/v1/messages/{email_id}/raw", headers={"X-Smtp2go-Api-Key": sub_key}).content
    assert b"Subject: Team: Ann <ann>" in raw


def test_batch_items_render_each_their_template(shop: RunningServer) -> None:
    items = [
        {**MESSAGE, "template_id": "order-shipped", "template_data": {**DATA, "name": "One"}},
        {**MESSAGE, "template_id": "order-shipped", "template_data": json.dumps({**DATA, "name": "Two"})},
        {**MESSAGE, "template_id": "missing-tpl"},
        {**MESSAGE, "template_id": "order-shipped", "template_data": [1]},
        {**MESSAGE, "subject": "plain", "text_body": "no template"},
    ]
    results = ok(shop.post("email/batch", {"emails": items}))
    assert [r["succeeded"] for r in results] == [1, 1, 0, 0, 1]
    assert "not found" in results[2]["error"] and "template_data" in results[3]["error"]
    subjects = [fetch_message(shop, r["email_id"])["Subject"] for r in (results[0], results[1], results[4])]
    assert subjects == ["Order 42 for One", "Order 42 for Two", "plain"]


@pytest.fixture
def pointed(shop: RunningServer) -> Iterator[RunningServer]:
    import smtp2go.core

    original = smtp2go.core.API_ROOT
    smtp2go.core.API_ROOT = shop.v3
    try:
        yield shop
    finally:
        smtp2go.core.API_ROOT = original


def test_the_official_python_client_sends_with_a_template(pointed: RunningServer) -> None:
    from smtp2go.core import Smtp2goClient

    client = Smtp2goClient(api_key=pointed.key)
    resp = client.send(
        sender="Shop <shop@example.com>",
        recipients=["ann@example.net"],
        template_id="order-shipped",
        template_data=DATA,
    )
    assert resp.status_code == 200 and resp.success is True, resp.json
    msg = fetch_message(pointed, resp.json["data"]["email_id"])
    assert msg["Subject"] == "Order 42 for Ann <ann>"
    assert "A1 x2; B2 x1" in parts(msg)["text/plain"]
    missing = client.send(sender="shop@example.com", recipients=["a@example.net"], template_id="nope-nope")
    assert missing.status_code == 404 and missing.success is False
