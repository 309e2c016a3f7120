"""The inbox pages and JSON listing show every API's messages, and which API accepted each."""

from __future__ import annotations

import json

import httpx

from distro.sandbox import SandboxOptions, create_sandbox_app
from distro.web.server import ServerThread, bind_socket
from tests.sandbox_support import TOKEN, bearer, live_sandbox, mailgun_auth, ses_post


def test_inbox_shows_messages_of_every_api() -> None:
    with live_sandbox() as live:
        http = live.http
        http.post(
            "/email",
            json={
                "From": "p@acme.example",
                "To": "pm@news.example",
                "Subject": "Via Postmark",
                "TextBody": "t",
            },
            headers={"X-Postmark-Server-Token": TOKEN},
        )
        http.post(
            "/v3/mail/send",
            json={
                "from": {"email": "p@acme.example"},
                "subject": "Via SendGrid",
                "content": [{"type": "text/html", "value": "<p>Hi <b>there</b></p>"}],
                "personalizations": [{"to": [{"email": "sg@news.example"}]}],
            },
            headers=bearer(),
        )
        http.post(
            "/v3/mg.acme.example/messages",
            data={
                "from": "p@acme.example",
                "to": ["a@news.example", "b@news.example"],
                "subject": "Via Mailgun for %recipient.name%",
                "text": "t",
                "recipient-variables": json.dumps(
                    {"a@news.example": {"name": "A"}, "b@news.example": {"name": "B"}}
                ),
            },
            headers=mailgun_auth(),
        )
        ses_post(
            live,
            {
                "FromEmailAddress": "p@acme.example",
                "Destination": {"ToAddresses": ["ses@news.example"]},
                "Content": {
                    "Simple": {"Subject": {"Data": "Via SES"}, "Body": {"Text": {"Data": "t"}}}
                },
            },
        )
        http.post(
            "/emails",
            json={
                "from": "p@acme.example",
                "to": "rs@news.example",
                "subject": "Via Resend",
                "text": "t",
            },
            headers=bearer(),
        )

        listing = http.get("/api/messages").json()
        assert listing["apis"] == {
            "postmark": 1,
            "sendgrid": 1,
            "mailgun": 2,
            "ses": 1,
            "resend": 1,
        }
        assert listing["count"] == 6
        only = http.get("/api/messages", params={"api": "mailgun"}).json()
        assert only["count"] == 2
        assert only["recipients"] == {"a@news.example": 1, "b@news.example": 1}

        inbox = http.get("/").text
        for api in ("postmark", "sendgrid", "mailgun", "ses", "resend"):
            assert f'<span class="api">{api}</span>' in inbox
        for message in live.sandbox.store.messages():
            assert f'href="/messages/{message.ref}"' in inbox
            page = http.get(f"/messages/{message.ref}")
            assert page.status_code == 200
            assert f'<span class="api">{message.api}</span>' in page.text
            assert message.subject in page.text

        mailgun_b = next(m for m in live.sandbox.store.messages() if m.to == "b@news.example")
        assert "Via Mailgun for B" in http.get(f"/messages/{mailgun_b.ref}").text
        sendgrid = next(m for m in live.sandbox.store.messages() if m.api == "sendgrid")
        assert (
            'srcdoc="&lt;p&gt;Hi &lt;b&gt;there&lt;/b&gt;&lt;/p&gt;"'
            in http.get(f"/messages/{sendgrid.ref}").text
        )


def test_a_store_bound_keeps_the_newest_messages_and_every_count() -> None:
    app, sandbox = create_sandbox_app(
        SandboxOptions(server_tokens=frozenset({TOKEN}), max_stored=3)
    )
    try:
        with (
            ServerThread(app, bind_socket("127.0.0.1", 0)) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
        ):
            sent = [
                http.post(
                    "/email",
                    json={
                        "From": "p@acme.example",
                        "To": f"j{i}@news.example",
                        "Subject": f"n{i}",
                        "TextBody": "t",
                    },
                    headers={"X-Postmark-Server-Token": TOKEN},
                ).json()["MessageID"]
                for i in range(5)
            ]
            listing = http.get("/api/messages", params={"limit": 2}).json()
            assert (listing["count"], listing["evicted"]) == (5, 2)
            assert listing["recipients"] == {f"j{i}@news.example": 1 for i in range(5)}
            assert [m["Subject"] for m in listing["messages"]] == ["n4", "n3"]
            assert len(sandbox.store) == 3
            assert http.get(f"/api/messages/{sent[0]}").status_code == 404
            assert http.get(f"/api/messages/{sent[4]}").status_code == 200
    finally:
        sandbox.close()
