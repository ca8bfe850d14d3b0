"""/template/add|edit|delete|search|view: SMTP2GO's shapes (reference §6), ids, compile errors, tenants."""

from __future__ import annotations

from typing import Any

from conftest import RunningServer
from envelope_checks import error, invalid, ok

TEMPLATE = {
    "id": "welcome-1",
    "template_name": "Welcome",
    "subject": "Welcome {{ name }}",
    "html_body": "<p>Hello {{ name }}</p>",
    "text_body": "Hello {{ name }}",
    "template_variables": {"name": "Sample"},
    "tags": ["onboarding"],
}


def add(server: RunningServer, key: str = "default", **fields: Any) -> dict[str, Any]:
    data = ok(server.post("template/add", {**TEMPLATE, **fields}, key=key))
    assert isinstance(data, dict)
    return data


def test_add_echoes_and_view_answers_name(server: RunningServer) -> None:
    added = add(server)
    for field, value in TEMPLATE.items():
        assert added[field] == value
    assert len(added["last_updated"]) == 19 and added["last_updated"][10] == " "  # 2024-01-01 12:00:00
    viewed = ok(server.post("template/view", {"id": "welcome-1"}))
    assert viewed["name"] == "Welcome" and "template_name" not in viewed
    assert viewed["html_body"] == TEMPLATE["html_body"] and viewed["template_variables"] == {"name": "Sample"}
    assert viewed == ok(server.post("template/view", {"template_id": "welcome-1"}))  # the seed's name


def test_edit_changes_what_is_given_and_renames(server: RunningServer) -> None:
    add(server)
    edited = ok(server.post("template/edit", {"template_id": "welcome-1", "subject": "Hi {{name}}"}))
    assert edited["subject"] == "Hi {{name}}" and edited["html_body"] == TEMPLATE["html_body"]
    renamed = ok(server.post("template/edit", {"id": "welcome-1", "new_id": "welcome-2", "tags": ["x"]}))
    assert renamed["id"] == "welcome-2" and renamed["tags"] == ["x"]
    error(server.post("template/view", {"id": "welcome-1"}), 404)
    assert ok(server.post("template/view", {"id": "welcome-2"}))["subject"] == "Hi {{name}}"


def test_delete_answers_a_string(server: RunningServer) -> None:
    add(server)
    deleted = ok(server.post("template/delete", {"id": "welcome-1"}))
    assert deleted == "Successfully deleted template 'welcome-1'"
    error(server.post("template/delete", {"id": "welcome-1"}), 404)
    error(server.post("template/view", {"template_id": "welcome-1"}), 404)


def test_search_filters_sorts_and_pages(server: RunningServer) -> None:
    add(server, id="tmpl-a", template_name="Alpha", subject="Invoice {{n}}", tags=["billing"])
    add(server, id="tmpl-b", template_name="Beta", subject="News", tags=["news", "billing"])
    add(server, id="tmpl-c", template_name="Gamma", subject="Reminder", tags=["news"])
    everything = ok(server.post("template/search", {}))
    assert everything["total_count"] == 3 and everything["continue_token"] is None
    assert [t["name"] for t in everything["templates"]] == ["Alpha", "Beta", "Gamma"]
    assert set(everything["templates"][0]) == {"name", "id", "subject", "tags", "last_updated"}
    desc = ok(server.post("template/search", {"sort_direction": "desc"}))
    assert [t["id"] for t in desc["templates"]] == ["tmpl-c", "tmpl-b", "tmpl-a"]
    billing = ok(server.post("template/search", {"tags": ["billing"]}))
    assert [t["id"] for t in billing["templates"]] == ["tmpl-a", "tmpl-b"]
    exact = ok(server.post("template/search", {"search_terms": ["beta"]}))
    assert [t["id"] for t in exact["templates"]] == ["tmpl-b"]
    assert ok(server.post("template/search", {"search_terms": ["invoice"]}))["total_count"] == 0
    fuzzy = ok(server.post("template/search", {"search_terms": ["invoice"], "fuzzy_search": True}))
    assert [t["id"] for t in fuzzy["templates"]] == ["tmpl-a"]
    first = ok(server.post("template/search", {"page_size": 2}))
    assert len(first["templates"]) == 2 and first["total_count"] == 3 and first["continue_token"]
    rest = ok(server.post("template/search", {"page_size": 2, "continue_token": first["continue_token"]}))
    assert [t["id"] for t in rest["templates"]] == ["tmpl-c"] and rest["continue_token"] is None
    invalid(server.post("template/search", {"continue_token": "!!nonsense"}), "continue_token")
    invalid(server.post("template/search", {"sort_direction": "sideways"}), "sort_direction")


