"""One pass over a send's messages: recipients and suppressed per outlet, beat, region,
provider and domain, and hand-overs per minute. Rows left out (the contact had an advance copy,
or opted out of a beat the segment names) were never addressed and are not counted.

PostgreSQL does it in one scan with ``GROUPING SETS``; SQLite, which has none, with one GROUP
BY per dimension. Each distinct value (a beats array, a domain) is then converted once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from distro.models import MessageStatus
from distro.tracking.summary_fold import VALUE_WIDTH

Key = tuple[str, str]  # (dimension, value); ("", "") is the whole send
_PLAIN = ("outlet", "region", "provider", "domain")
# Message statuses of contacts the send left out: never addressed.
_NOT_ADDRESSED = (MessageStatus.LEFT_OUT.value, MessageStatus.OPTED_OUT.value)
# GROUPING(outlet, region, beats, provider, domain, minute): the bit of each set's column is 0.
_SETS = {31: "outlet", 47: "region", 55: "beat", 59: "provider", 61: "domain", 62: "minute"}


@dataclass(frozen=True, slots=True)
class Scan:
    recipients: Counter[Key]
    suppressed: Counter[Key]
    sent: Counter[datetime]


def scan(conn: Connection, send_id: int, *, audience: bool) -> Scan:
    """Count the send's messages: the audience too when ``audience``, else only hand-overs."""
    if conn.dialect.name == "postgresql":
        return _scan_postgresql(conn, send_id, audience=audience)
    return _scan_sqlite(conn, send_id, audience=audience)


# What each count groups by, as SQLite computes it.
_SQLITE_SETS = {
    "outlet": "outlet",
    "region": "region",
    "beat": "CAST(beats AS TEXT)",
    "provider": "provider",
    "domain": "substr(email, instr(email, '@') + 1)",
}


def _scan_sqlite(conn: Connection, send_id: int, *, audience: bool) -> Scan:
    """One GROUP BY per dimension: SQLite groups in C, where reading the rows out to count
    them in Python costs more than all the sorting."""
    minutes = conn.exec_driver_sql(
        "SELECT substr(sent_at, 1, 16), count(*) FROM messages "
        "WHERE send_id = ? AND sent_at IS NOT NULL GROUP BY 1",
        (send_id,),
    ).all()
    sent = Counter({datetime.fromisoformat(m).replace(tzinfo=UTC): n for m, n in minutes})
    if not audience:
        return Scan(Counter(), Counter(), sent)
    counted: dict[str, Counter[Any]] = {}
    suppressed: dict[str, Counter[Any]] = {}
    for name, expression in _SQLITE_SETS.items():
        rows = conn.exec_driver_sql(
            f"SELECT {expression}, count(*), sum(status = ?) FROM messages "  # noqa: S608
            "WHERE send_id = ? AND status NOT IN (?, ?) GROUP BY 1",
            (MessageStatus.SUPPRESSED.value, send_id, *_NOT_ADDRESSED),
        )
        counted[name], suppressed[name] = Counter(), Counter()
        for value, n, n_suppressed in rows:
            counted[name][value] = n
            if n_suppressed:
                suppressed[name][value] = n_suppressed
    total = sum(counted["provider"].values())
    return Scan(
        _keys(counted, total), _keys(suppressed, sum(suppressed["provider"].values())), sent
    )


def _scan_postgresql(conn: Connection, send_id: int, *, audience: bool) -> Scan:
    if not audience:
        rows = conn.exec_driver_sql(
            "SELECT date_trunc('minute', sent_at), count(*) FROM messages "
            "WHERE send_id = %s AND sent_at IS NOT NULL GROUP BY 1",
            (send_id,),
        )
        return Scan(Counter(), Counter(), Counter({m.astimezone(UTC): n for m, n in rows}))
    rows = conn.exec_driver_sql(
        "SELECT GROUPING(outlet, region, b, provider, domain, minute), "
        "outlet, region, b, provider, domain, minute, count(*), "
        "count(*) FILTER (WHERE status = %s) "
        "FROM (SELECT outlet, region, beats::text AS b, provider, "
        "split_part(email, '@', 2) AS domain, date_trunc('minute', sent_at) AS minute, status "
        "FROM messages WHERE send_id = %s AND status NOT IN (%s, %s)) AS m "
        "GROUP BY GROUPING SETS ((), (outlet), (region), (b), (provider), (domain), (minute))",
        (MessageStatus.SUPPRESSED.value, send_id, *_NOT_ADDRESSED),
    )
    counted: dict[str, Counter[Any]] = {name: Counter() for name in (*_PLAIN, "beat")}
    suppressed: dict[str, Counter[Any]] = {name: Counter() for name in counted}
    total = total_suppressed = 0
    sent: Counter[datetime] = Counter()
    for grouping, outlet, region, beats, provider, domain, minute, n, n_suppressed in rows:
        name = _SETS.get(grouping)
        if name is None:  # the empty grouping set: the whole send
            total, total_suppressed = n, n_suppressed
        elif name == "minute":
            if minute is not None:
                sent[minute.astimezone(UTC)] += n
        else:
            value = {
                "outlet": outlet,
                "region": region,
                "beat": beats,
                "provider": provider,
                "domain": domain,
            }[name]
            counted[name][value] += n
            if n_suppressed:
                suppressed[name][value] += n_suppressed
    return Scan(_keys(counted, total), _keys(suppressed, total_suppressed), sent)


def _keys(counted: dict[str, Counter[Any]], total: int) -> Counter[Key]:
    """Per-column counts as rollup keys: beats (JSON arrays) split into one key per beat."""
    keys: Counter[Key] = Counter()
    if total:
        keys[("", "")] = total
    for name, counter in counted.items():
        for value, n in counter.items():
            for item in _values(name, value):
                keys[(name, item[:VALUE_WIDTH])] += n
    return keys


def _values(name: str, value: Any) -> Iterable[str]:
    if name == "beat":
        return dict.fromkeys(json.loads(value)) if value else ()
    text = str(value or "")
    return (text.lower(),) if name == "domain" else (text,)
