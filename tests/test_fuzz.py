"""Bad input never crashes the front end.

Properties: for any bytes, and for corpus files mutated at random, ``lotc
check --format json`` prints valid JSON with the documented fields and exits
0 or 1, never 2; the in-process front end never raises.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lotc.compile import check_sources
from lotc.frontend.source import SourceFile

FIELDS = {
    "severity",
    "code",
    "slug",
    "message",
    "file",
    "line",
    "column",
    "end_line",
    "end_column",
    "notes",
    "help",
}
LOT_WORDS = [
    "DEFINE",
    "ACTION",
    "MODEL",
    "ROUTE",
    "RULE",
    "ON",
    "TOPIC",
    "EVERY",
    "DO",
    "SET",
    "WITH",
    "PUBLISH",
    "KEEP",
    "IF",
    "THEN",
    "ELSE",
    "ADD",
    "STRING",
    "PAYLOAD",
    "AS",
    "DOUBLE",
    "GET",
    "JSON",
    "IN",
    "CALL",
    "PYTHON",
    "RETURN",
    "INPUT",
    "OUTPUT",
    "AND",
    "OR",
    "NOT",
    "{x}",
    '"a/b"',
    "'502'",
    "5",
    "-",
    "+",
    "(",
    ")",
    "{",
    "}",
    ":",
    ",",
    "=",
    "==",
    "\n",
    "\n    ",
    "\n        ",
    "\t",
    "//",
    "--",
    "/*",
    "*/",
    '"',
    "...",
    "TIMESTAMP",
    "MAPPING",
    "TAG",
]


def _front_end_survives(text: str) -> None:
    site = check_sources([SourceFile("fuzz.lot", text)])
    for diagnostic in site.diagnostics:
        assert diagnostic.span.line >= 1 and diagnostic.span.column >= 1
        assert diagnostic.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_gives_diagnostics_not_exceptions(text):
    _front_end_survives(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LOT_WORDS), max_size=60))
def test_lot_shaped_token_soup_never_crashes(words):
    _front_end_survives(" ".join(words))


def _mutations(corpus, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    files = sorted(corpus.glob("*/*.lot"))
    out = []
    for _ in range(count):
        text = rng.choice(files).read_text(encoding="utf-8", errors="replace")
        chars = list(text)
        for _ in range(rng.randint(1, 6)):
            if not chars:
                break
            position = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.4:
                del chars[position : position + rng.randint(1, 8)]
            elif action < 0.7:
                chars.insert(
                    position, rng.choice(["\t", " ", "\n", '"', "{", "(", "-", "#"])
                )
            else:
                start = rng.randrange(len(chars))
                chars[position:position] = chars[start : start + rng.randint(1, 20)]
        out.append("".join(chars))
    return out


def test_mutated_corpus_files_never_crash(corpus):
    for text in _mutations(corpus, count=400, seed=20261204):
        _front_end_survives(text)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_cli_json_output_is_valid_for_any_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "input.lot"
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "lotc.cli", "check", "--format", "json", str(path)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr.decode(errors="replace")
    document = json.loads(result.stdout)
    for item in document["diagnostics"]:
        assert set(item) == FIELDS
        assert item["severity"] in ("error", "warning", "note")
    assert (result.returncode == 1) == any(
        item["severity"] == "error" for item in document["diagnostics"]
    )


REGRESSIONS = [
    # an indented header whose re-parse found the same problem again recursed
    'DEFINE ACTION A\n ON"x" DO\n    PSH TOPIC "y" MES GE 1',
    # an unparsed entity once leaked the previous file's indentation unit
    'DEFINE MOEL Co"nf WITH TOPIC "d/c" RETAIN\n',
]


def test_inputs_that_once_crashed():
    for text in REGRESSIONS:
        _front_end_survives(text)
