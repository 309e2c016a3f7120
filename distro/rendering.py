"""The one Jinja2 environment, and rendering a release once per send, cheaply per recipient.

Autoescape is on and undefined names are errors. Templates run sandboxed because staff may edit
them. A template folder from config is searched before the packaged one; ``default:NAME`` always
means the packaged original, so a custom template can extend it and override some blocks.

Speed: ``PreparedRelease`` renders each template once with *slots* (unique markers) standing in
for the per-recipient values (``contact``, ``recipient``, ``links``), and inlines the CSS once.
If the template only prints those values, each recipient is then a join of the pre-split output
with their escaped values. A template that uses a personal value in any other way (a condition,
a comparison, a filter that changes it) is detected during that first render and falls back to
a full render per recipient: slower, never wrong.

Tracking (``links``, a ``LinkRewriter``): links are rewritten to the click redirect and the open
pixel added on that first render too, with two more slots for the recipient's click and open
tokens (``TRACKING`` in their values); a full render per recipient rewrites its own output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import css_inline
import jinja2
import nh3
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

import distro
from distro.errors import TemplateError
from distro.single_line import single_line
from distro.tracking.rewrite import LinkRewriter
from distro.urls import LINK_SCHEMES

# The per-recipient namespaces a template sees; everything else is common to the send.
PERSONAL = ("contact", "recipient", "links")
# A tracked send's per-recipient tokens, {"click": ..., "open": ...}: not seen by templates,
# filled into the slots that rewriting adds.
TRACKING = "tracking"
# Free-form fields: any key may be asked for, and a missing one reads as "".
OPEN_MAPPINGS = frozenset({("contact", "custom")})

_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"  # private-use characters: never in real text
_MARK = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")


def packaged_templates() -> Path:
    """The templates shipped with distro: inside an installed wheel, or in the source checkout."""
    package = Path(distro.__file__).parent
    for candidate in (package / "_templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise TemplateError(f"distro's packaged templates are missing (looked beside {package})")


def make_environment(user_folder: Path | None = None) -> SandboxedEnvironment:
    packaged = jinja2.FileSystemLoader(packaged_templates())
    loaders: list[jinja2.BaseLoader] = []
    if user_folder is not None:
        loaders.append(jinja2.FileSystemLoader(user_folder))
    loaders.append(jinja2.PrefixLoader({"default": packaged}, delimiter=":"))
    loaders.append(packaged)
    environment = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["safe"] = _safe
    return environment


def _safe(value: Any) -> Markup:
    """Jinja's ``safe``, except that a personal value marked safe is not filled in escaped."""
    if isinstance(value, _Slot):
        value._flag("'safe'")
    return Markup(value)  # noqa: S704 (what ``safe`` is for: the template says so)


# What a release body may keep of raw HTML pasted into it: text formatting, links, lists,
# headings, quotes and simple tables. Scripts, styles, event handlers, forms, iframes and
# links of any scheme but distro's LINK_SCHEMES are removed by the sanitiser (ammonia, through
# nh3): bodies are checked on input (distro.releases.inputs), this is for older ones.
BODY_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "i", "li"}
    | {"ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr"}
    | {"u", "ul", "img", "figure", "figcaption"}
)
BODY_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": True})


def markdown_to_html(text: str) -> str:
    """Markdown to HTML; raw HTML in it is sanitised, not trusted and not shown as text."""
    return nh3.clean(
        str(_markdown().render(text)),
        tags=set(BODY_TAGS),
        attributes={tag: set(names) for tag, names in BODY_ATTRIBUTES.items()},
        url_schemes=set(LINK_SCHEMES),
        link_rel="noopener noreferrer",
    )


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


class OpenFields(dict[str, str]):
    """Custom contact fields: a field a contact does not have reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


# ---------------------------------------------------------------------------- the probe


class _Probe:
    """Hands out slots and notes every use of one that is not plain output."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, ...]] = []
        self.problems: list[str] = []

    def slot(self, path: tuple[str, ...]) -> _Slot:
        self.paths.append(path)
        return _Slot(len(self.paths) - 1, self, path)


