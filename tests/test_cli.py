"""The command line: exit codes, output formats, notebooks, internal errors."""

from __future__ import annotations

import json

import pytest

from lotc import __version__, cli
from lotc.frontend import messages
from lotc.frontend.diagnostics import Span
from lotc.frontend.render import render_human

GOOD = 'DEFINE ACTION A\nON TOPIC "in" DO\n    PUBLISH TOPIC "out" WITH PAYLOAD\n'
BAD = 'DEFINE ACTION A\nON TOPIC "in"\n    PUBLISH TOPIC "out" WITH PAYLOAD\n'


@pytest.fixture
def write(tmp_path):
    def _write(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def run(capsys, *argv):
    status = cli.main(list(map(str, argv)))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_clean_file_exits_zero_and_prints_nothing(capsys, write):
    status, out, err = run(capsys, "check", write("a.lot", GOOD))
    assert (status, out, err) == (0, "", "")


def test_errors_exit_one_in_rustc_layout(capsys, write):
    path = write("a.lot", BAD)
    status, _, err = run(capsys, "check", path)
    assert status == 1
    assert err.startswith("error[LOT009]: trigger line is missing `DO`\n")
    assert f" --> {path}:2:14\n" in err
    assert '2 | ON TOPIC "in"\n' in err
    assert "  |              ^\n" in err
    assert "= help: " in err
    assert err.rstrip().endswith("lotc: 1 error in 1 file")


def test_short_format_is_one_line_per_diagnostic(capsys, write):
    path = write("a.lot", BAD)
    status, _, err = run(capsys, "check", "--format", "short", path)
    assert status == 1
    assert err == f"{path}:2:14: error[LOT009]: trigger line is missing `DO`\n"


def test_json_format(capsys, write):
    path = write("a.lot", BAD)
    status, out, _ = run(capsys, "check", "--format", "json", path)
    (item,) = json.loads(out)["diagnostics"]
    assert status == 1
    assert item["code"] == "LOT009" and item["slug"] == "missing-do"
    assert (item["line"], item["column"], item["end_line"], item["end_column"]) == (
        2,
        14,
        2,
        15,
    )
    assert item["severity"] == "error" and item["notes"] == [] and item["help"]


def test_warnings_alone_exit_zero(capsys, write):
    status, _, err = run(capsys, "check", write("a.lot", GOOD.replace("    ", "  ")))
    assert status == 0 and "warning[LOT007]" in err


DEVICE = """DEFINE ROUTE Press WITH TYPE SIEMENS_S7
    ADD S7_CONFIG
        WITH IP "10.0.0.9"
        WITH CPU_TYPE "LOGO"
    ADD MAPPING Cycle
        ADD TAG Tonnage
            WITH ADDRESS "DB1.DBW4"
            WITH DATA_TYPE "REAL"
"""


def test_check_reports_device_addresses_but_not_back_end_limits(capsys, write):
    status, out, err = run(capsys, "check", "--format", "short", write("a.lot", DEVICE))
    assert status == 1
    # The REAL on a word is a mistake in the program (LOT412); that the back
    # end cannot reach a LOGO (LOT403) is for `lotc build` to say.
    assert "LOT412" in err and "REAL takes 4 bytes" in err
    assert "LOT403" not in err


def test_folders_recurse_and_are_one_site(capsys, write):
    write("site/a.lot", GOOD)
    write("site/deeper/b.lot", GOOD)
    status, _, err = run(
        capsys, "check", "--format", "short", write("x", "").parent / "site"
    )
    assert status == 1
    assert "error[LOT101]: action `A` is defined more than once" in err


def test_notebook_cells(capsys, write):
    notebook = [
        {"kind": 1, "language": "markdown", "value": "# Notes"},
        {"kind": 2, "language": "lot", "value": GOOD},
        {"kind": 2, "language": "python", "value": "# Script Name: S\n"},
        {"kind": 2, "language": "lot", "value": BAD.replace("ACTION A", "ACTION B")},
    ]
    path = write("n.lotnb", json.dumps(notebook))
    status, _, err = run(capsys, "check", "--format", "short", path)
    assert status == 1
    assert err == f"{path}#cell4:2:14: error[LOT009]: trigger line is missing `DO`\n"


def test_broken_notebook_is_reported_not_raised(capsys, write):
    status, _, err = run(capsys, "check", "--format", "short", write("n.lotnb", "{"))
    assert status == 1 and "error[LOT901]" in err


def test_usage_errors_exit_two(capsys, write, tmp_path):
    assert run(capsys, "check", tmp_path / "missing.lot")[0] == 2
    with pytest.raises(SystemExit) as raised:
        cli.main(["check", "--format", "xml", str(write("a.lot", GOOD))])
    assert raised.value.code == 2
    assert cli.main([]) == 2


def test_internal_error_names_the_version_and_hides_the_traceback(
    capsys, write, monkeypatch
):
    import lotc.compile

    def broken(paths):
        raise RuntimeError("boom")

    monkeypatch.setattr(lotc.compile, "check", broken)
    path = write("a.lot", GOOD)
    status, _, err = run(capsys, "check", path)
    assert status == 2
    assert f"lotc {__version__}: internal compiler error: RuntimeError: boom" in err
    assert "Traceback" not in err
    status, _, err = run(capsys, "check", "--traceback", path)
    assert status == 2 and "Traceback" in err
    status, out, _ = run(capsys, "check", "--format", "json", path)
    assert json.loads(out)["diagnostics"][0]["code"] == "LOT900"


def test_colour_only_when_asked():
    diagnostic = messages.MISSING_DO.at(Span.point("f.lot", 1, 1))
    plain = render_human(diagnostic, lambda file, line: "ON START", colour=False)
    painted = render_human(diagnostic, lambda file, line: "ON START", colour=True)
    assert "\x1b[" not in plain and "\x1b[" in painted


def test_no_colour_when_not_a_terminal(capsys, write):
    _, _, err = run(capsys, "check", write("a.lot", BAD))
    assert "\x1b[" not in err


def test_explain_unknown_code_exits_two(capsys):
    status, _, err = run(capsys, "explain", "LOT999")
    assert status == 2 and "no such diagnostic code" in err
