"""Split several emails' fields into shared literal text and per-email slots.

SendGrid's substitutions and Mailgun's recipient variables both let one request carry one body
with per-recipient values in marked places. distro's bodies differ per recipient in only a few
places (greeting, outlet, local embargo time, signed links), so ``plan_groups`` finds those
places; every email is rebuilt from the split and compared with the original before it is used.
"""

from __future__ import annotations

import difflib
import itertools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Bytes counted per slot for the key that marks it.
KEY_BYTES = 16


@dataclass(frozen=True, slots=True)
class SharedTemplate:
    """One field of several emails: literal text around slots that hold each email's own part.

    Email ``m``'s field is ``literals[0] + values[m][0] + literals[1] + ... + literals[-1]``.
    """

    literals: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]

    @property
    def slots(self) -> int:
        return len(self.literals) - 1

    def render(self, keys: Sequence[str]) -> str:
        """The literal text with ``keys`` (one per slot) in the slots."""
        parts = [self.literals[0]]
        for key, literal in zip(keys, self.literals[1:], strict=True):
            parts += (key, literal)
        return "".join(parts)

    def rebuild(self, member: int) -> str:
        return self.render(self.values[member])


@dataclass(frozen=True, slots=True)
class TemplateGroup:
    """Emails (indices into the planned list) that can share one request, and their fields."""

    members: tuple[int, ...]
    templates: tuple[SharedTemplate, ...]


# Diff units end at each newline or ">", so even HTML on one line splits at every tag.
_UNIT_END = re.compile(r"(?<=[\n>])")
# Changed units an equal-length text may have before a real diff looks for a better alignment.
_FAST_PATH_CHANGES = 32
# Long texts less alike than this (difflib's ratio, 0..1) are not diffed at all.
_MIN_RATIO = 0.5
_CHEAP_DIFF = 10_000  # units x units
# Templates worked out per batch; whatever is left after that goes one email per request.
MAX_TEMPLATE_GROUPS = 4
# Rounds of dropping members that do not fit before settling for the reference alone.
_MAX_ROUNDS = 8

_Op = tuple[str, int, int, int, int]


def plan_groups(
    fields: Sequence[Sequence[str]],
    *,
    max_bytes: int,
    max_slots: int,
    key_bytes: int = KEY_BYTES,
) -> list[TemplateGroup]:
    """Split emails (each a tuple of field texts, same arity) into groups sharing templates.

    Within a group every email's values use at most ``max_slots`` slots and ``max_bytes`` bytes
    (values, plus ``key_bytes`` per slot), and every email's fields are rebuilt exactly from the
    templates. Groups keep the emails' order; together they cover every email once.
    """
    pending = list(range(len(fields)))
    groups: list[TemplateGroup] = []
    while pending:
        if len(groups) < MAX_TEMPLATE_GROUPS:
            group = _largest_group(fields, pending, max_bytes, max_slots, key_bytes)
        else:
            group = _single(fields, pending[0])
        groups.append(group)
        taken = set(group.members)
        pending = [i for i in pending if i not in taken]
    return groups


def _single(fields: Sequence[Sequence[str]], index: int) -> TemplateGroup:
    return TemplateGroup((index,), tuple(SharedTemplate((text,), ((),)) for text in fields[index]))


