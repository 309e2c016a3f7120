"""Pydantic's validation errors of the settings as one line: each key, the reason, the source.

The value that was refused is quoted to help find it, except for keys that hold secrets (tokens,
passwords, keys): an error message may end up in a terminal log or a bug report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

#: A key whose last part contains one of these holds a secret (or might): its value is not shown.
SECRET_WORDS = ("secret", "password", "token", "key")


def describe_errors(
    exc: pydantic.ValidationError,
    source: str,
    env_keys: Mapping[str, str],
    provider_types: Sequence[str],
) -> str:
    """``exc`` as "invalid configuration: KEY: REASON (in SOURCE); ..."; ``env_keys`` maps the
    dotted keys set from the environment to their variable's name."""
    problems = []
    for error in exc.errors():
        parts = [str(p) for p in error["loc"]]
        # A provider table's errors carry the union tag as a path element: drop it.
        if len(parts) >= 3 and parts[0] == "providers" and parts[2] in provider_types:
            del parts[2]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts.append("type")
        if not parts and "key" in error.get("ctx", {}):
            parts = [str(error["ctx"]["key"])]
        key = ".".join(parts) or "(top level)"
        # A variable names this key, or a key inside it (DISTRO_A__B__C makes a.b a table).
        origin = env_keys.get(key) or next(
            (name for dotted, name in env_keys.items() if dotted.startswith(key + ".")), source
        )
        reason = _reason(error, provider_types, show_input=not _holds_secret(parts))
        problems.append(f"{key}: {reason} (in {origin})")
    return "invalid configuration: " + "; ".join(problems)


def _holds_secret(parts: Sequence[str]) -> bool:
    return bool(parts) and any(word in parts[-1].lower() for word in SECRET_WORDS)


def _reason(error: Any, provider_types: Sequence[str], *, show_input: bool) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"type must be one of {', '.join(provider_types)}"
    if kind == "union_tag_not_found":
        return f"a provider table needs type = one of {', '.join(provider_types)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if show_input and "input" in error and not isinstance(error["input"], dict):
        return f"{message}, got {error['input']!r}"
    return str(message)
