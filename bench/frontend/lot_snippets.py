"""The LoT entities of the synthetic site, written line by line from seeded choices.

Each function returns the lines of one entity (no trailing blank line).  The
forms are those of the corpus and of ``shared/CANONICAL.md``: topic and timer
actions with SET, IF / ELSE IF / ELSE, PUBLISH TOPIC, KEEP TOPIC, PUBLISH MODEL
and CALL PYTHON; collapsed models; PostgreSQL, Modbus TCP and MQTT bridge
routes; broker rules.  Variables are set before they are read, PAYLOAD and
TOPIC POSITION appear only under ``ON TOPIC``, and positions count from 1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

INDENT = "    "
UNITS = {
    "temperature": "degC",
    "pressure": "bar",
    "flow": "m3/h",
    "vibration": "mm/s",
    "current": "A",
    "speed": "rpm",
    "level": "%",
}
COMMENTS = (
    "// keep the last reading for the next comparison",
    "-- thresholds live under config/ and are set by the operators",
    "// the analytics module returns a JSON report with a score",
    "// publish the cleaned sample for the historian",
    "-- counters are kept on the broker, never bridged",
)
TIMESTAMPS = ('TIMESTAMP "UTC"', 'TIMESTAMP "ISO"', 'TIMESTAMP "yyyy-MM-dd HH:mm:ss"')


@dataclass(frozen=True)
class Model:
    name: str
    fields: tuple[tuple[str, str], ...]

    def lines(self) -> list[str]:
        header = f"DEFINE MODEL {self.name} COLLAPSED"
        return [header, *(f'{INDENT}ADD {kind} "{name}"' for kind, name in self.fields)]


class ActionWriter:
    """Writes one action; ``self.known`` holds the variables set so far."""

    def __init__(self, rng: random.Random, plant: str, area: str, models) -> None:
        self.rng, self.plant, self.area, self.models = rng, plant, area, models
        self.known: set[str] = set()
        self.source = '""'

    def topic_action(self, name: str, kind: str, metric: str) -> list[str]:
        # plant/area/<line>/kind/<device>/metrics/metric: line is position 3,
        # device position 5.
        topic = f"{self.plant}/{self.area}/+/{kind}/+/metrics/{metric}"
        lines = [f"DEFINE ACTION {name}", f'ON TOPIC "{topic}" DO']
        lines += self._set("line", "TOPIC POSITION 3")
        lines += self._set("device", "TOPIC POSITION 5")
        lines += self._set("value", "PAYLOAD AS DOUBLE")
        place = f'"{self.plant}/{self.area}/" + {{line}} + "/{kind}/" + {{device}}'
        self.source = place
        return lines + self._body(kind, metric, place)

    def timer_action(self, name: str, kind: str, metric: str) -> list[str]:
        every = self.rng.choice(
            ("1 SECOND", "5 SECONDS", "10 SECONDS", "30 SECONDS", "1 MINUTE", "1 HOUR")
        )
        device = f"{kind}-{self.rng.randint(1, 40):02d}"
        line_number = self.rng.randint(1, 6)
        lines = [f"DEFINE ACTION {name}", f"ON EVERY {every} DO"]
        lines += self._set("line", f'"line{line_number}"')
        lines += self._set("device", f'"{device}"')
        source = f"{self.plant}/{self.area}/line{line_number}/{kind}/{device}"
        lines += self._set(
            "value", f'(GET TOPIC "{source}/metrics/{metric}" AS DOUBLE)'
        )
        place = f'"summaries/{self.plant}/{self.area}/" + {{device}}'
        self.source = f'"{source}"'
        return lines + self._body(kind, metric, place)

    def _body(self, kind: str, metric: str, place: str) -> list[str]:
        steps = [self._threshold, self._convert, self._python, self._memo, self._status]
        lines: list[str] = []
        for step in self.rng.sample(steps, self.rng.randint(1, 4)):
            if self.rng.random() < 0.3:
                lines.append("")
            if self.rng.random() < 0.2:
                lines.append(f"{INDENT}{self.rng.choice(COMMENTS)}")
            lines += step(kind, metric, place)
        if self.models and self.rng.random() < 0.7:
            # Prefer a model that has a field for this metric, as a real site would.
            fitting = [m for m in self.models if ("DOUBLE", metric) in m.fields]
            model = self.rng.choice(fitting or self.models)
            lines.append("")
            lines += self._publish_model(model, metric, place)
        return lines

    def _set(self, variable: str, value: str, depth: int = 1) -> list[str]:
        self.known.add(variable)
        return [f'{INDENT * depth}SET "{variable}" WITH {value}']

    def _threshold(self, kind: str, metric: str, place: str) -> list[str]:
        config = f"config/{self.plant}/{self.area}/{kind}/{metric}"
        lines = self._set("high", f'(GET TOPIC "{config}/high" AS DOUBLE)')
        alarm = f'"alarms/{self.plant}/{self.area}/" + {{device}} + "/{metric}"'
        lines += [
            f"{INDENT}IF {{value}} > {{high}} AND {{high}} > 0 THEN",
            f'{INDENT * 2}PUBLISH TOPIC {alarm} WITH "{metric} " + {{value}}'
            f' + " above " + {{high}}',
        ]
        if self.rng.random() < 0.5:
            lines += [
                f"{INDENT}ELSE IF {{value}} < 0 OR {{value}} == EMPTY THEN",
                f'{INDENT * 2}PUBLISH TOPIC {alarm} WITH "{metric} reading invalid"',
            ]
        if self.rng.random() < 0.6:
            lines += [
                f"{INDENT}ELSE",
                f'{INDENT * 2}KEEP TOPIC {place} + "/{metric}_ok" WITH {{value}}',
            ]
        return lines

    def _convert(self, kind: str, metric: str, place: str) -> list[str]:
        formula = self.rng.choice(
            (
                "({value} * 9 / 5) + 32",
                "{value} / 1000",
                "({value} - 4) * 100 / 16",
                "{value} * 0.1 + 273.15",
            )
        )
        lines = self._set("scaled", formula)
        lines.append(
            f'{INDENT}PUBLISH TOPIC {place} + "/{metric}_scaled" WITH {{scaled}}'
        )
        return lines

    def _python(self, kind: str, metric: str, place: str) -> list[str]:
        function = f'"{kind.capitalize()}Analytics.assess_{metric}"'
        if self.rng.random() < 0.5:
            lines = [
                f"{INDENT}CALL PYTHON {function}",
                f"{INDENT * 2}WITH ({{value}}, {{device}})",
                f"{INDENT * 2}RETURN AS {{report}}",
            ]
        else:
            lines = [
                f"{INDENT}CALL PYTHON {function} WITH ({{value}}, {{device}})"
                " RETURN AS {report}"
            ]
        self.known.add("report")
        lines += self._set("score", '(GET JSON "score" IN {report} AS DOUBLE)')
        lines += [
            f"{INDENT}IF {{score}} >= 0.8 THEN",
            f'{INDENT * 2}PUBLISH TOPIC {place} + "/health" WITH {{report}}',
        ]
        return lines

    def _memo(self, kind: str, metric: str, place: str) -> list[str]:
        memo = f'"memo/{self.plant}/{self.area}/" + {{device}} + "/{metric}"'
        lines = self._set("previous", f"(GET TOPIC {memo} AS DOUBLE)")
        lines += self._set("delta", "{value} - {previous}")
        lines += [
            f"{INDENT}KEEP TOPIC {memo} WITH {{value}}",
            f"{INDENT}IF {{delta}} > 10 OR {{delta}} < -10 THEN PUBLISH TOPIC {place}"
            ' + "/jump" WITH {delta}',
        ]
        return lines

    def _status(self, kind: str, metric: str, place: str) -> list[str]:
        lines = (
            self._set("status", 'IF {value} > 90 THEN "high" ELSE "normal"')
            if self.rng.random() < 0.5
            else self._set("status", '"normal"')
        )
        counter = f'"counters/{self.plant}/{self.area}/" + {{device}} + "/samples"'
        lines += self._set("count", f"(GET TOPIC {counter} AS INT) + 1")
        lines.append(f"{INDENT}KEEP TOPIC {counter} WITH {{count}}")
        return lines

    def _publish_model(self, model: Model, metric: str, place: str) -> list[str]:
        lines = [f'{INDENT}PUBLISH MODEL {model.name} TO {place} + "/clean" WITH']
        for kind, field in model.fields:
            lines.append(
                f"{INDENT * 2}{field} = {self._field_value(kind, field, metric)}"
            )
        return lines

    def _field_value(self, kind: str, field: str, metric: str) -> str:
        if field == "device":
            return "{device}"
        if field == "area":
            return f'"{self.area}"'
        if field == "sampled_at":
            return self.rng.choice(TIMESTAMPS)
        if field == "status":
            return "{status}" if "status" in self.known else '"ok"'
        if kind == "BOOL":
            return self.rng.choice(("TRUE", "FALSE"))
        if kind == "INT":
            return "{count}" if "count" in self.known else "0"
        if field == metric:
            return "{value}"
        return f'(GET TOPIC {self.source} + "/metrics/{field}" AS DOUBLE)'


def route_lines(rng: random.Random, plant: str, area: str, tag: str, number: int):
    writers = (_postgresql_route, _modbus_route, _bridge_route)
    return writers[number % 3](rng, plant, area, tag)


def _postgresql_route(rng: random.Random, plant: str, area: str, tag: str):
    upper = plant.upper()
    port = rng.choice(("5432", "'5432'"))
    lines = [
        f"DEFINE ROUTE {plant.capitalize()}History{tag} WITH TYPE POSTGRESQL",
        f"{INDENT}ADD SQL_CONFIG",
        f'{INDENT * 2}WITH SERVER GET ENV "{upper}_DB_HOST"',
        f"{INDENT * 2}WITH PORT {port}",
        f'{INDENT * 2}WITH DATABASE "{plant}_history"',
        f'{INDENT * 2}WITH USERNAME GET ENV "{upper}_DB_USER"',
        f'{INDENT * 2}WITH PASSWORD GET SECRET "{upper}_DB_PASSWORD"',
    ]
    if rng.random() < 0.5:
        lines.append(f"{INDENT * 2}WITH USE_SSL true")
    for metric in rng.sample(sorted(UNITS), rng.randint(1, 3)):
        table = f"{metric}_samples"
        lines += [
            f"{INDENT}ADD EVENT Keep{metric.capitalize()}",
            f'{INDENT * 2}WITH SOURCE_TOPIC "{plant}/{area}/+/+/+/clean"',
            f'{INDENT * 2}WITH QUERY "INSERT INTO {table} (sampled_at, device, area, '
            f"{metric}) VALUES ('{{value.json.sampled_at}}', '{{value.json.device}}', "
            f"'{{value.json.area}}', {{value.json.{metric}}})\"",
        ]
    if rng.random() < 0.3:
        lines += [
            f"{INDENT}ADD EVENT LatestSamples",
            f'{INDENT * 2}WITH SOURCE_TOPIC "queries/{plant}/{area}/latest"',
            f'{INDENT * 2}WITH DESTINATION_TOPIC "queries/{plant}/{area}/result"',
            f'{INDENT * 2}WITH QUERY "SELECT * FROM temperature_samples WHERE device = '
            "'{payload}' ORDER BY sampled_at DESC LIMIT 10\"",
        ]
    return lines


def _modbus_route(rng: random.Random, plant: str, area: str, tag: str):
    kind = rng.choice(("pump", "chiller", "boiler", "compressor", "press"))
    lines = [
        f"DEFINE ROUTE {kind.capitalize()}Plc{tag} WITH TYPE MODBUS_TCP",
        f"{INDENT}ADD MODBUS_CONFIG",
        f'{INDENT * 2}WITH HOST "10.{rng.randint(1, 250)}.{rng.randint(0, 250)}.'
        f'{rng.randint(2, 250)}"',
        f"{INDENT * 2}WITH PORT 502",
        f"{INDENT * 2}WITH SLAVE_ID {rng.randint(1, 247)}",
    ]
    for loop in range(rng.randint(1, 2)):
        device = f"{kind}-{rng.randint(1, 40):02d}"
        lines += [
            f"{INDENT}ADD MAPPING {kind.capitalize()}Loop{loop + 1}",
            f"{INDENT * 2}WITH EVERY {rng.choice((500, 1, 2, 5))} "
            f"{rng.choice(('SECONDS', 'SECONDS', 'MILLISECONDS'))}",
        ]
        register = rng.randint(0, 400)
        for metric in rng.sample(sorted(UNITS), rng.randint(2, 5)):
            register += rng.randint(1, 4)
            lines += [
                f"{INDENT * 2}ADD TAG {metric.capitalize()}",
                f'{INDENT * 3}WITH ADDRESS "{register}"',
                f'{INDENT * 3}WITH ADDRESS_TYPE "'
                f'{rng.choice(("HOLDING_REGISTER", "INPUT_REGISTER"))}"',
                f'{INDENT * 3}WITH DATA_TYPE "{rng.choice(("INT16", "FLOAT32"))}"',
                f"{INDENT * 3}WITH SCALING {rng.choice(('0.1', '1', '0.01'))}",
                f'{INDENT * 3}WITH UNIT "{UNITS[metric]}"',
                f'{INDENT * 3}WITH SOURCE_TOPIC "{plant}/{area}/line{loop + 1}/{kind}/'
                f'{device}/metrics/{metric}"',
            ]
        if rng.random() < 0.3:
            lines += [
                f"{INDENT * 2}ADD TAG Running",
                f'{INDENT * 3}WITH ADDRESS "{rng.randint(1, 64)}"',
                f'{INDENT * 3}WITH ADDRESS_TYPE "COIL"',
                f'{INDENT * 3}WITH DATA_TYPE "BOOL"',
                f'{INDENT * 3}WITH SOURCE_TOPIC "{plant}/{area}/line{loop + 1}/{kind}/'
                f'{device}/running"',
            ]
    return lines


def _bridge_route(rng: random.Random, plant: str, area: str, tag: str):
    upper = plant.upper()
    lines = [
        f"DEFINE ROUTE {plant.capitalize()}Uplink{tag} WITH TYPE MQTT_BRIDGE",
        f"{INDENT}ADD SOURCE_CONFIG",
        f"{INDENT * 2}WITH BROKER SELF",
        f"{INDENT}ADD DESTINATION_CONFIG",
        f'{INDENT * 2}WITH BROKER_ADDRESS GET ENV "{upper}_HQ_BROKER_HOST"',
        f"{INDENT * 2}WITH BROKER_PORT '8883'",
        f'{INDENT * 2}WITH CLIENT_ID "{plant}-{area}-{tag}"',
        f'{INDENT * 2}WITH USERNAME GET ENV "{upper}_HQ_BROKER_USER"',
        f'{INDENT * 2}WITH PASSWORD GET SECRET "{upper}_HQ_BROKER_PASSWORD"',
        f'{INDENT * 2}WITH USE_TLS "true"',
    ]
    flows = [
        ("summariesUp", f"summaries/{plant}/{area}/#", "out"),
        ("alarmsUp", f"alarms/{plant}/{area}/#", "out"),
        ("cleanUp", f"{plant}/{area}/+/+/+/clean", "out"),
        ("ordersDown", f"orders/{plant}/{area}/#", "in"),
    ]
    for name, topic, direction in rng.sample(flows, rng.randint(2, 4)):
        remote = f"{plant}-{area}/{topic}" if direction == "out" else f"hq/{topic}"
        source, destination = (topic, remote) if direction == "out" else (remote, topic)
        lines += [
            f"{INDENT}ADD MAPPING {name}",
            f'{INDENT * 2}WITH SOURCE_TOPIC "{source}"',
            f'{INDENT * 2}WITH DESTINATION_TOPIC "{destination}"',
            f'{INDENT * 2}WITH DIRECTION "{direction}"',
        ]
    return lines


def rule_lines(rng: random.Random, plant: str, area: str, tag: str) -> list[str]:
    name = f"{plant.capitalize()}{area.capitalize()}Access{tag}"
    header = f"DEFINE RULE {name} WITH PRIORITY {100 + rng.randint(0, 80) * 5}"
    verdicts = [f"{INDENT * 2}ALLOW", f"{INDENT}ELSE", f"{INDENT * 2}DENY"]
    form = rng.randrange(4)
    if form == 0:
        scope = f'Publish TO TOPIC "{plant}/{area}/+/+/+/setpoint"'
        technician = f"{area.capitalize()}Technician"
        condition = f'USER HAS {technician} OR USER IS "{plant}-admin"'
    elif form == 1:
        scope = f'Subscribe TO TOPIC "kiosk/+/{area}"'
        condition = "CLIENTID IS TOPIC POSITION 2"
    elif form == 2:
        scope = "Connect"
        pattern = f"^{plant[:2]}gw[0-9]{{6}}$"
        condition = (
            f'CLIENTID MATCHES REGEX "{pattern}"'
            ' AND TOPIC EXISTS "devices/" + CLIENTID + "/allowed"'
        )
    else:
        scope = f'Subscribe TO TOPIC "memo/{plant}/{area}/#"'
        inline = f'{INDENT}IF USER IN GROUP "{plant}-operators" THEN ALLOW ELSE DENY'
        return [f"{header} FOR {scope}", inline]
    return [f"{header} FOR {scope}", f"{INDENT}IF {condition} THEN", *verdicts]


def analytics_script(kind: str, metrics) -> str:
    """The Python script that the actions' ``CALL PYTHON`` lines call for ``kind``."""
    name = f"{kind.capitalize()}Analytics"
    lines = [
        f"# Script Name: {name}",
        f'"""Health scores for {kind} readings, called from LoT with CALL PYTHON."""',
        "",
        "LIMITS = {",
        *(f'    "{metric}": {100 + 25 * i},' for i, metric in enumerate(metrics)),
        "}",
    ]
    for metric in metrics:
        lines += [
            "",
            "",
            f"def assess_{metric}(value, device):",
            f'    limit = LIMITS["{metric}"]',
            "    score = max(0.0, 1.0 - abs(float(value)) / limit)",
            f'    return {{"device": device, "metric": "{metric}", "score": score}}',
        ]
    return "\n".join(lines) + "\n"
