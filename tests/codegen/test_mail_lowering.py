"""Lowering of EMAIL routes: SMTP settings as written, one MailEvent per
event or older mapping, in source order."""

from __future__ import annotations

from helpers import source

from lotc.codegen.routes.mail import lower_mail
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Alerts WITH TYPE EMAIL
    ADD MQTT_CONFIG
        WITH BROKER SELF
    ADD SMTP_CONFIG
        WITH SERVER "smtp.plant.example"
        WITH PORT 465
        WITH USERNAME GET ENV "SMTP_USER"
        WITH PASSWORD GET SECRET "SMTP_PASSWORD"
        WITH USE_TLS true
        WITH FROM "alerts@plant.example"
    ADD MAPPING Legacy
        WITH SOURCE_TOPIC "sensors/+/warning"
        WITH TEMPLATE_PATH "/templates/warning.html"
        WITH SUBJECT "Warning: {value.json.device}"
        WITH RECIPIENT "team@plant.example"
    ADD EVENT Critical
        WITH SOURCE_TOPIC "alerts/critical"
        WITH TO "ops@plant.example"
        WITH SUBJECT "Critical: {topic.2}"
        WITH BODY "Received {payload} at {timestamp}"
"""


def test_settings_and_events_reach_the_route():
    checked = check_sources([source(ROUTE)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    view, problems = lower_mail(route, checked.site)
    assert problems == []
    text = view.constructor
    assert "host='smtp.plant.example'" in text
    assert "port=465" in text
    assert "username=Env('SMTP_USER')" in text
    assert "password=Secret('SMTP_PASSWORD')" in text
    assert "use_tls='true'" in text
    assert "sender='alerts@plant.example'" in text
    legacy = text.index("MailEvent(name='Legacy'")
    critical = text.index("MailEvent(name='Critical'")
    assert legacy < critical
    assert (
        "MailEvent(name='Legacy', source='sensors/+/warning', "
        "recipient='team@plant.example', subject='Warning: {value.json.device}', "
        "template_path='/templates/warning.html')"
    ) in text
    assert (
        "MailEvent(name='Critical', source='alerts/critical', "
        "recipient='ops@plant.example', subject='Critical: {topic.2}', "
        "body='Received {payload} at {timestamp}')"
    ) in text
    assert view.extras == ["mail"]
    assert view.reads == ["alerts/critical", "sensors/+/warning"]
    assert view.writes == []
    assert "from lot_runtime.routes import Env, Secret" in view.imports
