"""The template engine: SMTP2GO's `{{ var }}` and decisions.md's Handlebars subset, over pybars3, bounded.

Everything Postroom knows about pybars3 (pinned 0.9.7) is in this module, so the engine can be
replaced. Templates are first read by our own tokenizer, which admits only the subset decisions.md
names: `{{ path }}`, `{{{ path }}}`, `{{#if|#unless|#each|#with path}}…{{else}}…{{/…}}`, `{{this}}`,
`{{@index|@key|@first|@last}}`, `../` parent paths and `{{! comments }}`. It reports where a template
fails (line and column), including the two gaps of pybars3: a block that is never closed (pybars
compiles it silently) and `{{else}}` inside `{{#unless}}` (pybars ignores it; we rewrite the block as
`{{#if}}` with the branches swapped). Only then is the canonical source handed to pybars.

Safety: pybars compiles a template to Python source and `exec`s it, pasting names into string
literals unescaped. Our tokenizer lets through no quote, parenthesis, helper argument, partial or
helper name (a variable named `if`, `each`, `lookup`, `log`… is refused), only names of letters,
digits, `_` and `-`, so template text cannot become code. pybars also falls back to `getattr` on a
missing key (`{{name.upper}}`, `{{x.__class__}}`) and calls what it finds if callable: this module
replaces its `pick` with one that only reads JSON objects and arrays by key and index.

Bounds: blocks nest at most MAX_DEPTH deep, `template_data` at most MAX_DATA_DEPTH, and a render
stops with TooLarge as soon as its output (values written plus the template's text once per loop
iteration) passes the budget it was given (the message size limit), so nothing expands without bound.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pybars  # type: ignore[import-untyped]
import pybars._compiler as _pybars  # type: ignore[import-untyped]

MAX_DEPTH = 20  # blocks inside blocks
MAX_DATA_DEPTH = 32  # objects and arrays inside each other in template_data
BLOCKS = ("if", "unless", "each", "with")
RESERVED = frozenset({*BLOCKS, "else", "lookup", "log", "blockHelperMissing", "helperMissing"})
SPECIAL = frozenset({"@index", "@key", "@first", "@last"})

_TAG = re.compile(r"\{\{(\{)?(.*?)\}\}(\})?", re.DOTALL)
_COMMENT = re.compile(r"\{\{!--.*?--\}\}|\{\{![^}]*\}\}", re.DOTALL)
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*\Z")


class TemplateSyntaxError(Exception):
    """A template outside the subset, or malformed: `where` is `line L, column C`."""

    def __init__(self, reason: str, line: int, column: int) -> None:
        super().__init__(f"{reason} at line {line}, column {column}")
        self.reason = reason
        self.line = line
        self.column = column


class TooLarge(Exception):
    """A render that would write more than its budget."""


class TooDeep(Exception):
    """template_data nested deeper than MAX_DATA_DEPTH."""


@dataclass
class _Block:
    name: str
    path: str
    offset: int
    body: list[Any]
    alternative: list[Any] | None = None


def _position(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


def _path(text: str, source: str, offset: int) -> str:
    """A checked variable path in canonical form (`a.b`, `../a`, `this`, `@index`)."""

    def fail(reason: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(reason, *_position(source, offset))

    if text in SPECIAL or text in ("this", "."):
        return "this" if text == "." else text
    if not text:
        raise fail("An empty tag '{{}}'")
    rest, parents = text, 0
    while rest.startswith("../"):
        rest, parents = rest[3:], parents + 1
    if rest.startswith("this.") or rest.startswith("./"):
        rest = rest[5:] if rest.startswith("this.") else rest[2:]
    segments = re.split(r"[./]", rest)
    for segment in segments:
        if not _SEGMENT.match(segment) or segment.startswith("__"):
            raise fail(f"'{text}' is not a variable name (letters, digits, '_', '-', joined by '.'; no '__')")
    if parents == 0 and segments[0] in RESERVED:
        raise fail(f"'{segments[0]}' is a reserved word, not a variable")
    return "../" * parents + ".".join(segments)


def parse(source: str) -> list[Any]:
    """The template as a tree of text, ('var'|'raw', path) and _Block; TemplateSyntaxError if malformed."""
    root: list[Any] = []
    stack: list[_Block] = []
    current = root
    position = 0
    for tag in _TAG.finditer(source):
        start = tag.start()
        text = source[position:start]
        if text:
            current.append(text)
        position = tag.end()
        if _COMMENT.match(source, start):
            comment = _COMMENT.match(source, start)
            assert comment is not None
            position = comment.end()
            continue
        triple_open, inner, triple_close = tag.group(1), tag.group(2), tag.group(3)
        if bool(triple_open) != bool(triple_close):
            raise TemplateSyntaxError("Unbalanced '{{{' and '}}}'", *_position(source, start))
        if "{{" in inner or "}" in inner or "{" in inner:
            raise TemplateSyntaxError("A tag inside a tag", *_position(source, start))
        word = inner.strip()
        if triple_open:
            current.append(("raw", _path(word, source, start)))
        elif word.startswith("#"):
            name, _, argument = word[1:].strip().partition(" ")
            if name not in BLOCKS:
                raise TemplateSyntaxError(f"Unknown block '#{name}'", *_position(source, start))
            if len(stack) >= MAX_DEPTH:
                raise TemplateSyntaxError(f"Blocks nest deeper than {MAX_DEPTH}", *_position(source, start))
            argument = argument.strip()
            if not argument:
                raise TemplateSyntaxError(f"'#{name}' needs a variable", *_position(source, start))
            block = _Block(name, _path(argument, source, start), start, [])
            current.append(block)
            stack.append(block)
            current = block.body
        elif word == "else" or word == "^":
            if not stack:
                raise TemplateSyntaxError("'{{else}}' outside a block", *_position(source, start))
            if stack[-1].alternative is not None:
                raise TemplateSyntaxError(
                    f"A second '{{{{else}}}}' in '#{stack[-1].name}'", *_position(source, start)
                )
            stack[-1].alternative = []
            current = stack[-1].alternative
        elif word.startswith("/"):
            name = word[1:].strip()
            if not stack:
                raise TemplateSyntaxError(f"'{{{{/{name}}}}}' closes no block", *_position(source, start))
            if stack[-1].name != name:
                raise TemplateSyntaxError(
                    f"'{{{{/{name}}}}}' closes '#{stack[-1].name}'", *_position(source, start)
                )
            stack.pop()
            current = (
                (stack[-1].alternative if stack[-1].alternative is not None else stack[-1].body)
                if stack
                else root
            )
        elif word.startswith(("!", ">", "&", "^")):
            raise TemplateSyntaxError(f"'{{{{{word[:12]}}}}}' is not supported", *_position(source, start))
        else:
            current.append(("var", _path(word, source, start)))
    tail = source[position:]
    if "{{" in tail:
        raise TemplateSyntaxError(
            "A '{{' that is never closed", *_position(source, position + tail.index("{{"))
        )
    if tail:
        root.append(tail)
    if stack:
        raise TemplateSyntaxError(
            f"'#{stack[-1].name}' is never closed", *_position(source, stack[-1].offset)
        )
    return root


def _cost(nodes: list[Any]) -> int:
    """The text a run of nodes writes besides its values, once (an `#each` inside charges its own)."""
    total = 0
    for node in nodes:
        if isinstance(node, str):
            total += len(node)
        elif isinstance(node, _Block) and node.name != "each":
            total += _cost(node.body) + _cost(node.alternative or [])
    return total


def _emit(nodes: list[Any], escape: bool) -> str:
    """Canonical pybars source of a tree; `#unless … else …` becomes `#if` with the branches swapped,
    and `#each` becomes `#each_N`, the loop helper that charges N (its body's text) per iteration.

    Without `escape` (the text part, the subject) every `{{ var }}` is written raw."""
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, tuple):
            kind, path = node
            out.append(f"{{{{{path}}}}}" if kind == "var" and escape else f"{{{{{{{path}}}}}}}")
        else:
            name, body, alternative = node.name, node.body, node.alternative
            if name == "unless" and alternative is not None:
                name, body, alternative = "if", alternative, body
            if name == "each":
                name = f"each_{_cost(body) + 1}"
            out.append(f"{{{{#{name} {node.path}}}}}{_emit(body, escape)}")
            if alternative is not None:
                out.append(f"{{{{else}}}}{_emit(alternative, escape)}")
            out.append(f"{{{{/{name}}}}}")
    return "".join(out)


# --- pybars hardened: no attribute fallback, a budget on output ----------------------------------

_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")  # [left]


def _pick(context: Any, name: Any, default: Any = None) -> Any:
    """JSON lookup only: an object's key, an array's index or `length`; never an attribute."""
    if isinstance(context, Mapping):
        return context.get(name, default)
    if isinstance(context, list):
        if name == "length":
            return len(context)
        if isinstance(name, str) and name.isdigit() and int(name) < len(context):
            return context[int(name)]
    return default


def _resolve(context: Any, *segments: str) -> Any:
    """pybars' path resolution, through _pick for every step (its own indexes lists unchecked)."""
    if segments == ("",) and isinstance(context, _pybars.Scope):
        return context.get("this")
    for segment in segments:
        if context is None:
            return None
        if segment in (None, ""):
            continue
        context = context.get(segment) if isinstance(context, _pybars.Scope) else _pick(context, segment)
    return context


def _spend(amount: int) -> None:
    budget = _budget.get(None)
    if budget is not None:
        budget[0] -= amount
        if budget[0] < 0:
            raise TooLarge()


def _prepare(value: Any, should_escape: bool) -> Any:
    """pybars' value-to-text step, counted against the render's budget."""
    if isinstance(value, list):
        value = ",".join("" if v is None else str(v) for v in value)  # as Handlebars prints an array
    elif isinstance(value, Mapping):
        value = "[object Object]"
    text = _original_prepare(value, should_escape)
    _spend(len(text))
    return text


def _each_charging(cost: int) -> Callable[..., Any]:
    """pybars' `#each`, charging `cost` (the body's own text) for every iteration before it runs."""

    def each(this: Any, options: Any, context: Any) -> Any:
        if isinstance(context, (list, Mapping)):
            _spend(len(context) * cost)
        return _original_each(this, options, context)

    return each


def _with(this: Any, options: Any, context: Any) -> Any:
    """`#with` as Handlebars has it: `../` reaches the outer context, `{{else}}` when the value is empty."""
    if not context:
        return options["inverse"](this)
    return options["fn"](_pybars.Scope(context, this, options["root"]))


_original_prepare = _pybars.prepare
_original_each = _pybars._each
_pybars.pick = _pick
_pybars.resolve = _resolve
_pybars.prepare = _prepare
_pybars._pybars_["helpers"]["with"] = _with
_compiler = pybars.Compiler()


@dataclass(frozen=True)
class Template:
    """A compiled template: call `render` with the data and the output budget in characters."""

    source: str
    _render: Callable[..., Any]
    cost: int  # the text outside loops, written once
    helpers: dict[str, Callable[..., Any]]  # the template's `each_N` loops

    def render(self, data: Mapping[str, Any], budget: int) -> str:
        token = _budget.set([budget])
        try:
            _spend(self.cost)
            return str(self._render(data, helpers=self.helpers))
        except RecursionError:
            raise TooLarge() from None
        finally:
            _budget.reset(token)


@functools.lru_cache(maxsize=1024)
def compile_template(source: str, escape: bool = True) -> Template:
    """The compiled template of `source` (cached by its text), HTML-escaping `{{ var }}` when `escape`;
    TemplateSyntaxError where it fails."""
    tree = parse(source)
    canonical = _emit(tree, escape)
    loops = {int(n) for n in re.findall(r"\{\{#each_(\d+) ", canonical)}
    helpers = {f"each_{n}": _each_charging(n) for n in loops}
    try:
        return Template(source, _compiler.compile(canonical), _cost(tree), helpers)
    except Exception as exc:  # pybars refusing what our tokenizer let through
        raise TemplateSyntaxError(f"The template does not compile ({exc})", 1, 1) from None


def check_data(data: Any, depth: int = 0) -> None:
    """TooDeep when objects and arrays nest deeper than MAX_DATA_DEPTH."""
    if depth > MAX_DATA_DEPTH:
        raise TooDeep()
    if isinstance(data, Mapping):
        for value in data.values():
            check_data(value, depth + 1)
    elif isinstance(data, list):
        for value in data:
            check_data(value, depth + 1)


def render(source: str, data: Mapping[str, Any], budget: int, escape: bool = True) -> str:
    """Compile (cached) and render; TemplateSyntaxError, TooLarge or TooDeep."""
    check_data(data)
    return compile_template(source, escape).render(data, budget)