class _Slot(str):
    """A personal value during the probe render: prints as a marker, reports any other use."""

    _probe: _Probe
    _path: tuple[str, ...]

    def __new__(cls, index: int, probe: _Probe, path: tuple[str, ...]) -> _Slot:
        made = super().__new__(cls, f"{_MARK_OPEN}{index}{_MARK_CLOSE}")
        made._probe = probe
        made._path = path
        return made

    def __html__(self) -> str:
        return str.__str__(self)

    def _flag(self, use: str) -> None:
        self._probe.problems.append(f"{'.'.join(self._path)} is used in {use}")

    def __bool__(self) -> bool:
        self._flag("a condition")
        return True

    __hash__ = str.__hash__


def _flagging(name: str) -> Callable[..., Any]:
    original = getattr(str, name)

    def flagged(self: _Slot, *args: Any, **kwargs: Any) -> Any:
        self._flag(f"'{name}'")
        return original(str.__str__(self), *args, **kwargs)

    return flagged


_PLAIN_OUTPUT = {"__str__", "__format__", "__repr__", "__new__", "__init__", "__getattribute__"}
for _name in dir(str):
    if _name not in _PLAIN_OUTPUT and (
        not _name.startswith("_")
        or _name in {"__len__", "__getitem__", "__iter__", "__contains__", "__mod__", "__mul__"}
        or _name in {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__add__"}
    ):
        setattr(_Slot, _name, _flagging(_name))


class _SlotMapping(Mapping[str, Any]):
    """A personal namespace during the probe: each key it knows (or any key, if open) is a slot."""

    def __init__(self, probe: _Probe, path: tuple[str, ...], sample: Mapping[str, Any]) -> None:
        self._probe, self._path, self._sample = probe, path, sample
        self._made: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._made:
            path = (*self._path, key)
            if key not in self._sample and self._path not in OPEN_MAPPINGS:
                raise KeyError(key)
            value = self._sample.get(key)
            if isinstance(value, Mapping):
                self._made[key] = _SlotMapping(self._probe, path, value)
            else:
                self._made[key] = self._probe.slot(path)
        return self._made[key]

    def __iter__(self) -> Iterator[str]:
        self._probe.problems.append(f"{'.'.join(self._path)} is iterated")
        return iter(self._sample)

    def __len__(self) -> int:
        return len(self._sample)


def _lookup(values: Mapping[str, Any], path: tuple[str, ...]) -> str:
    node: Any = values
    for key in path:
        # dict is checked before the Mapping ABC, whose check is slow: this runs per slot
        # of every recipient.
        if isinstance(node, dict | Mapping):
            node = node.get(key, "")
        else:
            return ""
    return "" if node is None else str(node)


RAW, IN_TEXT, IN_ATTRIBUTE = 0, 1, 2  # how a slot's value is written out


# ------------------------------------------------------------------ prepared templates


Slot = tuple[tuple[str, ...], int]  # (path into the recipient's values, how it is written)


class _Compiled:
    """One template's output split around its slots.

    HTML output has been through the CSS inliner, which parses and re-serialises it; a value
    filled in must come out as that round trip would have made it (see ``_as_serialised``),
    so each HTML slot knows whether it sits in text or in an attribute value.
    """

    def __init__(self, output: str, paths: list[tuple[str, ...]], escaped: bool) -> None:
        pieces = _MARK.split(output)
        self.literals = pieces[0::2]
        slot_paths = [paths[int(i)] for i in pieces[1::2]]
        if escaped:
            modes = [IN_ATTRIBUTE if a else IN_TEXT for a in _attribute_slots(self.literals)]
        else:
            modes = [RAW] * len(slot_paths)
        # Link tokens are URL-safe base64 and digits: nothing in them to escape.
        modes = [RAW if p[0] == TRACKING else m for p, m in zip(slot_paths, modes, strict=True)]
        self.slots: list[Slot] = list(zip(slot_paths, modes, strict=True))
        self.keys: list[int] = []  # each slot's index in the prepared release's value list
        # Literals with a gap after each but the last; a recipient's values fill the gaps.
        self._skeleton: list[str] = []
        for literal in self.literals:
            self._skeleton += [literal, ""]
        self._skeleton.pop()

    def join(self, values: Sequence[str]) -> str:
        """The output for one recipient, given the value of every slot of the release."""
        parts = self._skeleton.copy()
        parts[1::2] = [values[key] for key in self.keys]
        return "".join(parts)


def _attribute_slots(literals: list[str]) -> list[bool]:
    """For serialised HTML split around slots: whether each slot is inside an attribute value.

    The serialiser double-quotes every attribute value and escapes ``"`` in it and ``<`` in
    text, so a small scan of tags, quotes and comments is enough.
    """
    state = "text"  # text | tag | value | comment
    slots: list[bool] = []
    for literal in literals[:-1]:
        i = 0
        while i < len(literal):
            char = literal[i]
            if state == "text" and literal.startswith("<!--", i):
                state, i = "comment", i + 4
                continue
            if state == "comment" and literal.startswith("-->", i):
                state, i = "text", i + 3
                continue
            if state == "text" and char == "<":
                state = "tag"
            elif state == "tag" and char == '"':
                state = "value"
            elif state == "tag" and char == ">":
                state = "text"
            elif state == "value" and char == '"':
                state = "tag"
            i += 1
        slots.append(state in ("tag", "value"))
    return slots


_NEEDS_SERIALISING = re.compile('[\r\0&\u00a0<>"]')


def _as_serialised(value: str, attribute: bool) -> str:
    """``value`` as it reads after Jinja's escaping, HTML parsing and re-serialisation.

    Parsing turns CR and CRLF into LF and drops NUL in text (U+FFFD in attributes); the
    serialiser escapes & and no-break space everywhere, ``"`` in attributes, < and > in text.
    """
    if not _NEEDS_SERIALISING.search(value):
        return value  # the common case: nothing to change
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\0", "\ufffd" if attribute else "")
    value = value.replace("&", "&amp;").replace("\u00a0", "&nbsp;")
    if attribute:
        return value.replace('"', "&quot;")
    return value.replace("<", "&lt;").replace(">", "&gt;")


class PreparedRelease:
    """A send's templates, rendered once; ``personalise`` makes each recipient's copy."""

    def __init__(
        self,
        environment: jinja2.Environment,
        template: str,
        common: Mapping[str, Any],
        sample: Mapping[str, Any],
        *,
        links: LinkRewriter | None = None,
    ) -> None:
        self.name = template
        self.common = dict(common)
        self.links = links
        self.templates = {
            part: _load(environment, f"email/{template}.{suffix}")
            for part, suffix in (("subject", "subject.txt"), ("html", "html"), ("text", "txt"))
        }
        self._inliner = email_inliner()
        self.compiled = self._probe(sample)
        self.problems: list[str] = [] if self.compiled else self._last_problems
        self._slots = self._index_slots(self.compiled) if self.compiled else []

    @property
    def fast(self) -> bool:
        """Whether recipients are filled in (True) or rendered in full (False)."""
        return self.compiled is not None

    def _probe(self, sample: Mapping[str, Any]) -> dict[str, _Compiled] | None:
        probe = _Probe()
        context = {**self.common}
        for name in PERSONAL:
            context[name] = _SlotMapping(probe, (name,), sample.get(name, {}))
        outputs = {part: _render(template, context) for part, template in self.templates.items()}
        self._last_problems = probe.problems
        if probe.problems:
            return None
        html = self._inliner.inline(outputs["html"])
        if sorted(_MARK.findall(html)) != sorted(_MARK.findall(outputs["html"])):
            self._last_problems = ["CSS inlining changed the personal parts"]
            return None
        outputs["html"] = html
        if self.links is not None:
            self._track(outputs, probe)
        return {
            part: _Compiled(output, probe.paths, escaped=part == "html")
            for part, output in outputs.items()
        }

    def _track(self, outputs: dict[str, str], probe: _Probe) -> None:
        """Rewrite the links of the probe's output once, the tokens being slots."""
        assert self.links is not None
        marker = {}
        for key in ("click", "open"):
            probe.paths.append((TRACKING, key))
            marker[key] = f"{_MARK_OPEN}{len(probe.paths) - 1}{_MARK_CLOSE}"
        html = self.links.html(outputs["html"], marker["click"])
        outputs["html"] = self.links.with_pixel(html, marker["open"])
        outputs["text"] = self.links.text(outputs["text"], marker["click"])

    def _index_slots(self, compiled: dict[str, _Compiled]) -> list[Slot]:
        """Number the distinct slots of all parts, so each value is computed once."""
        slots: dict[Slot, int] = {}
        for part in compiled.values():
            part.keys = [slots.setdefault(slot, len(slots)) for slot in part.slots]
        return list(slots)

    def _slot_values(self, recipient: Mapping[str, Any]) -> list[str]:
        raw: dict[tuple[str, ...], str] = {}
        values: list[str] = []
        for path, mode in self._slots:
            value = raw.get(path)
            if value is None:
                value = raw[path] = _lookup(recipient, path)
            values.append(value if mode == RAW else _as_serialised(value, mode == IN_ATTRIBUTE))
        return values

    def personalise(self, recipient: Mapping[str, Any]) -> RenderedEmail:
        if self.links is not None and TRACKING not in recipient:
            raise ValueError(f"a tracked send needs the recipient's {TRACKING!r} tokens")
        if self.compiled is not None:
            values = self._slot_values(recipient)
            subject = self.compiled["subject"].join(values)
            html = self.compiled["html"].join(values)
            text = self.compiled["text"].join(values)
        else:
            context = {**self.common, **{k: v for k, v in recipient.items() if k != TRACKING}}
            subject = _render(self.templates["subject"], context)
            html = self._inliner.inline(_render(self.templates["html"], context))
            text = _render(self.templates["text"], context)
            if self.links is not None:
                tokens: Mapping[str, str] = recipient[TRACKING]
                html = self.links.with_pixel(self.links.html(html, tokens["click"]), tokens["open"])
                text = self.links.text(text, tokens["click"])
        # A subject is one line however the template or the data broke it.
        return RenderedEmail(subject=" ".join(single_line(subject).split()), html=html, text=text)


def email_inliner() -> css_inline.CSSInliner:
    """The CSS inliner for emails: every rule goes into the elements' ``style`` attributes
    (many clients drop ``<style>``), except @media and other at-rules, which cannot be
    inlined and stay in a ``<style>`` block for the clients that read it (a phone's layout).
    Nothing is fetched."""
    return css_inline.CSSInliner(
        keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False
    )


def _load(environment: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return environment.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {exc.filename or exc.name} line {exc.lineno}: {exc.message}"
        ) from None


def _render(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        name, line = _error_place(exc, template)
        raise TemplateError(
            f"template {name}" + (f" line {line}" if line else "") + f": {exc}"
        ) from None


def _error_place(exc: BaseException, template: jinja2.Template) -> tuple[str, int | None]:
    """Which template (an include or parent, maybe) and line an error was raised at.

    Jinja rewrites tracebacks so that frames of template code carry the template's file name
    and line; the innermost such frame is where the mistake is.
    """
    name, line = str(template.name), None
    trace = exc.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if "__jinja_exception__" in frame.f_globals:
            name, line = _shown_name(frame.f_code.co_filename, name), trace.tb_lineno
        trace = trace.tb_next
    return name, line


def _shown_name(filename: str, fallback: str) -> str:
    path = Path(filename)
    if not path.is_absolute():
        return fallback
    for root in (packaged_templates(),):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)
