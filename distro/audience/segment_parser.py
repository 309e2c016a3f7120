r"""The segment language: tokenizer, recursive-descent parser, AST and printer.

    beats has "immigration" and region in ("CA", "TX") and not tags has "do-not-contact"

Grammar (keywords, field and function names are case-insensitive; custom keys are not)::

    expression := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" or_expr ")" | condition
    condition  := field ("=" | "!=" | "~") STRING
                | field ["not"] "in" "(" STRING ("," STRING)* [","] ")"
                | ("beats" | "tags") "has" STRING
                | "in_list" "(" STRING ")"
                | ("opened" | "clicked" | "bounced") ["(" ["within" DURATION] ")"]
                | "received" "(" "release" "=" NUMBER ")"
    field      := COLUMN | "custom" "." (NAME | STRING)
    DURATION   := digits ("h" | "d" | "w")          e.g. 12h, 30d, 2w

Strings take double or single quotes and the escapes \\ \" \' \n \r \t \uXXXX. Every mistake
raises :class:`SegmentError` naming the 1-based column it was found at.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeAlias

from distro.errors import ValidationError
from distro.models.audience import CONTACT_TEXT_FIELDS

COLUMNS = ("email", *CONTACT_TEXT_FIELDS, "status")
MULTI_VALUED = ("beats", "tags")
ENGAGEMENTS = ("opened", "clicked", "bounced")
FUNCTIONS = ("in_list", *ENGAGEMENTS, "received")
KEYWORDS = ("and", "or", "not", "in", "has", "within", "release")
UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_DURATION = timedelta(days=36600)  # about a century: anything longer is a typo
MAX_RELEASE_ID = 2**31 - 1

CompareOp: TypeAlias = Literal["=", "!=", "~"]
Engagement: TypeAlias = Literal["opened", "clicked", "bounced"]
MultiField: TypeAlias = Literal["beats", "tags"]
Unit: TypeAlias = Literal["h", "d", "w"]


class SegmentError(ValidationError):
    """A segment expression that cannot be parsed; ``column`` is 1-based."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"column {column}: {reason}")
        self.reason = reason
        self.column = column

    def pointer(self, expression: str) -> str:
        """The expression on one line and a caret under the column of the mistake."""
        line = "".join(" " if ch in "\r\n\v\f" else ch for ch in expression)
        pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.column - 1])
        return f"{line}\n{pad}^"


# --- AST ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A contact column (``key`` None) or a key of the ``custom`` JSON column (name 'custom')."""

    name: str
    key: str | None = None


@dataclass(frozen=True)
class Compare:
    field: Field
    op: CompareOp
    value: str


@dataclass(frozen=True)
class InSet:
    field: Field
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Has:
    field: MultiField
    value: str


@dataclass(frozen=True)
class InList:
    name: str


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Unit

    @property
    def delta(self) -> timedelta:
        return self.amount * UNITS[self.unit]


@dataclass(frozen=True)
class Engaged:
    kind: Engagement
    within: Duration | None = None


@dataclass(frozen=True)
class Received:
    release_id: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node: TypeAlias = Compare | InSet | Has | InList | Engaged | Received | Not | And | Or


# --- tokenizer ----------------------------------------------------------------------------------

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


# --- parser -------------------------------------------------------------------------------------


def parse(expression: str) -> Node:
    """The AST of ``expression``; raises :class:`SegmentError` on any mistake."""
    return _Parser(tokenize(expression)).parse()


