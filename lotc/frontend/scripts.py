"""Python scripts of a site, read for what CALL PYTHON needs to know.

Input: a ``.py`` file (or a notebook's Python cell) whose first lines hold
``# Script Name: <Name>``.  Output: a ``PythonScript`` with each top-level
function and how many positional arguments it takes, or a diagnostic when the
script does not parse.  The script is only read, never run.
"""

from __future__ import annotations

import ast as python_ast
import re

from lotc.frontend import messages
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.site import PythonFunction, PythonScript

SCRIPT_NAME = re.compile(r"^#\s*Script Name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
HEADER_LINES = 10


def script_name(text: str) -> str | None:
    """The declared name, when one of the first lines declares it."""
    for line in text.splitlines()[:HEADER_LINES]:
        match = SCRIPT_NAME.match(line.strip())
        if match:
            return match.group(1)
    return None


def read_script(text: str, file: str) -> tuple[PythonScript | None, list[Diagnostic]]:
    name = script_name(text)
    if name is None:
        return None, []
    try:
        tree = python_ast.parse(text, filename=file)
    except SyntaxError as error:
        line = error.lineno or 1
        span = Span.point(file, line, max(error.offset or 1, 1))
        reason = error.msg
        return None, [messages.SCRIPT_SYNTAX.at(span, name=name, reason=reason)]
    functions = {
        node.name: _describe(node)
        for node in tree.body
        if isinstance(node, (python_ast.FunctionDef, python_ast.AsyncFunctionDef))
    }
    return PythonScript(name, file, functions), []


def _describe(node: python_ast.FunctionDef) -> PythonFunction:
    arguments = node.args
    positional = len(arguments.posonlyargs) + len(arguments.args)
    required = positional - len(arguments.defaults)
    maximum = None if arguments.vararg else positional
    return PythonFunction(node.name, required, maximum, node.lineno)
