"""POST /api/v1/templates/{id}/render: the preview of a template with data (nothing is sent)."""

from __future__ import annotations

import json

import httpx

from conftest import RunningServer
from envelope_checks import error, invalid, ok

TEMPLATE = {
    "id": "preview-me",
    "template_name": "Preview",
    "subject": "Hi {{ name }}",
    "html_body": "<b>{{ name }}</b>{{#unless vip}} (regular){{else}} (vip){{/unless}}",
}


def render(server: RunningServer, template_id: str, body: object, key: str | None = None) -> httpx.Response:
    with server.client() as c:
        return c.post(
            f"/api/v1/templates/{template_id}/render",
            json=body,
            headers={"X-Smtp2go-Api-Key": key or server.key},
        )


def test_preview_answers_subject_html_and_text(server: RunningServer) -> None:
    ok(server.post("template/add", TEMPLATE))
    r = render(server, "preview-me", {"template_data": {"name": "<Ann>", "vip": True}})
    assert r.status_code == 200, r.text
    assert r.json() == {"subject": "Hi <Ann>", "html": "<b>&lt;Ann&gt;</b> (vip)", "text": "<Ann> (vip)\n"}
    as_string = render(server, "preview-me", {"template_data": json.dumps({"name": "Bo"})}).json()
    assert as_string["html"] == "<b>Bo</b> (regular)"
    assert render(server, "preview-me", {}).json()["subject"] == "Hi "  # no data: variables are empty
    assert not ok(server.post("activity/search", {}))["events"]  # nothing was sent


def test_preview_errors_are_envelopes(server: RunningServer) -> None:
    ok(server.post("template/add", TEMPLATE))
    error(render(server, "not-there", {}), 404)
    invalid(render(server, "preview-me", {"template_data": [1]}), "template_data")
    invalid(render(server, "preview-me", {"template_data": "{nope"}), "template_data")
    with server.client() as c:
        bad_json = c.post(
            "/api/v1/templates/preview-me/render", content=b"[1", headers={"X-Smtp2go-Api-Key": server.key}
        )
    invalid(bad_json, "body")
    assert render(server, "preview-me", {}, key="api-" + "0" * 32).status_code == 401
    narrow = server.account_key(["/email/send"], same=True)
    assert render(server, "preview-me", {}, key=narrow).status_code == 403
    other_account = server.account_key()
    error(render(server, "preview-me", {}, key=other_account), 404)  # another account's template
