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

Bounds: a part holds at most MAX_TAGS tags and its blocks nest at most MAX_DEPTH deep (pybars'
parser is slow: about 0.6 ms a tag, so compiling is bounded too, and the service compiles in a worker
thread); `template_data` nests at most MAX_DATA_DEPTH deep; a render stops with TooLarge as soon as
its output (text and values, as written) passes the budget it was given (the message size limit) or
its loops pass MAX_ITERATIONS, so nothing expands without bound.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pybars  # type: ignore[import-untyped]
import pybars._compiler as _pybars  # type: ignore[import-untyped]

MAX_DEPTH = 20  # blocks inside blocks
MAX_DATA_DEPTH = 32  # objects and arrays inside each other in template_data
MAX_TAGS = 1000  # tags in one template part: pybars compiles about 1,500 a second
MAX_ITERATIONS = 200_000  # loop iterations in one render
CACHE_ENTRIES = 1024  # compiled templates kept
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
    for count, tag in enumerate(_TAG.finditer(source)):
        start = tag.start()
        if count >= MAX_TAGS:
            raise TemplateSyntaxError(f"More than {MAX_TAGS} tags", *_position(source, start))
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


def _emit(nodes: list[Any], escape: bool, texts: list[str]) -> str:
    """Canonical pybars source of a tree; `#unless … else …` becomes `#if` with the branches swapped.

    Text becomes `{{{__tN}}}`, a helper answering `texts[N]`: pybars' parser takes about 10 µs per
    byte of text but sees only the tags this way (users' names cannot hold `__`). Without `escape`
    (the text part, the subject) every `{{ var }}` is written raw."""
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(f"{{{{{{__t{len(texts)}}}}}}}")
            texts.append(node)
        elif isinstance(node, tuple):
            kind, path = node
            out.append(f"{{{{{path}}}}}" if kind == "var" and escape else f"{{{{{{{path}}}}}}}")
        else:
            name, body, alternative = node.name, node.body, node.alternative
            if name == "unless" and alternative is not None:
                name, body, alternative = "if", alternative, body
            out.append(f"{{{{#{name} {node.path}}}}}{_emit(body, escape, texts)}")
            if alternative is not None:
                out.append(f"{{{{else}}}}{_emit(alternative, escape, texts)}")
            out.append(f"{{{{/{name}}}}}")
    return "".join(out)


# --- pybars hardened: no attribute fallback, a budget on output ----------------------------------

# [characters left, loop iterations left] of the render running in this context
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


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


def _spend(amount: int, which: int = 0) -> None:
    budget = _budget.get(None)
    if budget is not None:
        budget[which] -= amount
        if budget[which] < 0:
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


def _each(this: Any, options: Any, context: Any) -> Any:
    """pybars' `#each`, counting its iterations against MAX_ITERATIONS (a loop may write nothing)."""
    if isinstance(context, (list, Mapping)):
        _spend(len(context), 1)
    return _original_each(this, options, context)


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
_pybars._pybars_["helpers"]["each"] = _each
_compiler = pybars.Compiler()


@dataclass(frozen=True)
class Template:
    """A compiled template: call `render` with the data and the output budget in characters."""

    source: str
    _render: Callable[..., Any]
    helpers: dict[str, Callable[..., Any]]  # its text, one `__tN` helper per run

    def render(self, data: Mapping[str, Any], budget: int) -> str:
        token = _budget.set([budget, MAX_ITERATIONS])
        try:
            return str(self._render(data, helpers=self.helpers))
        except RecursionError:
            raise TooLarge() from None
        finally:
            _budget.reset(token)


def _text(value: str) -> Callable[[Any], str]:
    return lambda this: value


_compiled: dict[tuple[str, bool], Template] = {}


def cached(source: str, escape: bool = True) -> Template | None:
    """The compiled template if it is in the cache (compiling may take a second: callers that must
    not block their event loop compile in a thread when this is None)."""
    return _compiled.get((source, escape))


def compile_template(source: str, escape: bool = True) -> Template:
    """The compiled template of `source` (cached by its text), HTML-escaping `{{ var }}` when `escape`;
    TemplateSyntaxError where it fails."""
    found = _compiled.get((source, escape))
    if found is not None:
        return found
    tree = parse(source)
    texts: list[str] = []
    canonical = _emit(tree, escape, texts)
    helpers = {f"__t{n}": _text(text) for n, text in enumerate(texts)}
    try:
        template = Template(source, _compiler.compile(canonical), helpers)
    except Exception as exc:  # pybars refusing what our tokenizer let through
        raise TemplateSyntaxError(f"The template does not compile ({exc})", 1, 1) from None
    if len(_compiled) >= CACHE_ENTRIES:
        _compiled.pop(next(iter(_compiled)))  # the oldest
    _compiled[(source, escape)] = template
    return template


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