def _largest_group(
    fields: Sequence[Sequence[str]],
    candidates: Sequence[int],
    max_bytes: int,
    max_slots: int,
    key_bytes: int,
) -> TemplateGroup:
    """The first candidate with as many of the others as fit one template."""
    reference = candidates[0]
    arity = len(fields[reference])
    # Edit scripts against the reference, per field and candidate (units are not kept: memory).
    ops: list[dict[int, list[_Op]]] = [{} for _ in range(arity)]
    own_bytes = dict.fromkeys(candidates, 0)
    own_regions = dict.fromkeys(candidates, 0)
    hopeless: set[int] = set()
    for f in range(arity):
        ref_units = _units(fields[reference][f])
        matcher: difflib.SequenceMatcher[str] = difflib.SequenceMatcher()
        matcher.set_seq2(ref_units)
        for i in candidates:
            units = _units(fields[i][f])
            script = _opcodes(units, ref_units, matcher)
            if script is None:
                hopeless.add(i)
                continue
            ops[f][i] = script
            for tag, i1, i2, _, _ in script:
                if tag != "equal":
                    own_regions[i] += 1
                    own_bytes[i] += sum(len(unit) for unit in units[i1:i2])
    # What differs from the reference alone already too much will not fit with the others.
    members = [reference] + [
        i
        for i in candidates[1:]
        if i not in hopeless and own_bytes[i] <= max_bytes * 2 and own_regions[i] <= max_slots
    ]
    for _ in range(_MAX_ROUNDS):
        if len(members) == 1:
            break
        templates = [
            _template([fields[m][f] for m in members], [ops[f][m] for m in members])
            for f in range(arity)
        ]
        slots = sum(t.slots for t in templates)
        if slots > max_slots:
            members = members[: len(members) // 2]
            continue
        unfit = set()
        for position, member in enumerate(members):
            size = slots * key_bytes + sum(
                len(v.encode()) for t in templates for v in t.values[position]
            )
            exact = all(t.rebuild(position) == fields[member][f] for f, t in enumerate(templates))
            if size > max_bytes or not exact:
                unfit.add(member)
        if not unfit:
            return TemplateGroup(tuple(members), tuple(templates))
        if reference in unfit:
            members = members[: len(members) // 2]
        else:
            members = [m for m in members if m not in unfit]
    return _single(fields, reference)


def _units(text: str) -> list[str]:
    """``text`` cut after each newline and ">" (str methods: a regex split is 10x slower)."""
    if "\0" in text:
        return [unit for unit in _UNIT_END.split(text) if unit]
    return [unit for unit in text.replace(">", ">\0").replace("\n", "\n\0").split("\0") if unit]


def _opcodes(
    units: list[str], ref_units: list[str], matcher: difflib.SequenceMatcher[str]
) -> list[_Op] | None:
    """How ``units`` differ from the reference: (tag, i1, i2, j1, j2), i in units, j in ref.

    None when the texts are too different to be worth a diff.
    """
    if len(units) == len(ref_units):
        # Texts from one template mostly differ inside lines: compare position by position.
        changed = list(itertools.compress(itertools.count(), map(operator.ne, units, ref_units)))
        if len(changed) <= _FAST_PATH_CHANGES:
            return _aligned(changed, len(units))
    matcher.set_seq1(units)
    # A diff's cost grows with the texts and their difference: long, unalike pairs are skipped.
    if len(units) * len(ref_units) > _CHEAP_DIFF and (
        matcher.real_quick_ratio() < _MIN_RATIO or matcher.quick_ratio() < _MIN_RATIO
    ):
        return None
    return [(tag, i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes()]


def _aligned(changed: list[int], length: int) -> list[_Op]:
    ops: list[_Op] = []
    position = k = 0
    while k < len(changed):
        start = end = changed[k]
        while k < len(changed) and changed[k] == end:
            end, k = end + 1, k + 1
        if start > position:
            ops.append(("equal", position, start, position, start))
        ops.append(("replace", start, end, start, end))
        position = end
    if position < length:
        ops.append(("equal", position, length, position, length))
    return ops


def _template(texts: Sequence[str], ops: Sequence[list[_Op]]) -> SharedTemplate:
    """Literals from the first text (the reference) around every region any text changes."""
    regions = sorted((j1, j2) for script in ops for tag, _, _, j1, j2 in script if tag != "equal")
    slots: list[list[int]] = []
    for start, end in regions:
        if slots and start <= slots[-1][1]:  # overlapping or touching: one slot
            slots[-1][1] = max(slots[-1][1], end)
        else:
            slots.append([start, end])
    ref_units = _units(texts[0])
    literals, previous = [], 0
    for start, end in slots:
        literals.append("".join(ref_units[previous:start]))
        previous = end
    literals.append("".join(ref_units[previous:]))
    values: list[list[str]] = []
    for text, script in zip(texts, ops, strict=True):
        units = _units(text)
        values.append(
            ["".join(units[_edges(script, s)[0] : _edges(script, e)[1]]) for s, e in slots]
        )
    return _tighten(literals, values)


def _edges(script: list[_Op], position: int) -> tuple[int, int]:
    """The first and last place in a text that reference unit boundary ``position`` maps to."""
    places = []
    for tag, i1, i2, j1, j2 in script:
        if j1 > position:
            break
        if tag == "equal" and position <= j2:
            places.append(i1 + position - j1)
        elif tag != "equal":
            places += [i1] * (position == j1) + [i2] * (position == j2)
    return (min(places), max(places)) if places else (0, 0)


def _tighten(literals: list[str], values: list[list[str]]) -> SharedTemplate:
    """Move what all values of a slot share at either end into the literals; drop empty slots."""
    kept_literals = [literals[0]]
    kept: list[int] = []
    columns = [list(column) for column in zip(*values, strict=True)] if values else []
    for slot, column in enumerate(columns):
        prefix = _common_prefix(column)
        rest = [value[len(prefix) :] for value in column]
        suffix = _common_prefix([value[::-1] for value in rest])[::-1]
        trimmed = [value[: len(value) - len(suffix)] for value in rest]
        columns[slot] = trimmed
        if all(value == trimmed[0] for value in trimmed):
            # Every email has the same here (nothing, after trimming): plain literal text.
            kept_literals[-1] += prefix + trimmed[0] + suffix + literals[slot + 1]
        else:
            kept_literals[-1] += prefix
            kept_literals.append(suffix + literals[slot + 1])
            kept.append(slot)
    return SharedTemplate(
        tuple(kept_literals),
        tuple(tuple(columns[slot][m] for slot in kept) for m in range(len(values))),
    )


def _common_prefix(values: Sequence[str]) -> str:
    """The longest string every value starts with (the first and last in order bound it)."""
    first, last = min(values), max(values)
    size = 0
    for a, b in zip(first, last, strict=False):
        if a != b:
            break
        size += 1
    return first[:size]
