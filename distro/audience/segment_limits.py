r"""How big a segment expression may be, checked while it is read.

Without limits, 400 nested parentheses or 5,000 ``not``\s exhaust Python's recursion (the parser
descends once per level) and 4,000 ``or`` terms build a WHERE clause deeper than SQLite's
expression limit (1,000). Each limit is checked before the work it guards: the length before
tokenizing, the depth before the parser descends, the count as each condition is read. So the
parser never recurses more than ``MAX_DEPTH`` levels, and the SQL it leads to stays far below
every database's own limits (at most ``MAX_CONDITIONS`` + ``MAX_DEPTH`` operators deep). Each
limit is far above what a person writes: the largest real segment seen has a dozen conditions.
"""

from __future__ import annotations

from distro.audience.segment_tokens import SegmentError, Token

MAX_EXPRESSION_LENGTH = 20_000  # characters
MAX_CONDITIONS = 256
MAX_DEPTH = 32  # levels of parentheses and 'not' inside one another


def check_length(expression: str) -> None:
    """Refuse an expression longer than ``MAX_EXPRESSION_LENGTH``, pointing past the limit."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise SegmentError(
            f"the expression is too long: {len(expression):,} characters, at most "
            f"{MAX_EXPRESSION_LENGTH:,} (put the contacts in a list and use in_list(...))",
            MAX_EXPRESSION_LENGTH + 1,
        )


class Budget:
    """The depth and the number of conditions of the expression read so far."""

    def __init__(self) -> None:
        self.depth = 0
        self.conditions = 0

    def enter(self, token: Token) -> None:
        """One level deeper at ``token`` (a '(' or a 'not'); refused past ``MAX_DEPTH``."""
        if self.depth >= MAX_DEPTH:
            raise SegmentError(
                f"nested too deeply: more than {MAX_DEPTH} levels of parentheses and 'not' "
                "inside one another",
                token.column,
            )
        self.depth += 1

    def leave(self) -> None:
        self.depth -= 1

    def condition(self, token: Token) -> None:
        """One more condition, starting at ``token``; refused past ``MAX_CONDITIONS``."""
        if self.conditions >= MAX_CONDITIONS:
            raise SegmentError(
                f"too many conditions: more than {MAX_CONDITIONS} "
                "(put the contacts in a list and use in_list(...), or use in (...) for values)",
                token.column,
            )
        self.conditions += 1
