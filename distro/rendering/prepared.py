"""Rendering a release once per send, cheaply per recipient.

Speed: ``PreparedRelease`` renders each template once with *slots* (unique markers, see
``distro.rendering.slots``) standing in for the per-recipient values (``contact``,
``recipient``, ``links``), and inlines the CSS once. If the template only prints those values,
each recipient is then a join of the pre-split output with their escaped values. A template that
uses a personal value in any other way (a condition, a comparison, a filter that changes it) is
detected during that first render and falls back to a full render per recipient: slower, never
wrong.

Tracking (``links``, a ``LinkRewriter``): links are rewritten to the click redirect and the open
pixel added on that first render too, with two more slots for the recipient's click and open
tokens (``TRACKING`` in their values); a full render per recipient rewrites its own output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import css_inline
import jinja2

from distro.rendering.environment import load_template, render_template
from distro.rendering.slots import MARK, PERSONAL, TRACKING, Probe, ProbeMapping, marker
from distro.single_line import single_line
from distro.tracking.rewrite import LinkRewriter


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


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
Slot = tuple[tuple[str, ...], int]  # (path into the recipient's values, how it is written)


class _Compiled:
    """One template's output split around its slots.

    HTML output has been through the CSS inliner, which parses and re-serialises it; a value
    filled in must come out as that round trip would have made it (see ``_as_serialised``),
    so each HTML slot knows whether it sits in text or in an attribute value.
    """

    def __init__(self, output: str, paths: list[tuple[str, ...]], escaped: bool) -> None:
        pieces = MARK.split(output)
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
            part: load_template(environment, f"email/{template}.{suffix}")
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
        probe = Probe()
        context = {**self.common}
        for name in PERSONAL:
            context[name] = ProbeMapping(probe, (name,), sample.get(name, {}))
        outputs = {
            part: render_template(template, context) for part, template in self.templates.items()
        }
        self._last_problems = probe.problems
        if probe.problems:
            return None
        html = self._inliner.inline(outputs["html"])
        if sorted(MARK.findall(html)) != sorted(MARK.findall(outputs["html"])):
            self._last_problems = ["CSS inlining changed the personal parts"]
            return None
        outputs["html"] = html
        if self.links is not None:
            self._track(outputs, probe)
        return {
            part: _Compiled(output, probe.paths, escaped=part == "html")
            for part, output in outputs.items()
        }

    def _track(self, outputs: dict[str, str], probe: Probe) -> None:
        """Rewrite the links of the probe's output once, the tokens being slots."""
        assert self.links is not None
        token = {}
        for key in ("click", "open"):
            probe.paths.append((TRACKING, key))
            token[key] = marker(len(probe.paths) - 1)
        html = self.links.html(outputs["html"], token["click"])
        outputs["html"] = self.links.with_pixel(html, token["open"])
        outputs["text"] = self.links.text(outputs["text"], token["click"])

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
            subject = render_template(self.templates["subject"], context)
            html = self._inliner.inline(render_template(self.templates["html"], context))
            text = render_template(self.templates["text"], context)
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
