"""The EMAIL routes of the shared corpus, built by lotc into one site and run
as a process against a real SMTP server (aiosmtpd on a loopback port): the
newer event form with a plain-text body, and the older mapping form with an
HTML template file and the recipient read from the payload.

The programs are used as written except for the server (the local one, on a
free port, without TLS, instead of smtp.example.com or smtp.office365.com
with STARTTLS) and the template file's folder; the server checks both
routes' logins.
"""

from __future__ import annotations

import json

from support.site_process import SiteProcess
from support.smtp import SmtpServer

from lotc import cli

ALERT = "CorefluxCommunity__coreflux-cursor-plugin/lot-routes__AlertEmail.lot"
NOTIFY = "CorefluxCommunity__LOT-Samples/email__UserNotify.lot"


def _local(text: str, host: str, port: int) -> str:
    for written in ('"smtp.example.com"', '"smtp.office365.com"'):
        text = text.replace(written, f'"{host}"')
    text = text.replace("WITH PORT 587", f"WITH PORT {port}")
    text = text.replace("WITH PORT '587'", f"WITH PORT {port}")
    return text.replace("WITH USE_TLS true", "WITH USE_TLS false")


def test_the_corpus_mail_routes_send_mail(tmp_path, corpus, mosquitto):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "user_notify.html").write_text(
        "<p>Hello {value.json.username}: {value.json.message}</p>"
    )
    users = {"alerts@factory.com": "s3cret", "noreply@org.com": "secure-app-pass"}
    with SmtpServer(users=users) as smtp:
        site = tmp_path / "src"
        site.mkdir()
        (site / "site.toml").write_text('[site]\nname = "notifier"\n')
        alert = _local((corpus / ALERT).read_text(), smtp.host, smtp.port)
        notify = _local((corpus / NOTIFY).read_text(), smtp.host, smtp.port)
        assert f"WITH PORT {smtp.port}" in alert and f"WITH PORT {smtp.port}" in notify
        notify = notify.replace("/templates/", f"{templates}/")
        (site / "alert.lot").write_text(alert)
        (site / "notify.lot").write_text(notify)
        tree = tmp_path / "tree"
        status = cli.main(
            ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
        )
        assert status == cli.EXIT_OK
        process = SiteProcess(
            tree,
            "notifier",
            mosquitto,
            log=tmp_path / "site.log",
            env={
                "SMTP_USER": "alerts@factory.com",
                "LOT_SECRET_SMTP_PASSWORD": "s3cret",
                "LOT_STATE_DIR": str(tmp_path / "state"),
            },
        ).start()
        try:
            process.wait_online("notifier")
            mosquitto.publish("alerts/critical", b"pressure high")
            note = {"username": "Ana", "email": "ana@org.com", "message": "a < b"}
            mosquitto.publish("users/ana/notifications", json.dumps(note).encode())
            mails = smtp.wait_for(2, timeout=15)
        finally:
            process.stop()
    assert len(mails) == 2, process.output()
    by_recipient = {recipients[0]: mail for _, recipients, mail in mails}
    alert_mail = by_recipient["ops@factory.com"]
    assert alert_mail["From"] == "alerts@factory.com"
    assert alert_mail["Subject"] == "Critical Alert: critical"
    assert alert_mail.get_content().startswith("Alert received: pressure high at ")
    notice = by_recipient["ana@org.com"]
    assert notice["Subject"] == "Hello Ana, you have a new notification"
    assert notice["From"] == "noreply@org.com"
    assert notice.get_content().strip() == "<p>Hello Ana: a &lt; b</p>"
