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
raises :class:`SegmentError` naming the 1-based column it was found at, and so does an expression
over a limit of :mod:`distro.audience.segment_limits` (length, conditions, depth), checked while
it is read so that no input can make the parser recurse without bound.

The tokenizer lives in :mod:`distro.audience.segment_tokens`, the nodes and the printer in
:mod:`distro.audience.segment_ast`; this module re-exports them so callers import from one place.
"""

from __future__ import annotations

import difflib
from datetime import timedelta

from distro.audience.segment_ast import (
    UNITS,
    And,
    Compare,
    CompareOp,
    Duration,
    Engaged,
    Engagement,
    Field,
    Has,
    InList,
    InSet,
    MultiField,
    Node,
    Not,
    Or,
    Received,
    Unit,
    unparse,
)
from distro.audience.segment_limits import Budget, check_length
from distro.audience.segment_tokens import SegmentError, Token, quote, tokenize
from distro.models.audience import CONTACT_TEXT_FIELDS

__all__ = [
    "COLUMNS",
    "UNITS",
    "And",
    "Compare",
    "CompareOp",
    "Duration",
    "Engaged",
    "Engagement",
    "Field",
    "Has",
    "InList",
    "InSet",
    "MultiField",
    "Node",
    "Not",
    "Or",
    "Received",
    "SegmentError",
    "Token",
    "Unit",
    "parse",
    "quote",
    "tokenize",
    "unparse",
]

COLUMNS = ("email", *CONTACT_TEXT_FIELDS, "status")
MULTI_VALUED = ("beats", "tags")
ENGAGEMENTS = ("opened", "clicked", "bounced")
FUNCTIONS = ("in_list", *ENGAGEMENTS, "received")
KEYWORDS = ("and", "or", "not", "in", "has", "within", "release")
MAX_DURATION = timedelta(days=36600)  # about a century: anything longer is a typo
MAX_RELEASE_ID = 2**31 - 1


def parse(expression: str) -> Node:
    """The AST of ``expression``; raises :class:`SegmentError` on any mistake or limit crossed."""
    check_length(expression)
    return _Parser(tokenize(expression)).parse()


def _suggest(word: str, candidates: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.budget = Budget()

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
        # Each 'not' and '(' is one level of recursion: counted before descending.
        if self.token.is_word("not"):
            self.budget.enter(self.advance())
            negated = Not(self.unary())
            self.budget.leave()
            return negated
        if self.token.is_op("("):
            opening = self.advance()
            self.budget.enter(opening)
            node = self.or_expr()
            if not self.token.is_op(")"):
                raise self.fail(
                    f"unbalanced parentheses: expected ')' to close the '(' at column "
                    f"{opening.column} but found {self.token.describe()}"
                )
            self.advance()
            self.budget.leave()
            return node
        self.budget.condition(self.token)
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
