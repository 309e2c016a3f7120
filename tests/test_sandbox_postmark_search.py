"""Postmark's outbound message search in the sandbox, as distro uses it to reconcile sends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox_support import TOKEN, LiveSandbox, bearer, live_sandbox

AUTH = {"X-Postmark-Server-Token": TOKEN}


@pytest.fixture
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as sandbox:
        yield sandbox


def message(to: str, distro_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "From": "press@acme.example",
        "To": to,
        "Subject": "Embargoed: Acme launches",
        "TextBody": "Hello",
        "Metadata": {"distro_message_id": distro_id},
        "MessageStream": "broadcast",
        **fields,
    }


def search(live: LiveSandbox, **params: str | int) -> httpx.Response:
    return live.http.get("/messages/outbound", params=params, headers=AUTH)


def test_search_by_metadata_and_recipient(live: LiveSandbox) -> None:
    batch = [message(f"j{i}@news.example", str(i), Tag="rel-7") for i in range(5)]
    sent = live.http.post("/email/batch", json=batch, headers=AUTH).json()
    # A message from another API is not Postmark's to report.
    live.http.post(
        "/emails",
        headers=bearer(),
        json={
            "from": "press@acme.example",
            "to": "j3@news.example",
            "subject": "s",
            "text": "t",
            "tags": [{"name": "distro_message_id", "value": "3"}],
        },
    )

    found = search(live, count=10, offset=0, metadata_distro_message_id="3").json()
    assert found["TotalCount"] == 1
    (entry,) = found["Messages"]
    assert entry["MessageID"] == sent[3]["MessageID"]
    assert entry["To"] == [{"Email": "j3@news.example", "Name": ""}]
    assert entry["Recipients"] == ["j3@news.example"]
    assert entry["Metadata"] == {"distro_message_id": "3"}
    assert (entry["Status"], entry["MessageStream"], entry["Tag"]) == ("Sent", "broadcast", "rel-7")
    assert entry["Subject"] == "Embargoed: Acme launches"
    assert entry["ReceivedAt"]

    by_recipient = search(live, count=10, offset=0, recipient="J1@news.example").json()
    assert [m["Metadata"]["distro_message_id"] for m in by_recipient["Messages"]] == ["1"]
    nothing = search(live, count=10, offset=0, metadata_distro_message_id="99").json()
    assert nothing == {"TotalCount": 0, "Messages": []}


def test_search_pages_newest_first(live: LiveSandbox) -> None:
    for i in range(5):
        live.http.post("/email", json=message("jo@news.example", str(i)), headers=AUTH)
    page = search(live, count=2, offset=1, tag="", status="sent").json()
    assert page["TotalCount"] == 5
    assert [m["Metadata"]["distro_message_id"] for m in page["Messages"]] == ["3", "2"]
    assert search(live, count=2, offset=0, status="queued").json()["TotalCount"] == 0


def test_message_details(live: LiveSandbox) -> None:
    sent = live.http.post("/email", json=message("jo@news.example", "8"), headers=AUTH).json()
    details = live.http.get(f"/messages/outbound/{sent['MessageID']}/details", headers=AUTH)
    assert details.json()["TextBody"] == "Hello"
    missing = live.http.get("/messages/outbound/nope/details", headers=AUTH)
    assert (missing.status_code, missing.json()["ErrorCode"]) == (422, 701)


@pytest.mark.parametrize(
    "params",
    [
        {"offset": 0},
        {"count": 0, "offset": 0},
        {"count": 501, "offset": 0},
        {"count": 500, "offset": 9600},
        {"count": "x", "offset": 0},
    ],
)
def test_bad_paging_is_refused(live: LiveSandbox, params: dict[str, Any]) -> None:
    response = search(live, **params)
    assert response.status_code == 422
    assert response.json()["ErrorCode"] == 300


def test_search_needs_the_server_token(live: LiveSandbox) -> None:
    response = live.http.get("/messages/outbound", params={"count": 1, "offset": 0})
    assert (response.status_code, response.json()["ErrorCode"]) == (401, 10)
