"""The segment language's tokens: the tokenizer, string literals, and the one error type.

Every mistake, from the first bad character to a limit crossed, is a :class:`SegmentError`
naming the 1-based column it was found at, so the CLI can put a caret under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from distro.errors import ValidationError

# Around this many characters either side of the mistake are shown under a long expression:
# a 20,000-character line with a caret somewhere in it helps nobody.
POINTER_CONTEXT = 60


class SegmentError(ValidationError):
    """A segment expression that cannot be parsed; ``column`` is 1-based."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"column {column}: {reason}")
        self.reason = reason
        self.column = column

    def pointer(self, expression: str) -> str:
        """The expression on one line and a caret under the column of the mistake."""
        line = "".join(" " if ch in "\r\n\v\f" else ch for ch in expression)
        before = line[: self.column - 1]
        if len(line) > 2 * POINTER_CONTEXT:
            start = max(0, self.column - 1 - POINTER_CONTEXT)
            end = self.column - 1 + POINTER_CONTEXT
            lead = "…" if start else ""
            before = lead + line[start : self.column - 1]
            line = before + line[self.column - 1 : end] + ("…" if end < len(line) else "")
        pad = "".join("\t" if ch == "\t" else " " for ch in before)
        return f"{line}\n{pad}^"


TokenKind: TypeAlias = Literal["word", "string", "number", "op", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # as typed (the decoded value for strings)
    column: int  # 1-based

    def describe(self) -> str:
        if self.kind == "end":
            return "end of input"
        if self.kind == "string":
            return f"the value {quote(self.text)}"
        if self.kind == "number":
            return f"the number {self.text}"
        return f"'{self.text}'"

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def is_op(self, op: str) -> bool:
        return self.kind == "op" and self.text == op


_SIMPLE_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_HEX = set("0123456789abcdefABCDEF")


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            start = i
            while (
                i < n
                and expression[i].isascii()
                and (expression[i].isalnum() or expression[i] == "_")
            ):
                i += 1
            tokens.append(Token("word", expression[start:i], start + 1))
        elif ch.isascii() and ch.isdigit():
            start = i
            while i < n and expression[i].isascii() and expression[i].isalnum():
                i += 1
            tokens.append(Token("number", expression[start:i], start + 1))
        elif ch in "\"'":
            value, i = _string(expression, i)
            tokens.append(value)
        elif ch == "!" and expression.startswith("!=", i):
            tokens.append(Token("op", "!=", i + 1))
            i += 2
        elif ch in "=~(),.":
            tokens.append(Token("op", ch, i + 1))
            i += 1
        else:
            raise SegmentError(_bad_character(expression, i), i + 1)
    tokens.append(Token("end", "", len(expression.rstrip()) + 1))
    return tokens


def _bad_character(expression: str, i: int) -> str:
    ch = expression[i]
    hints = {
        "&": "write 'and'",
        "|": "write 'or'",
        "!": "write 'not', or '!=' for 'is not'",
        "<": "only =, !=, ~ and in compare values",
        ">": "only =, !=, ~ and in compare values",
        "[": 'lists of values go in parentheses: in ("a", "b")',
        "`": "quote values with \" or '",
    }
    shown = repr(ch) if not ch.isprintable() else f"'{ch}'"
    hint = hints.get(ch)
    return f"unexpected character {shown}" + (f" ({hint})" if hint else "")


def _string(expression: str, start: int) -> tuple[Token, int]:
    quote_char = expression[start]
    out: list[str] = []
    i, n = start + 1, len(expression)
    while i < n:
        ch = expression[i]
        if ch == quote_char:
            value = "".join(out)
            if "\x00" in value:
                raise SegmentError(
                    "a value cannot contain the NUL character (no stored text can hold it)",
                    start + 1,
                )
            return Token("string", value, start + 1), i + 1
        if ch == "\\":
            if i + 1 >= n:
                break
            escape = expression[i + 1]
            if escape in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[escape])
                i += 2
                continue
            if escape == "u":
                digits = expression[i + 2 : i + 6]
                if len(digits) == 4 and set(digits) <= _HEX:
                    out.append(chr(int(digits, 16)))
                    i += 6
                    continue
                raise SegmentError("'\\u' needs four hex digits, e.g. \\u00e9", i + 1)
            raise SegmentError(f"unknown escape '\\{escape}' (use \\\\ for a backslash)", i + 1)
        out.append(ch)
        i += 1
    raise SegmentError(f"unterminated string: no closing {quote_char} for this quote", start + 1)


def quote(value: str) -> str:
    """``value`` as a double-quoted string literal of the language."""
    out = []
    for ch in value:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else ch)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
