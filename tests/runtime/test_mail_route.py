"""The EMAIL route against a real SMTP server (aiosmtpd on a loopback port)
and a real Mosquitto: mails written from messages, a login, STARTTLS with a
verified certificate, refusals dead-lettered, and a server that is busy or
away ridden out without losing a mail."""

from __future__ import annotations

import json
import logging
import socket
import subprocess

import pytest
from lot_runtime import Site
from lot_runtime.routes import Env, Secret
from lot_runtime.routes.mail import MailEvent, MailRoute
from support.smtp import SmtpServer

from .sites import RunningSite


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def _route(server, *events: MailEvent, **settings) -> MailRoute:
    settings.setdefault("sender", "alerts@plant.example")
    return MailRoute(
        name="Mail", host="127.0.0.1", port=server.port, events=events, **settings
    )


def test_a_message_becomes_a_mail(tmp_path, mosquitto, smtp):
    event = MailEvent(
        name="Alert",
        source="alerts/+",
        recipient="ops@plant.example; {payload.json.owner}",
        subject="Critical alert: {topic.2}",
        body="Alert received: {payload.json.text} at {timestamp}",
    )
    site = Site(name="mail", routes=(_route(smtp, event),))
    with RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(tmp_path)}):
        payload = {"owner": "Line Lead <lead@plant.example>", "text": "pump 2 dry"}
        mosquitto.publish("alerts/pump2", json.dumps(payload).encode())
        [(sender, recipients, mail)] = smtp.wait_for(1)
    assert sender == "alerts@plant.example"
    assert recipients == ["ops@plant.example", "lead@plant.example"]
    assert mail["Subject"] == "Critical alert: pump2"
    assert mail["To"] == "ops@plant.example, lead@plant.example"
    assert mail["Message-ID"].endswith("@plant.example>")
    text = mail.get_content()
    assert text.startswith("Alert received: pump 2 dry at 20")


def test_a_mail_without_from_is_sent_from_this_host(tmp_path, mosquitto, smtp):
    event = MailEvent(name="N", source="f/+", recipient="a@plant.example")
    route = MailRoute(name="Mail", host="127.0.0.1", port=smtp.port, events=(event,))
    site = Site(name="from", routes=(route,))
    with RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(tmp_path)}):
        mosquitto.publish("f/1", b"hello")
        [(sender, _, mail)] = smtp.wait_for(1)
    assert sender == mail["From"] == f"lot@{socket.getfqdn()}"


def test_an_html_template_is_filled_with_escaped_values(tmp_path, mosquitto, smtp):
    template = tmp_path / "warning.html"
    template.write_text(
        "<style>p {color: red}</style><p>{value.json.device}: {value.json.note}</p>"
    )
    event = MailEvent(
        name="Warning",
        source="sensors/+/warning",
        recipient="team@plant.example",
        subject="Sensor warning: {value.json.device}",
        template_path=str(template),
    )
    site = Site(name="html", routes=(_route(smtp, event),))
    with RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(tmp_path)}):
        note = {"device": "boiler-2", "note": "<b>hot</b> & rising"}
        mosquitto.publish("sensors/b2/warning", json.dumps(note).encode())
        [(_, _, mail)] = smtp.wait_for(1)
    assert mail.get_content_type() == "text/html"
    assert mail.get_content().strip() == (
        "<style>p {color: red}</style>"
        "<p>boiler-2: &lt;b&gt;hot&lt;/b&gt; &amp; rising</p>"
    )


def test_unwritable_and_refused_mails_go_to_dead_letters(tmp_path, mosquitto, smtp):
    smtp.refuse("nobody@plant.example", 550)
    events = (
        MailEvent(name="ToOwner", source="d/owner", recipient="{payload.json.owner}"),
        MailEvent(name="Nobody", source="d/nobody", recipient="nobody@plant.example"),
        MailEvent(
            name="Header",
            source="d/header",
            recipient="a@plant.example",
            subject="{payload}",
        ),
        MailEvent(
            name="File",
            source="d/file",
            recipient="a@plant.example",
            template_path=str(tmp_path / "missing.html"),
        ),
    )
    site = Site(name="dead", routes=(_route(smtp, *events),))
    with mosquitto.collect("lot/dead/deadletter/#") as seen:
        with RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(tmp_path)}):
            mosquitto.publish("d/owner", b'{"team": "x"}')
            mosquitto.publish("d/nobody", b"hello")
            mosquitto.publish("d/header", b"line one\r\nBcc: victim@example.com")
            mosquitto.publish("d/file", b"x")
            mosquitto.publish("d/owner", b'{"owner": "lead@plant.example"}')
            seen.wait_for(4)
            mails = smtp.wait_for(1)
    reasons = {
        letter["event"]: letter["reason"]
        for letter in map(json.loads, seen.payloads("lot/dead/deadletter/Mail"))
    }
    assert reasons["ToOwner"] == "the message has no value for {payload.json.owner}"
    assert reasons["Nobody"].startswith("every recipient was refused")
    assert reasons["Header"].startswith("a header cannot be written")
    assert reasons["File"].startswith("the template")
    assert [recipients for _, recipients, _ in mails] == [["lead@plant.example"]]


