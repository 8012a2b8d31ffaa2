"""The name, type and trigger-context checks, one failing example per code.

Each failing example asserts the code and the line it is reported on; the
negative tests pin down what must not be reported, above all the path rules
for variables (docs/semantics.md) and LoT's implicit text-to-number
conversion.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from lotc.compile import check, check_sources
from lotc.frontend.source import SourceFile

HIVE_MATH = """\
# Script Name: HiveMath
import json


def spread(weights):
    values = [float(w) for w in json.loads(weights)]
    return {"range": max(values) - min(values)}
"""

TO_CELSIUS = """
DEFINE ACTION ToCelsius
INPUT fahrenheit AS DOUBLE
DO
    SET "celsius" WITH ({fahrenheit} - 32) / 1.8
RETURN
    OUTPUT celsius
"""

MOTOR_READING = """
DEFINE MODEL MotorReading COLLAPSED
    ADD STRING "motorId"
    ADD DOUBLE "current"
"""


def lot(*parts: str) -> str:
    """One LoT file from indented parts, a blank line between them."""
    return "\n\n".join(textwrap.dedent(part).strip("\n") for part in parts) + "\n"


def _reported(text: str, scripts=()) -> list[tuple[str, int]]:
    """(code, line) of everything the front end reports for one file."""
    source = SourceFile("site.lot", lot(text))
    site = check_sources([source], scripts=list(scripts))
    return [(d.code, d.span.line) for d in site.diagnostics]


# ---------------------------------------------------------------- failing

FAILING = {
    "LOT106": (
        """
        DEFINE ACTION PumpStatus
        ON TOPIC "plant/pump1/state" DO
            PUBLISH TOPIC "dashboard/pump1/state" WITH {state}
        """,
        3,
        (),
    ),
    "LOT107": (
        """
        DEFINE ACTION TankAlarm
        ON TOPIC "plant/tank3/level" DO
            IF PAYLOAD > 90 THEN
                SET "alarm" WITH "high"
            PUBLISH TOPIC "plant/tank3/alarm" WITH {alarm}
        """,
        5,
        (),
    ),
    "LOT108": (
        lot(
            TO_CELSIUS,
            """
        DEFINE ACTION OvenTemperature
        ON TOPIC "bakery/oven2/tempF" DO
            CALL ACTION ToCelcius WITH fahrenheit = PAYLOAD RETURN tempC
        """,
        ),
        10,
        (),
    ),
    "LOT109": (
        """
        DEFINE ACTION ResetCounter
        ON TOPIC "line4/counter/reset" DO
            KEEP TOPIC "line4/counter/value" WITH 0

        DEFINE ACTION ShiftChange
        ON EVERY WEEKDAY AT "06:00" DO
            CALL ACTION ResetCounter
        """,
        7,
        (),
    ),
    "LOT110": (
        lot(
            TO_CELSIUS,
            """
        DEFINE ACTION OvenTemperature
        ON TOPIC "bakery/oven2/tempF" DO
            CALL ACTION ToCelsius WITH fahrenheit = PAYLOAD, unit = "F"
        """,
        ),
        10,
        (),
    ),
    "LOT111": (
        lot(
            TO_CELSIUS,
            """
        DEFINE ACTION OvenTemperature
        ON EVERY 1 MINUTE DO
            CALL ACTION ToCelsius RETURN tempC
        """,
        ),
        10,
        (),
    ),
    "LOT112": (
        lot(
            TO_CELSIUS,
            """
        DEFINE ACTION OvenTemperature
        ON TOPIC "bakery/oven2/tempF" DO
            CALL ACTION ToCelsius WITH fahrenheit = PAYLOAD RETURN tempC, tempK
        """,
        ),
        10,
        (),
    ),
    "LOT113": (
        """
        DEFINE MODEL Batch COLLAPSED
            ADD STRING "batchId"
            ADD COLLECTION "readings" OF MotorReadings
        """,
        3,
        (),
    ),
    "LOT114": (
        lot(
            MOTOR_READING,
            """
        DEFINE ACTION MotorCurrent
        ON TOPIC "mill/motor/+/current" DO
            PUBLISH MODEL MotorReading TO "mill/motor/reading" WITH
                motorId = TOPIC POSITION 3
                current = PAYLOAD
                curent = PAYLOAD
        """,
        ),
        10,
        (),
    ),
    "LOT115": (
        lot(
            MOTOR_READING,
            """
        DEFINE ACTION MotorCurrent
        ON TOPIC "mill/motor/+/current" DO
            PUBLISH MODEL MotorReading TO "mill/motor/reading" WITH
                current = PAYLOAD
        """,
        ),
        7,
        (),
    ),
    "LOT116": (
        """
        DEFINE MODEL PumpReading COLLAPSED FROM Reading
            ADD DOUBLE "flow"
        """,
        1,
        (),
    ),
    "LOT117": (
        """
        DEFINE MODEL Reading COLLAPSED FROM Reading
            ADD STRING "stamp"
        """,
        1,
        (),
    ),
    "LOT118": (
        """
        DEFINE ACTION HiveStats
        ON TOPIC "apiary/hive1/weights" DO
            CALL PYTHON "HiveMaths.spread" WITH (PAYLOAD) RETURN AS {stats}
        """,
        3,
        [("hive_math.py", HIVE_MATH)],
    ),
    "LOT119": (
        """
        DEFINE ACTION HiveStats
        ON TOPIC "apiary/hive1/weights" DO
            CALL PYTHON "HiveMath.spreed" WITH (PAYLOAD) RETURN AS {stats}
        """,
        3,
        [("hive_math.py", HIVE_MATH)],
    ),
    "LOT120": (
        """
        DEFINE ACTION HiveStats
        ON TOPIC "apiary/hive1/weights" DO
            SET "unit" WITH "kg"
            CALL PYTHON "HiveMath.spread" WITH (PAYLOAD, {unit}) RETURN AS {stats}
        """,
        4,
        [("hive_math.py", HIVE_MATH)],
    ),
    "LOT121": (
        """
        DEFINE ACTION HiveStats
        ON TOPIC "apiary/hive1/weights" DO
            CALL PYTHON "spread" WITH (PAYLOAD) RETURN AS {stats}
        """,
        3,
        (),
    ),
    "LOT122": (
        """
        DEFINE ACTION FlowRate
        INPUT litres AS DOUBLE
        INPUT litres AS DOUBLE
        DO
            SET "rate" WITH {litres} / 60
        RETURN
            OUTPUT rate
        """,
        3,
        (),
    ),
    "LOT123": (
        """
        DEFINE ACTION FlowRate
        INPUT litres AS DOUBLE
        DO
            SET "rate" WITH {litres} / 60
        RETURN
            OUTPUT rate
            OUTPUT flow
        """,
        7,
        (),
    ),
    "LOT130": (
        """
        DEFINE ACTION SpeedScale
        ON TOPIC "line2/conveyor/speed" DO
            PUBLISH TOPIC "line2/conveyor/speed_pct" WITH "fast" * 100
        """,
        3,
        (),
    ),
    "LOT131": (
        """
        DEFINE MODEL ValveState COLLAPSED
            ADD STRING "valveId"
            ADD BOOL "open" WITH "half"
        """,
        3,
        (),
    ),
    "LOT132": (
        """
        DEFINE ACTION DefaultSetpoint
        ON START DO
            KEEP TOPIC "hvac/zone1/setpoint" WITH "twenty-one" AS DOUBLE
        """,
        3,
        (),
    ),
    "LOT133": (
        lot(
            TO_CELSIUS,
            """
        DEFINE ACTION OvenTemperature
        ON TOPIC "bakery/oven2/tempF" DO
            CALL ACTION ToCelsius WITH fahrenheit = TRUE RETURN tempC
        """,
        ),
        10,
        (),
    ),
    "LOT140": (
        """
        DEFINE ACTION LineSpeed
        ON CHANGE "factory/+/speed" DO
            SET "line" WITH TOPIC POSITION 2
            PUBLISH TOPIC "dashboard/" + {line} + "/" + TOPIC POSITION 4 WITH PAYLOAD
        """,
        4,
        (),
    ),
    "LOT141": (
        """
        DEFINE ACTION SensorMirror
        ON TOPIC "sensors/#" DO
            PUBLISH TOPIC "mirror/" + TOPIC POSITION 2 WITH PAYLOAD
        """,
        3,
        (),
    ),
}


@pytest.mark.parametrize("code", sorted(FAILING))
def test_failing_example_reports_the_code_on_its_line(code):
    text, line, scripts = FAILING[code]
    reported = _reported(text, scripts)
    assert (code, line) in reported, reported


def test_script_syntax_error_is_reported_in_the_script():
    broken = HIVE_MATH.replace("def spread(weights):", "def spread(weights)")
    site = check_sources([], scripts=[("hive_math.py", broken)])
    found = [(d.code, d.span.file, d.span.line) for d in site.diagnostics]
    assert found == [("LOT124", "hive_math.py", 5)]


def test_second_script_with_the_same_name_is_reported():
    scripts = [("a.py", HIVE_MATH), ("b.py", HIVE_MATH)]
    site = check_sources([], scripts=scripts)
    found = [(d.code, d.span.file, d.span.line) for d in site.diagnostics]
    assert found == [("LOT125", "b.py", 1)]


def test_file_without_a_script_name_is_not_a_script():
    reported = _reported(
        """
        DEFINE ACTION HiveStats
        ON TOPIC "apiary/hive1/weights" DO
            CALL PYTHON "HiveMath.spread" WITH (PAYLOAD) RETURN AS {stats}
        """,
        [("helpers.py", "import json\n\n\ndef spread(weights):\n    return 0\n")],
    )
    assert reported == [("LOT118", 3)]


# ---------------------------------------------------------------- paths


def test_variable_set_in_if_and_else_is_set_afterwards():
    assert not _reported(
        """
        DEFINE ACTION TankAlarm
        ON TOPIC "plant/tank3/level" DO
            IF PAYLOAD > 90 THEN
                SET "alarm" WITH "high"
            ELSE
                SET "alarm" WITH "normal"
            PUBLISH TOPIC "plant/tank3/alarm" WITH {alarm}
        """
    )


def test_variable_set_in_if_without_else_is_not_set_afterwards():
    reported = _reported(
        """
        DEFINE ACTION TankAlarm
        ON TOPIC "plant/tank3/level" DO
            IF PAYLOAD > 90 THEN
                SET "alarm" WITH "high"
            ELSE IF PAYLOAD > 80 THEN
                SET "alarm" WITH "warning"
            PUBLISH TOPIC "plant/tank3/alarm" WITH {alarm}
        """
    )
    assert reported == [("LOT107", 7)]


def test_variable_set_in_every_case_and_default_is_set_afterwards():
    assert not _reported(
        """
        DEFINE ACTION ModeLabel
        ON TOPIC "press/3/mode" DO
            SWITCH PAYLOAD
                CASE "1" THEN
                    SET "label" WITH "auto"
                DEFAULT THEN
                    SET "label" WITH "manual"
            PUBLISH TOPIC "press/3/mode_label" WITH {label}
        """
    )


def test_loop_body_sets_a_variable_before_until():
    assert not _reported(
        """
        DEFINE ACTION WaitForLevel
        ON EVERY 10 SECONDS DO
            LOOP
                SET "level" WITH GET TOPIC "plant/tank3/level"
            UNTIL {level} > 10
            PUBLISH TOPIC "plant/tank3/ready" WITH {level}
        """
    )


def test_inputs_are_set():
    assert not _reported(TO_CELSIUS)


def test_call_results_are_set():
    reported = _reported(
        lot(
            TO_CELSIUS,
            """
        DEFINE ACTION OvenTemperature
        ON TOPIC "bakery/oven2/tempF" DO
            CALL ACTION ToCelsius WITH fahrenheit = PAYLOAD RETURN tempC
            CALL PYTHON "HiveMath.spread" WITH ({tempC}) RETURN AS {stats}
            PUBLISH TOPIC "bakery/oven2/stats" WITH {stats}
        """,
        ),
        [("hive_math.py", HIVE_MATH)],
    )
    assert not reported


def test_output_that_is_an_input_is_set():
    assert not _reported(
        """
        DEFINE ACTION Echo
        INPUT level AS DOUBLE
        DO
            PUBLISH TOPIC "plant/echo" WITH {level}
        RETURN
            OUTPUT level
        """
    )


# ---------------------------------------------------------------- types


def test_payload_text_takes_arithmetic():
    assert not _reported(
        """
        DEFINE ACTION SpeedScale
        ON TOPIC "line2/conveyor/speed" DO
            PUBLISH TOPIC "line2/conveyor/speed_pct" WITH PAYLOAD * 2
            IF PAYLOAD > 100 THEN
                PUBLISH TOPIC "line2/conveyor/alarm" WITH "overspeed"
        """
    )


def test_numeric_text_literal_takes_arithmetic():
    assert not _reported(
        """
        DEFINE ACTION Doubled
        ON EVERY 1 MINUTE DO
            PUBLISH TOPIC "test/doubled" WITH "12" * 2
        """
    )


def test_text_joins_with_plus():
    assert not _reported(
        """
        DEFINE ACTION Label
        ON TOPIC "line2/conveyor/speed" DO
            PUBLISH TOPIC "line2/conveyor/label" WITH "speed: " + PAYLOAD + 2
        """
    )


def test_get_topic_value_fits_an_int_field():
    assert not _reported(
        """
        DEFINE MODEL Counter COLLAPSED
            ADD INT "count"

        DEFINE ACTION CounterSnapshot
        ON EVERY 1 MINUTE DO
            PUBLISH MODEL Counter TO "line4/counter/snapshot" WITH
                count = GET TOPIC "line4/counter/value"
        """
    )


def test_position_within_the_filter_and_before_hash_is_fine():
    assert not _reported(
        """
        DEFINE ACTION SensorMirror
        ON TOPIC "sensors/+/#" DO
            PUBLISH TOPIC "mirror/" + TOPIC POSITION 2 WITH PAYLOAD
        """
    )


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize(
    "site", sorted((REPO / "examples").iterdir()), ids=lambda p: p.name
)
def test_example_sites_check_clean(site: Path):
    checked = check([str(site)])
    assert not checked.diagnostics, [
        (d.code, d.span.file, d.span.line, d.message) for d in checked.diagnostics
    ]


# ------------------------------------------------ fixed after review


def _check(text: str, scripts=()):
    site = check_sources([SourceFile("site.lot", text)], scripts=list(scripts))
    return site.diagnostics


def test_a_counter_that_reads_itself_is_used_before_it_is_set():
    found = _check(
        'DEFINE ACTION Counter\nON TOPIC "line4/pulse" DO\n'
        '    SET "count" WITH {count} + 1\n'
    )
    assert [(d.code, d.span.line) for d in found] == [("LOT106", 3)]
    assert found[0].labels[0].message == "set only here, after this use"


def test_python_results_are_text_that_may_be_numbers():
    script = ("m.py", "# Script Name: M\ndef mean(a, b):\n    return 1.5\n")
    text = (
        'DEFINE ACTION A\nON TOPIC "a/b" DO\n'
        '    CALL PYTHON "M.mean" WITH (PAYLOAD, 2) RETURN AS {avg}\n'
        '    PUBLISH TOPIC "a/c" WITH {avg} * 2\n'
    )
    assert _check(text, scripts=[script]) == []


def test_a_broken_script_is_reported_once_not_at_every_call():
    script = ("m.py", "# Script Name: M\ndef mean(a, b:\n")
    text = (
        'DEFINE ACTION A\nON TOPIC "a/b" DO\n'
        '    CALL PYTHON "M.mean" WITH (PAYLOAD, 2) RETURN AS {avg}\n'
    )
    assert [d.code for d in _check(text, scripts=[script])] == ["LOT124"]


def test_an_output_set_on_some_paths_only():
    text = (
        "DEFINE ACTION F\nINPUT v AS DOUBLE\nDO\n    IF {v} > 1 THEN\n"
        '        SET "w" WITH 1\nRETURN\n    OUTPUT w\n'
    )
    assert [(d.code, d.span.line) for d in _check(text)] == [("LOT107", 7)]


def test_an_inheritance_cycle_is_one_error():
    text = (
        'DEFINE MODEL A FROM B\n    ADD STRING "a"\n'
        'DEFINE MODEL B FROM A\n    ADD STRING "b"\n'
    )
    assert [d.code for d in _check(text)] == ["LOT117"]


@pytest.mark.parametrize(
    ("text", "reported"),
    [('"3"', False), ('"0"', False), ('"TRUE"', False), ('"yes"', True)],
)
def test_bool_casts_of_text_literals_follow_the_runtime(text, reported):
    # lot_runtime.values.as_bool reads true/false and numbers (non-zero true).
    codes = [
        code
        for code, _ in _reported(
            f"""
        DEFINE ACTION Flag
        ON START DO
            KEEP TOPIC "flags/a" WITH {text} AS BOOL
        """
        )
    ]
    assert ("LOT132" in codes) is reported, codes
