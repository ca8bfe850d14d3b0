"""The template engine on its own: decisions.md's Handlebars subset, escaping, pybars3's gaps, bounds."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.features.templates.engine import TemplateSyntaxError, TooDeep, TooLarge, render

BUDGET = 1 << 20


def html(source: str, **data: Any) -> str:
    return render(source, data, BUDGET, escape=True)


def text(source: str, **data: Any) -> str:
    return render(source, data, BUDGET, escape=False)


def test_plain_placeholders_with_and_without_spaces() -> None:
    assert text("Hi {{ name }}, {{name}}!", name="Ann") == "Hi Ann, Ann!"


def test_html_escaping_in_the_html_part_only() -> None:
    assert html("<p>{{ who }}</p>", who="<b>&'\"") == "<p>&lt;b&gt;&amp;&#x27;&quot;</p>"
    assert text("{{ who }}", who="<b>&") == "<b>&"
    assert html("{{{ who }}}", who="<b>") == "<b>"  # raw, even in HTML


def test_dotted_paths_and_a_missing_variable_is_empty() -> None:
    assert text("{{user.name}}/{{user.missing}}/{{nobody.at.all}}", user={"name": "Bo"}) == "Bo//"
    assert text("{{items.1}}|{{items.length}}|{{items.9}}", items=["a", "b"]) == "b|2|"


def test_if_else() -> None:
    source = "{{#if vip}}Dear VIP{{else}}Hello{{/if}}"
    assert text(source, vip=True) == "Dear VIP"
    assert text(source, vip=False) == "Hello"
    assert text(source) == "Hello"


def test_unless_with_else_which_pybars_alone_ignores() -> None:
    source = "{{#unless paid}}Please pay{{else}}Thank you{{/unless}}"
    assert text(source, paid=False) == "Please pay"
    assert text(source, paid=True) == "Thank you"
    assert text("{{#unless paid}}Please pay{{/unless}}", paid=True) == ""


def test_each_over_arrays_and_objects_with_else() -> None:
    source = "{{#each items}}{{@index}}:{{this}}{{#if @last}}.{{else}},{{/if}}{{else}}none{{/each}}"
    assert text(source, items=["a", "b"]) == "0:a,1:b."
    assert text(source, items=[]) == "none"
    assert text("{{#each o}}{{@key}}={{this}};{{/each}}", o={"x": 1, "y": 2}) == "x=1;y=2;"
    rows = [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}]
    assert text("{{#each rows}}{{sku}}x{{qty}} {{../currency}};{{/each}}", rows=rows, currency="EUR") == (
        "A1x2 EUR;B2x1 EUR;"
    )


def test_with_and_parent_paths() -> None:
    source = "{{#with order}}#{{id}} for {{../name}}{{else}}no order{{/with}}"
    assert text(source, order={"id": 7}, name="Cy") == "#7 for Cy"
    assert text(source, name="Cy") == "no order"


def test_comments_render_nothing() -> None:
    assert text("a{{! note }}b{{!-- {{not a tag}} --}}c") == "abc"


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("Hello {{#if x}}open", 1, 7),  # pybars alone compiles this silently
        ("line one\n  {{#each xs}}{{this}}", 2, 3),
        ("{{#if x}}a{{/each}}", 1, 11),
        ("{{/if}}", 1, 1),
        ("{{else}}", 1, 1),
        ("text {{ name", 1, 6),
        ("{{> partial}}", 1, 1),
        ("{{#loop xs}}{{/loop}}", 1, 1),
        ("{{lookup . 'x'}}", 1, 1),
        ("{{ a\" + __import__('os').system('id') + \" }}", 1, 1),
        ("{{}}", 1, 1),
        ("{{{raw}}", 1, 1),
        ("{{#if a}}{{else}}{{else}}{{/if}}", 1, 18),
    ],
)
def test_malformed_templates_are_refused_with_where(source: str, line: int, column: int) -> None:
    with pytest.raises(TemplateSyntaxError) as failure:
        html(source)
    assert (failure.value.line, failure.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(failure.value)


def test_data_cannot_reach_python_attributes() -> None:
    """pybars falls back to getattr (and calls what it finds); the engine reads JSON keys only."""
    assert text("{{s.upper}}|{{d.keys}}|{{n.real}}", s="abc", d={}, n=5) == "||"
    with pytest.raises(TemplateSyntaxError):
        text("{{x.__class__}}")  # not a variable name at all
    with pytest.raises(TemplateSyntaxError):
        text("{{log}}")  # a pybars helper, not data


def test_arrays_and_objects_print_as_handlebars_does() -> None:
    assert text("{{xs}} {{o}}", xs=[1, 2], o={"a": 1}) == "1,2 [object Object]"


def test_nested_loops_that_expand_without_bound_stop() -> None:
    loops = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{#each ../../../a}}"
    source = loops + "x" + "{{/each}}" * 4
    with pytest.raises(TooLarge):
        render(source, {"a": list(range(1000))}, BUDGET)


def test_a_value_repeated_past_the_budget_stops() -> None:
    with pytest.raises(TooLarge):
        render("{{v}}" * 100, {"v": "y" * 20_000}, BUDGET)


def test_blocks_nest_at_most_twenty_deep() -> None:
    assert text("{{#if a}}" * 20 + "ok" + "{{/if}}" * 20, a=1) == "ok"
    with pytest.raises(TemplateSyntaxError):
        text("{{#if a}}" * 21 + "ok" + "{{/if}}" * 21, a=1)


def test_deeply_nested_data_is_refused() -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"k": deep}
    with pytest.raises(TooDeep):
        render("{{k}}", deep, BUDGET)


def test_a_large_template_with_a_loop_is_charged_for_what_the_loop_writes() -> None:
    """Each iteration costs its body's text, not the whole template's: a long page with a list renders."""
    source = "<p>" + "x" * 200_000 + "</p><ul>{{#each xs}}<li>{{this}}</li>{{/each}}</ul>"
    out = render(source, {"xs": list(range(5000))}, BUDGET)
    assert out.endswith("<li>4999</li></ul>") and len(out) < BUDGET


def test_compiled_templates_are_cached() -> None:
    from postroom.features.templates.engine import compile_template

    assert compile_template("{{a}} cached") is compile_template("{{a}} cached")
    assert compile_template("{{a}} cached", escape=False) is not compile_template("{{a}} cached")


def test_a_large_page_compiles_quickly() -> None:
    """pybars' parser takes ~10 µs a byte of text; the engine hands it only the tags."""
    import time

    source = "<p>" + "words and more words " * 25_000 + "{{ name }}</p>"  # ~500 KB
    started = time.monotonic()
    assert html(source, name="Ann").endswith("Ann</p>")
    assert time.monotonic() - started < 5


def test_too_many_tags_are_refused() -> None:
    assert text("{{a}}" * 1000, a="x") == "x" * 1000
    with pytest.raises(TemplateSyntaxError) as failure:
        text("{{a}}" * 1001)
    assert "More than 1000 tags" in str(failure.value)


def test_loops_that_write_nothing_still_stop() -> None:
    source = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{/each}}{{/each}}{{/each}}"
    with pytest.raises(TooLarge):
        render(source, {"a": list(range(1000))}, BUDGET)