def test_bad_ids(server: RunningServer) -> None:
    invalid(server.post("template/add", {**TEMPLATE, "id": "abcd"}), "id")  # 4 characters
    invalid(server.post("template/add", {**TEMPLATE, "id": "x" * 25}), "id")
    invalid(server.post("template/add", {**TEMPLATE, "id": "x" * 5000}), "id")
    invalid(server.post("template/add", {k: v for k, v in TEMPLATE.items() if k != "id"}), "id")
    add(server, id="abcde")  # 5 characters
    add(server, id="x" * 24)
    error(server.post("template/add", {**TEMPLATE, "id": "abcde"}), 402)  # duplicate
    add(server, id="ABCDE")  # ids are case-sensitive
    error(server.post("template/view", {"id": "nope-nope"}), 404)
    error(server.post("template/edit", {"id": "nope-nope", "subject": "s"}), 404)
    invalid(server.post("template/edit", {"id": "abcde", "new_id": "abc"}), "new_id")
    error(server.post("template/edit", {"id": "abcde", "new_id": "ABCDE"}), 402)  # taken


def test_a_template_that_does_not_compile_is_refused_naming_field_and_place(server: RunningServer) -> None:
    r = server.post("template/add", {**TEMPLATE, "html_body": "<p>\n{{#if vip}}VIP</p>"})
    invalid(r, "html_body")
    message = r.json()["data"]["field_validation_errors"]["message"]
    assert "#if" in message and "line 2, column 1" in message
    invalid(server.post("template/add", {**TEMPLATE, "subject": "Hi {{ name"}), "subject")
    invalid(server.post("template/add", {**TEMPLATE, "text_body": "{{#each x}}{{/if}}"}), "text_body")
    error(server.post("template/view", {"id": TEMPLATE["id"]}), 404)  # nothing stored
    add(server)
    invalid(server.post("template/edit", {"id": TEMPLATE["id"], "html_body": "{{/each}}"}), "html_body")
    assert ok(server.post("template/view", {"id": TEMPLATE["id"]}))["html_body"] == TEMPLATE["html_body"]


def test_templates_are_per_account(server: RunningServer) -> None:
    sub = ok(server.post("subaccount/add", {"fullname": "Team"}))["id"]
    from postroom.features.api_keys.service import create_key

    sub_key: str = server.app.state.services.db.write_sync(lambda conn: create_key(conn, sub, ["*"]))
    add(server, template_name="Master's")
    add(server, key=sub_key, template_name="Team's")  # the same id in another account
    assert ok(server.post("template/view", {"id": TEMPLATE["id"]}))["name"] == "Master's"
    assert ok(server.post("template/view", {"id": TEMPLATE["id"]}, key=sub_key))["name"] == "Team's"
    add(server, key=sub_key, id="team-only")
    error(server.post("template/view", {"id": "team-only"}), 404)
    assert ok(server.post("template/search", {}))["total_count"] == 1
    assert ok(server.post("template/search", {}, key=sub_key))["total_count"] == 2
    ok(server.post("template/delete", {"id": TEMPLATE["id"]}, key=sub_key))
    assert ok(server.post("template/view", {"id": TEMPLATE["id"]}))["name"] == "Master's"