def _suggest(word: str, candidates: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def fail(self, reason: str, token: Token | None = None) -> SegmentError:
        return SegmentError(reason, (token or self.token).column)

    def expect_op(self, op: str, context: str) -> Token:
        if not self.token.is_op(op):
            raise self.fail(f"expected '{op}' {context} but found {self.token.describe()}")
        return self.advance()

    # expression := or_expr END
    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("expected a condition but found end of input")
        node = self.or_expr()
        rest = self.tokens[self.pos]
        if rest.kind != "end":
            if rest.is_op(")"):
                raise self.fail("unbalanced parentheses: this ')' has no matching '('")
            raise self.fail(f"expected 'and', 'or' or end of input but found {rest.describe()}")
        return node

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self.token.is_word("or"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.unary()]
        while self.token.is_word("and"):
            self.advance()
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Node:
        if self.token.is_word("not"):
            self.advance()
            return Not(self.unary())
        if self.token.is_op("("):
            opening = self.advance()
            node = self.or_expr()
            if not self.token.is_op(")"):
                raise self.fail(
                    f"unbalanced parentheses: expected ')' to close the '(' at column "
                    f"{opening.column} but found {self.token.describe()}"
                )
            self.advance()
            return node
        return self.condition()

    def condition(self) -> Node:
        token = self.token
        if token.kind != "word":
            raise self.fail(f"expected a condition but found {token.describe()}")
        word = token.text.lower()
        if word in KEYWORDS:
            raise self.fail(f"expected a condition but found the keyword '{token.text}'")
        if word in FUNCTIONS:
            self.advance()
            return self.function(word, token)
        if self.tokens[self.pos + 1].is_op("("):
            raise self.fail(
                f"unknown function '{token.text}'{_suggest(word, FUNCTIONS)}; "
                f"functions: {', '.join(FUNCTIONS)}"
            )
        if word in MULTI_VALUED:
            self.advance()
            return self.has(word, token)
        if word == "custom":
            self.advance()
            return self.comparison(Field("custom", self.custom_key()), token)
        if word in COLUMNS:
            self.advance()
            return self.comparison(Field(word), token)
        candidates = (*COLUMNS, *MULTI_VALUED, "custom", *FUNCTIONS)
        raise self.fail(f"unknown field '{token.text}'{_suggest(word, candidates)}")

    def custom_key(self) -> str:
        self.expect_op(".", "after 'custom' (write custom.NAME)")
        key = self.token
        if key.kind not in ("word", "string") or (key.kind == "string" and not key.text):
            raise self.fail(
                f"expected a custom field name after 'custom.' but found {key.describe()}"
            )
        self.advance()
        return key.text

    def has(self, field: str, token: Token) -> Has:
        if not self.token.is_word("has"):
            found = self.token
            hint = ""
            if (found.kind == "op" and found.text in ("=", "!=", "~")) or found.is_word(
                "in", "not"
            ):
                hint = f' ({field} holds several values: write {field} has "...")'
            raise self.fail(
                f"expected 'has' after '{token.text}' but found {found.describe()}{hint}"
            )
        self.advance()
        return Has("beats" if field == "beats" else "tags", self.value("after 'has'"))

    def comparison(self, field: Field, token: Token) -> Node:
        shown = "custom." + field.key if field.key is not None else token.text
        op = self.token
        if op.kind == "op" and op.text in ("=", "!=", "~"):
            self.advance()
            value = self.value(f"after '{op.text}'")
            return Compare(
                field, "=" if op.text == "=" else "!=" if op.text == "!=" else "~", value
            )
        if op.is_word("in"):
            self.advance()
            return InSet(field, self.value_list(), negated=False)
        if op.is_word("not"):
            self.advance()
            if not self.token.is_word("in"):
                raise self.fail(
                    f"expected 'in' after '{shown} not' but found {self.token.describe()}"
                )
            self.advance()
            return InSet(field, self.value_list(), negated=True)
        if op.is_word("has"):
            raise self.fail(
                f"'has' works on beats and tags only; compare {shown} with =, !=, ~ or in"
            )
        raise self.fail(
            f"expected an operator (=, !=, ~, in, not in) after '{shown}' but found {op.describe()}"
        )

    def value(self, context: str) -> str:
        token = self.token
        if token.kind == "string":
            self.advance()
            return token.text
        hint = f' (quote it: "{token.text}")' if token.kind in ("word", "number") else ""
        raise self.fail(f"expected a value {context} but found {token.describe()}{hint}")

    def value_list(self) -> tuple[str, ...]:
        self.expect_op("(", 'after \'in\' (write in ("a", "b"))')
        values = [self.value("in the list")]
        while self.token.is_op(","):
            self.advance()
            if self.token.is_op(")"):
                break
            values.append(self.value("after ','"))
        if not self.token.is_op(")"):
            raise self.fail(
                f"expected ',' or ')' in the list of values but found {self.token.describe()}"
            )
        self.advance()
        return tuple(values)

    def function(self, name: str, token: Token) -> Node:
        if name == "in_list":
            self.expect_op("(", "after 'in_list' (write in_list(\"name\"))")
            list_name = self.value("in in_list(...)")
            self.expect_op(")", "to close in_list(")
            return InList(list_name)
        if name == "received":
            self.expect_op("(", "after 'received' (write received(release = 12))")
            if not self.token.is_word("release"):
                raise self.fail(
                    f"expected 'release' in received(...) but found {self.token.describe()}"
                )
            self.advance()
            self.expect_op("=", "after 'release'")
            number = self.token
            if number.kind != "number" or not number.text.isdigit():
                raise self.fail(
                    f"expected a release id (a number) after '=' but found {number.describe()}"
                )
            release_id = int(number.text)
            if release_id > MAX_RELEASE_ID:
                raise self.fail(f"release id {number.text} is too large")
            self.advance()
            self.expect_op(")", "to close received(")
            return Received(release_id)
        kind: Engagement = (
            "opened" if name == "opened" else "clicked" if name == "clicked" else "bounced"
        )
        if not self.token.is_op("("):
            return Engaged(kind)
        self.advance()
        within: Duration | None = None
        if self.token.is_word("within"):
            self.advance()
            within = self.duration()
        elif not self.token.is_op(")"):
            raise self.fail(
                f"expected 'within' or ')' after '{token.text}(' but found {self.token.describe()}"
            )
        self.expect_op(")", f"to close {token.text}(")
        return Engaged(kind, within)

    def duration(self) -> Duration:
        token = self.token
        usage = "use a number followed by h, d or w, e.g. 30d"
        if token.kind != "number":
            raise self.fail(
                f"expected a duration after 'within' but found {token.describe()}; {usage}"
            )
        digits = token.text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        unit = token.text[len(digits) :].lower()
        if not digits.isdigit() or unit not in UNITS:
            raise self.fail(f"bad duration '{token.text}': {usage}")
        amount = int(digits)
        if amount == 0:
            raise self.fail(f"bad duration '{token.text}': it must be longer than zero")
        if amount > MAX_DURATION / UNITS[unit]:
            raise self.fail(f"bad duration '{token.text}': longer than a century")
        self.advance()
        return Duration(amount, "h" if unit == "h" else "d" if unit == "d" else "w")


# --- printer ------------------------------------------------------------------------------------


def unparse(node: Node) -> str:
    """Expression text that parses back to ``node`` (nested and/or are parenthesised)."""
    if isinstance(node, Compare):
        return f"{_field(node.field)} {node.op} {quote(node.value)}"
    if isinstance(node, InSet):
        values = ", ".join(quote(v) for v in node.values)
        return f"{_field(node.field)} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, Has):
        return f"{node.field} has {quote(node.value)}"
    if isinstance(node, InList):
        return f"in_list({quote(node.name)})"
    if isinstance(node, Engaged):
        if node.within is None:
            return node.kind
        return f"{node.kind}(within {node.within.amount}{node.within.unit})"
    if isinstance(node, Received):
        return f"received(release = {node.release_id})"
    if isinstance(node, Not):
        return f"not {_operand(node.operand)}"
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(_operand(operand) for operand in node.operands)


def _operand(node: Node) -> str:
    text = unparse(node)
    return f"({text})" if isinstance(node, And | Or) else text


def _field(field: Field) -> str:
    if field.key is None:
        return field.name
    key = field.key
    simple = key.isascii() and key.replace("_", "a").isalnum() and not key[0].isdigit()
    return f"custom.{key}" if simple else f"custom.{quote(key)}"