def test_a_mail_with_some_recipients_refused_goes_to_the_others(
    tmp_path, mosquitto, smtp, caplog
):
    smtp.refuse("gone@plant.example", 550)
    event = MailEvent(
        name="Both", source="p/+", recipient="gone@plant.example, here@plant.example"
    )
    site = Site(name="partly", routes=(_route(smtp, event),))
    with caplog.at_level(logging.WARNING, logger="lot"):
        with RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(tmp_path)}):
            mosquitto.publish("p/1", b"hello")
            [(_, recipients, _)] = smtp.wait_for(1)
    assert recipients == ["here@plant.example"]
    assert any("refused 1 of the recipients" in r.getMessage() for r in caplog.records)


def test_a_busy_or_absent_server_loses_no_mail(tmp_path, mosquitto, smtp):
    event = MailEvent(name="N", source="n/+", recipient="a@plant.example")
    status = "lot/away/routes/Mail/status"
    site = Site(name="away", routes=(_route(smtp, event),))
    with mosquitto.collect(status) as seen:
        with RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(tmp_path)}):
            smtp.busy(2)
            mosquitto.publish("n/0", b"0")
            smtp.wait_for(1)
            smtp.stop()
            for number in range(1, 21):
                mosquitto.publish(f"n/{number}", str(number).encode())
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"buffering") for m in ms), 10
            )
            smtp.start()
            mails = smtp.wait_for(21, timeout=40)
            seen.wait_until(lambda ms: ms and ms[-1].payload == b"connected", 10)
    assert sorted(int(mail.get_content()) for _, _, mail in mails) == list(range(21))
    assert seen.payloads(status)[-1] == b"connected"


def test_a_login_is_kept_and_a_wrong_password_keeps_the_mail(tmp_path, mosquitto):
    with SmtpServer(users={"alerts": "right"}) as smtp:
        event = MailEvent(name="N", source="l/+", recipient="a@plant.example")
        route = _route(
            smtp, event, username=Env("SMTP_USER"), password=Secret("SMTP_PASSWORD")
        )
        site = Site(
            name="login",
            routes=(route,),
            env=("SMTP_USER",),
            secrets=("SMTP_PASSWORD",),
        )
        environ = {
            "LOT_STATE_DIR": str(tmp_path),
            "SMTP_USER": "alerts",
            "LOT_SECRET_SMTP_PASSWORD": "wrong",
        }
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("l/1", b"kept")
            assert smtp.wait_for(1, timeout=2) == []
        smtp.users["alerts"] = "wrong"  # the password is fixed on the server side
        with RunningSite(site, mosquitto.url, environ=environ):
            [(_, _, mail)] = smtp.wait_for(1)
    assert mail.get_content().strip() == "kept"


@pytest.fixture
def certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_starttls_is_required_and_verified(
    tmp_path, mosquitto, certificate, monkeypatch
):
    cert, key = certificate
    with SmtpServer(users={"alerts": "pw"}, tls=(cert, key)) as smtp:
        event = MailEvent(name="N", source="t/+", recipient="a@plant.example")
        route = _route(
            smtp, event, username="alerts", password=Secret("PW"), use_tls="true"
        )
        site = Site(name="tls", routes=(route,), secrets=("PW",))
        environ = {"LOT_STATE_DIR": str(tmp_path), "LOT_SECRET_PW": "pw"}
        # The site trusts the test's certificate the way OpenSSL is told to.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("t/1", b"secret plans")
            [(_, _, mail)] = smtp.wait_for(1)
    assert mail.get_content().strip() == "secret plans"
