"""Slots: stand-ins for a recipient's values while a send's templates are rendered once.

During that first render (the *probe*) every personal value (``contact``, ``recipient``,
``links``) is a slot: a string that prints as a unique marker and notes any other use of it
(a condition, a comparison, a filter that changes it). No noted use: the output can be split
around the markers and each recipient filled in (``distro.rendering.prepared``). Any noted use:
the template depends on the value itself, and each recipient is rendered in full.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from markupsafe import Markup

# The per-recipient namespaces a template sees; everything else is common to the send.
PERSONAL = ("contact", "recipient", "links")
# A tracked send's per-recipient tokens, {"click": ..., "open": ...}: not seen by templates,
# filled into the slots that rewriting adds.
TRACKING = "tracking"
# Free-form fields: any key may be asked for, and a missing one reads as "".
OPEN_MAPPINGS = frozenset({("contact", "custom")})

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private-use characters: never in real text
MARK = re.compile(f"{MARK_OPEN}(\\d+){MARK_CLOSE}")


def marker(index: int) -> str:
    """What slot number ``index`` prints as."""
    return f"{MARK_OPEN}{index}{MARK_CLOSE}"


class OpenFields(dict[str, str]):
    """Custom contact fields: a field a contact does not have reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


class Probe:
    """Hands out slots and notes every use of one that is not plain output."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, ...]] = []
        self.problems: list[str] = []

    def slot(self, path: tuple[str, ...]) -> ProbeSlot:
        self.paths.append(path)
        return ProbeSlot(len(self.paths) - 1, self, path)


class ProbeSlot(str):
    """A personal value during the probe render: prints as a marker, reports any other use."""

    _probe: Probe
    _path: tuple[str, ...]

    def __new__(cls, index: int, probe: Probe, path: tuple[str, ...]) -> ProbeSlot:
        made = super().__new__(cls, marker(index))
        made._probe = probe
        made._path = path
        return made

    def __html__(self) -> str:
        return str.__str__(self)

    def flag(self, use: str) -> None:
        self._probe.problems.append(f"{'.'.join(self._path)} is used in {use}")

    def __bool__(self) -> bool:
        self.flag("a condition")
        return True

    __hash__ = str.__hash__


def _flagging(name: str) -> Callable[..., Any]:
    original = getattr(str, name)

    def flagged(self: ProbeSlot, *args: Any, **kwargs: Any) -> Any:
        self.flag(f"'{name}'")
        return original(str.__str__(self), *args, **kwargs)

    return flagged


# Every str method but plain output reports its use. This runs once, when the module is first
# imported, and only defines methods: no I/O, nothing that depends on configuration.
_PLAIN_OUTPUT = {"__str__", "__format__", "__repr__", "__new__", "__init__", "__getattribute__"}
for _name in dir(str):
    if _name not in _PLAIN_OUTPUT and (
        not _name.startswith("_")
        or _name in {"__len__", "__getitem__", "__iter__", "__contains__", "__mod__", "__mul__"}
        or _name in {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__add__"}
    ):
        setattr(ProbeSlot, _name, _flagging(_name))


class ProbeMapping(Mapping[str, Any]):
    """A personal namespace during the probe: each key it knows (or any key, if open) is a slot."""

    def __init__(self, probe: Probe, path: tuple[str, ...], sample: Mapping[str, Any]) -> None:
        self._probe, self._path, self._sample = probe, path, sample
        self._made: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._made:
            path = (*self._path, key)
            if key not in self._sample and self._path not in OPEN_MAPPINGS:
                raise KeyError(key)
            value = self._sample.get(key)
            if isinstance(value, Mapping):
                self._made[key] = ProbeMapping(self._probe, path, value)
            else:
                self._made[key] = self._probe.slot(path)
        return self._made[key]

    def __iter__(self) -> Iterator[str]:
        self._probe.problems.append(f"{'.'.join(self._path)} is iterated")
        return iter(self._sample)

    def __len__(self) -> int:
        return len(self._sample)


def safe_filter(value: Any) -> Markup:
    """Jinja's ``safe``, except that a personal value marked safe is not filled in escaped."""
    if isinstance(value, ProbeSlot):
        value.flag("'safe'")
    return Markup(value)  # noqa: S704 (what ``safe`` is for: the template says so)
