"""Formatting: LoT source files in, the same programs in canonical layout out.

Input: a ``SourceFile``.  Output: its text in the one layout ``lotc fmt``
writes, or None when ``parse_source`` reports a syntax error (an error coded
``LOT0xx``): a file that does not parse is never rewritten.  The only error
tolerated is ``LOT005`` (tabs in indentation), because the parser reads such a
file completely and rewriting the tabs is what its help promises.

The canonical layout: 4 spaces per level; ``DEFINE`` and an action's header
lines (trigger line ending in ``DO``, ``INPUT``, ``DO``, ``RETURN``) in column 0;
every statement on one line except the block forms (IF, SWITCH, LOOP, PUBLISH
MODEL with one ``field = value`` per line); one space around operators; strings
and numbers exactly as written; parentheses exactly where they were written;
one blank line between entities, at most one kept between statements; LF line
ends, no trailing spaces, one final newline.

Comments are kept verbatim: one on its own line goes on its own line before
the construct that follows it, at that construct's indentation; one after code
goes at the end of the output line that now holds that code, two spaces after
it (several such comments of a joined statement follow one another).  Where
the tree keeps no span for a keyword (``DO``, ``ELSE``, ``RETURN``, ...), its
line is found in the source.  Entities lotc does not parse (PANEL, THEME, ...)
are copied unchanged.

What holds afterwards: formatting the output again changes nothing, and the
output parses to the same tree as the input, spans aside, except for fields
that record only how something was spelled: ``Set.separator`` (every SET is
written with ``WITH``), ``Timestamp.legacy`` (``TIMESTAMP WITH "f"`` becomes
``TIMESTAMP "f"``), ``PublishModel.block`` and ``Action.layout``.
``format_paths`` checks both properties before it writes a file.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from lotc.frontend import ast
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.parser import parse_source, split_entities
from lotc.frontend.source import Comment, SourceFile, collect_paths

__all__ = ["SPELLING_FIELDS", "comparable", "format_paths", "format_source"]

INDENT = "    "
TOLERATED_ERRORS = frozenset({"LOT005"})
# (node class, field) pairs that record spelling only; formatting may change them.
SPELLING_FIELDS = frozenset(
    {
        (ast.Set, "separator"),
        (ast.Timestamp, "legacy"),
        (ast.PublishModel, "block"),
        (ast.Action, "layout"),
    }
)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def format_source(source: SourceFile) -> str | None:
    """The canonical text of ``source``, or None if it has syntax errors."""
    module, diagnostics = parse_source(source)
    if has_syntax_errors(diagnostics):
        return None
    return _Printer(source).module(module)


def has_syntax_errors(diagnostics: list[Diagnostic]) -> bool:
    """Errors coded LOT0xx (and LOT9xx, the parser giving up) stop formatting."""
    return any(
        d.is_error
        and (d.code < "LOT100" or d.code >= "LOT900")
        and d.code not in TOLERATED_ERRORS
        for d in diagnostics
    )


def comparable(node):
    """``node`` as nested tuples without spans and spelling-only fields."""
    if isinstance(node, tuple | list):
        return tuple(comparable(item) for item in node)
    if not dataclasses.is_dataclass(node) or isinstance(node, Span):
        return node
    kind = type(node)
    kept = [
        (f.name, comparable(getattr(node, f.name)))
        for f in dataclasses.fields(node)
        if f.name != "span" and (kind, f.name) not in SPELLING_FIELDS
    ]
    return (kind.__name__, *kept)


# ------------------------------------------------------------------ expressions


def expression(node: ast.Expr) -> str:
    """One expression on one line, with the tokens it was parsed from."""
    return _EXPRESSIONS[type(node)](node)


def _unary(node: ast.Unary) -> str:
    operand = expression(node.operand)
    if node.operator == "NOT":
        return "NOT " + operand
    # `--` would start a comment.
    return "- " + operand if operand.startswith("-") else "-" + operand


def _random_between(node: ast.RandomBetween) -> str:
    kind = f"{node.kind} " if node.kind else ""
    return f"RANDOM {kind}BETWEEN {node.low} AND {node.high}"


def _filter(node: ast.Filter) -> str:
    if node.chained:
        return (
            f"{expression(node.source)} AND_THEN FILTER USING REGEX {node.pattern.raw}"
        )
    return f"FILTER {expression(node.source)} USING REGEX {node.pattern.raw}"


def _replace(node: ast.Replace) -> str:
    old, new = expression(node.old), expression(node.new)
    if node.chained:
        return f"{expression(node.source)} AND_THEN REPLACE {old} WITH {new}"
    return f"REPLACE {old} WITH {new} IN {expression(node.source)}"


def _trim(node: ast.Trim) -> str:
    if node.chained:
        return expression(node.source) + " AND_THEN TRIM"
    return "TRIM " + expression(node.source)


def _split(node: ast.Split) -> str:
    if node.chained:
        return expression(node.source) + " AND_THEN SPLIT USING CSV"
    return f"SPLIT {expression(node.source)} USING CSV"


def _cast(node: ast.Cast) -> str:
    text = f"{expression(node.operand)} AS {node.type_name}"
    return f"{text} {node.format.raw}" if node.format else text


def _get_model(node: ast.GetModel) -> str:
    value = expression(node.value)
    return (
        f"GET MODEL {node.model.raw} FROM {node.route.raw} "
        f"WHERE {node.key} EQUALS {value}"
    )


def _if_value(node: ast.IfValue) -> str:
    condition, then = expression(node.condition), expression(node.then)
    return f"IF {condition} THEN {then} ELSE {expression(node.otherwise)}"


def _json_object(node: ast.JsonObject) -> str:
    members = (f"{m.key.raw}: {expression(m.value)}" for m in node.members)
    return "{" + ", ".join(members) + "}"


_EXPRESSIONS = {
    ast.Number: lambda n: n.text,
    ast.String: lambda n: n.raw,
    ast.Boolean: lambda n: n.raw,
    ast.Empty: lambda n: "EMPTY",
    ast.Variable: lambda n: "{" + n.name + "}",
    ast.BareName: lambda n: n.name,
    ast.Payload: lambda n: "PAYLOAD",
    ast.TopicPosition: lambda n: f"TOPIC POSITION {n.index}",
    ast.SessionValue: lambda n: n.keyword,
    ast.GetTopic: lambda n: "GET TOPIC " + expression(n.topic),
    ast.GetJson: lambda n: f"GET JSON {n.path.raw} IN {expression(n.source)}",
    ast.GetEnv: lambda n: "GET ENV " + n.name.raw,
    ast.GetSecret: lambda n: "GET SECRET " + n.name.raw,
    ast.GetModel: _get_model,
    ast.Timestamp: lambda n: "TIMESTAMP " + n.format.raw,
    ast.RandomBetween: _random_between,
    ast.RandomUuid: lambda n: "RANDOM UUID",
    ast.Filter: _filter,
    ast.Replace: _replace,
    ast.Trim: _trim,
    ast.Split: _split,
    ast.Cast: _cast,
    ast.Unary: _unary,
    ast.Binary: lambda n: f"{expression(n.left)} {n.operator} {expression(n.right)}",
    ast.Paren: lambda n: f"({expression(n.inner)})",
    ast.IfValue: _if_value,
    ast.JsonObject: _json_object,
}


def _arguments(arguments: tuple[ast.Argument, ...]) -> str:
    return ", ".join(f"{a.name} = {expression(a.value)}" for a in arguments)


def _result(result: str | None) -> str:
    return f" RETURN AS {{{result}}}" if result is not None else ""


def _quote(text: str) -> str:
    """A literal for decoded ``text``, for when the source cannot supply one."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


# ------------------------------------------------------------------ lines


@dataclass(frozen=True)
class _Line:
    """One output line.  ``anchor`` is the source line its construct starts
    on, which decides where comments go; ``spaced`` lets a blank source line
    above it survive (statements and items, not header or clause lines)."""

    depth: int
    text: str
    anchor: int
    spaced: bool = False
    entity_start: bool = False
    verbatim: bool = False


class _Printer:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.code_lines = source.code.split("\n")
        self.lines: list[_Line] = []
        self.copied: list[range] = []

    def module(self, module: ast.Module) -> str:
        for entity in module.entities:
            self.entity(entity)
        comments = [c for c in self.source.comments if not self._is_copied(c.line)]
        text = "\n".join(_Weaver(self.source, comments).weave(self.lines))
        return text + "\n" if text else ""

    def emit(self, depth: int, text: str, anchor: int, **flags) -> None:
        # Anchors never go back, so comments can be placed by bisection.
        floor = self.lines[-1].anchor if self.lines else 1
        self.lines.append(_Line(depth, text, max(anchor, floor), **flags))

    # -------------------------------------------------------------- source text

    def _slice(self, span: Span) -> str:
        lines = self.code_lines[span.line - 1 : span.end_line]
        if not lines:
            return ""
        if len(lines) == 1:
            return lines[0][span.column - 1 : span.end_column - 1]
        lines[-1] = lines[-1][: span.end_column - 1]
        lines[0] = lines[0][span.column - 1 :]
        return "\n".join(lines)

    def literal(self, span: Span, text: str) -> str:
        """The last string literal written inside ``span``, as written."""
        found = _STRING.findall(self._slice(span))
        return found[-1] if found else _quote(text)

    def name(self, name: ast.Name) -> str:
        return self.literal(name.span, name.text) if name.quoted else name.text

    def keyword_line(self, word: str, after: int, column: int | None = None) -> int:
        """The line of a keyword the tree keeps no span for: the first line
        below ``after`` that starts with ``word`` (at ``column`` if given),
        looked for up to the end of the block or entity; else ``after``."""
        pattern = re.compile(rf"[ \t]*{word}(?![A-Za-z0-9_])")
        for number in range(after + 1, len(self.code_lines) + 1):
            text = self.code_lines[number - 1]
            indent = len(text) - len(text.lstrip())
            if pattern.match(text) and (column is None or indent == column - 1):
                return number
            if text.startswith("DEFINE") or (
                text.strip() and column is not None and indent < column - 1
            ):
                break
        return after

    def _is_copied(self, line: int) -> bool:
        return any(line in lines for lines in self.copied)

    # -------------------------------------------------------------- entities

    def entity(self, entity: ast.Entity) -> None:
        handler = {
            ast.Action: self.action,
            ast.Model: self.model,
            ast.Route: self.route,
            ast.Rule: self.rule,
            ast.Unsupported: self.unsupported,
        }[type(entity)]
        handler(entity)

    def action(self, action: ast.Action) -> None:
        line = action.span.line
        self.emit(0, "DEFINE ACTION " + self.name(action.name), line, entity_start=True)
        if action.trigger is not None:
            trigger = action.trigger
            self.emit(0, _trigger(trigger) + " DO", trigger.span.line)
        else:
            for item in action.inputs:
                self.emit(0, f"INPUT {item.name} AS {item.type_name}", item.span.line)
            after = action.inputs[-1].span.line if action.inputs else line
            self.emit(0, "DO", self.keyword_line("DO", after, column=1))
        self.block(action.body, 1)
        if action.outputs:
            self.emit(0, "RETURN", self.keyword_line("RETURN", line, column=1))
            for output in action.outputs:
                self.emit(1, "OUTPUT " + output.name, output.span.line)
        if action.description is not None:
            description = action.description
            self.emit(0, "DESCRIPTION " + description.raw, description.span.line)

    def model(self, model: ast.Model) -> None:
        words = ["DEFINE MODEL", self.name(model.name)]
        words.extend(self.model_option(option) for option in model.options)
        self.emit(0, " ".join(words), model.span.line, entity_start=True)
        for item in model.items:
            self.model_item(item, 1)

    def model_option(self, option: ast.ModelOption) -> str:
        if option.kind == "FROM":
            return "FROM " + self.name(option.name)
        if option.kind == "TOPIC":
            return "WITH TOPIC " + self.literal(option.span, option.value or "")
        if option.kind in ("RETAIN", "FORMAT"):
            return " ".join(("WITH", option.kind, option.value or "")).rstrip()
        return option.value or option.kind

    def model_item(self, item: ast.ModelItem, depth: int) -> None:
        line = item.span.line
        if isinstance(item, ast.ModelCollection):
            text = f"ADD COLLECTION {item.name.raw} OF {self.name(item.model)}"
        elif isinstance(item, ast.ModelStore):
            text = f"STORE IN {item.route.raw} WITH TABLE {item.table.raw}"
            text += _when(item.when)
        elif isinstance(item, ast.ModelFetch):
            text = f"FETCH FROM {item.route.raw} WITH TABLE {item.table.raw}"
            text += _when(item.when) + (f" LIMIT {item.limit}" if item.limit else "")
        else:
            type_name = f"{item.type_name} " if item.type_name else ""
            text = f"ADD {type_name}{item.name.raw}{_field_source(item.source)}"
        self.emit(depth, text, line, spaced=True)
        for child in getattr(item, "children", ()):
            self.model_item(child, depth + 1)

    def route(self, route: ast.Route) -> None:
        header = "DEFINE ROUTE " + self.name(route.name)
        if route.route_type is not None:
            header += " WITH TYPE " + route.route_type
        self.emit(0, header, route.span.line, entity_start=True)
        for item in route.items:
            self.route_item(item, 1)

    def route_item(self, item, depth: int) -> None:
        line = item.span.line
        if isinstance(item, ast.RouteBlock):
            name = f" {self.name(item.name)}" if item.name else ""
            self.emit(depth, f"ADD {item.kind}{name}", line, spaced=True)
            for child in item.items:
                self.route_item(child, depth + 1)
        elif isinstance(item, ast.RouteStore):
            text = f"STORE {item.route} WITH {item.key} {item.value.raw}"
            self.emit(depth, text, line, spaced=True)
        else:
            self.emit(depth, "WITH " + self.setting(item), line, spaced=True)

    def setting(self, setting: ast.Setting) -> str:
        value = setting.value
        if value.kind == "every":
            return f"EVERY {value.text} {value.unit}"
        if value.kind == "quoted":
            text = f"'{value.text}'"
        elif value.kind in ("string", "env", "secret"):
            text = self.literal(value.span, value.text)
            prefix = {"env": "GET ENV ", "secret": "GET SECRET "}.get(value.kind, "")
            text = prefix + text
        else:
            text = value.text
        return f"{setting.key} {text}"

    def rule(self, rule: ast.Rule) -> None:
        words = ["DEFINE RULE", self.name(rule.name)]
        if rule.priority is not None:
            words.append("WITH PRIORITY " + rule.priority)
        if rule.scope is not None:
            words.append("FOR " + rule.scope)
        if rule.topic is not None:
            words.append("TO TOPIC " + rule.topic.raw)
        if rule.layout == "line":
            words.append(rule.verdict)
        line = rule.span.line
        self.emit(0, " ".join(words), line, entity_start=True)
        if rule.layout != "line":
            self.rule_body(rule, line)

    def rule_body(self, rule: ast.Rule, line: int) -> None:
        if rule.condition is None:
            self.emit(1, rule.verdict, self.keyword_line(rule.verdict, line))
            return
        condition = "IF " + self.rule_condition(rule.condition) + " THEN"
        if_line = rule.condition.span.line
        if rule.layout == "inline":
            otherwise = f" ELSE {rule.otherwise}" if rule.otherwise else ""
            self.emit(1, f"{condition} {rule.verdict}{otherwise}", if_line)
            return
        self.emit(1, condition, if_line)
        self.emit(2, rule.verdict, self.keyword_line(rule.verdict, if_line))
        if rule.otherwise is not None:
            else_line = self.keyword_line("ELSE", if_line)
            self.emit(1, "ELSE", else_line)
            self.emit(2, rule.otherwise, self.keyword_line(rule.otherwise, else_line))

    def rule_condition(self, node: ast.RuleCondition) -> str:
        if isinstance(node, ast.RuleLogic):
            left, right = (
                self.rule_condition(node.left),
                self.rule_condition(node.right),
            )
            return f"{left} {node.operator} {right}"
        if isinstance(node, ast.RuleNot):
            return "NOT " + self.rule_condition(node.operand)
        if isinstance(node, ast.RuleParen):
            return f"({self.rule_condition(node.inner)})"
        return self.rule_check(node)

    def rule_check(self, check: ast.RuleCheck) -> str:
        if check.subject == "TOPIC":
            return "TOPIC EXISTS " + expression(check.topic)
        if check.test == "IS POSITION":
            return f"CLIENTID IS TOPIC POSITION {check.value}"
        value = check.value or ""
        written = self._slice(check.span).rstrip()
        if check.test != "HAS" or written.endswith('"'):
            value = self.literal(check.span, value)
        if check.subject == "GET TOPIC":
            return f"GET TOPIC {expression(check.topic)} IS {value}"
        test = "MATCHES REGEX" if check.test == "MATCHES" else check.test
        return f"{check.subject} {test} {value}"

    def unsupported(self, entity: ast.Unsupported) -> None:
        """Copy an entity lotc does not parse exactly as it was written."""
        chunks, _ = split_entities(self.source)
        chunk = next(c for c in chunks if c.first_line == entity.span.line)
        count = len(chunk.lines)
        while count > 1 and not chunk.lines[count - 1].strip():
            count -= 1
        first = chunk.first_line
        self.copied.append(range(first, first + count))
        for number in range(first, first + count):
            text = self.source.line_text(number)
            self.emit(0, text, number, entity_start=number == first, verbatim=True)

    # -------------------------------------------------------------- statements

    def block(self, body: tuple[ast.Statement, ...], depth: int) -> None:
        for statement in body:
            self.statement(statement, depth)

    def statement(self, node: ast.Statement, depth: int) -> None:
        line = node.span.line
        if isinstance(node, ast.If) and not node.inline:
            self.if_block(node, depth)
        elif isinstance(node, ast.Switch):
            self.switch(node, depth)
        elif isinstance(node, ast.Loop):
            self.emit(depth, "LOOP", line, spaced=True)
            self.block(node.body, depth + 1)
            self.emit(depth, "UNTIL " + expression(node.until), node.until.span.line)
        elif isinstance(node, ast.PublishModel) and node.fields:
            self.publish_model(node, depth)
        else:
            self.emit(depth, self.plain(node), line, spaced=True)

    def if_block(self, node: ast.If, depth: int) -> None:
        column = node.span.column
        for index, branch in enumerate(node.branches):
            opener = "IF" if index == 0 else "ELSE IF"
            text = f"{opener} {expression(branch.condition)} THEN"
            self.emit(depth, text, branch.span.line, spaced=index == 0)
            self.block(branch.body, depth + 1)
        if node.otherwise is not None:
            after = node.branches[-1].span.line
            self.emit(depth, "ELSE", self.keyword_line("ELSE", after, column))
            self.block(node.otherwise, depth + 1)

    def switch(self, node: ast.Switch, depth: int) -> None:
        self.emit(
            depth, "SWITCH " + expression(node.subject), node.span.line, spaced=True
        )
        for case in node.cases:
            text = f"CASE {expression(case.value)} THEN"
            self.emit(depth + 1, text, case.span.line, spaced=True)
            self.block(case.body, depth + 2)
        if node.default is not None:
            after, column = node.span.line, None
            if node.cases:
                after, column = node.cases[-1].span.line, node.cases[-1].span.column
            line = self.keyword_line("DEFAULT", after, column)
            self.emit(depth + 1, "DEFAULT THEN", line, spaced=True)
            self.block(node.default, depth + 2)

    def publish_model(self, node: ast.PublishModel, depth: int) -> None:
        model, topic = self.name(node.model), expression(node.topic)
        text = f"PUBLISH MODEL {model} TO {topic} WITH"
        self.emit(depth, text, node.span.line, spaced=True)
        for field in node.fields:
            assignment = ".".join(field.path) + " = " + expression(field.value)
            self.emit(depth + 1, assignment, field.span.line)

    def plain(self, node: ast.Statement) -> str:
        """A statement that fits on one line (everything IF ... THEN x can hold)."""
        if isinstance(node, ast.Set):
            return f"SET {node.name.raw} WITH {expression(node.value)}"
        if isinstance(node, ast.PublishTopic | ast.KeepTopic):
            verb = "PUBLISH" if isinstance(node, ast.PublishTopic) else "KEEP"
            return (
                f"{verb} TOPIC {expression(node.topic)} WITH {expression(node.value)}"
            )
        if isinstance(node, ast.PublishModel):
            return f"PUBLISH MODEL {self.name(node.model)} TO {expression(node.topic)}"
        if isinstance(node, ast.If):
            return self.inline_if(node)
        if isinstance(node, ast.CallAction):
            return self.call_action(node)
        if isinstance(node, ast.CallPython):
            return _call_python(node)
        if isinstance(node, ast.CallService):
            return _call_service(node)
        if isinstance(node, ast.TriggerRoute):
            return self.trigger_route(node)
        if isinstance(node, ast.KeepStore):
            return f"KEEP {node.store} {node.name.raw} WITH {expression(node.value)}"
        assert isinstance(node, ast.DeleteStore), node
        return f"DELETE {node.store} {node.name.raw}"

    def inline_if(self, node: ast.If) -> str:
        branch = node.branches[0]
        text = f"IF {expression(branch.condition)} THEN {self.plain(branch.body[0])}"
        if node.otherwise:
            text += " ELSE " + self.plain(node.otherwise[0])
        return text

    def call_action(self, node: ast.CallAction) -> str:
        text = "CALL ACTION " + self.name(node.action)
        if node.arguments:
            text += " WITH " + _arguments(node.arguments)
        if node.returns:
            text += " RETURN " + ", ".join(node.returns)
        return text

    def trigger_route(self, node: ast.TriggerRoute) -> str:
        text = f"TRIGGER {node.event.raw} TO {expression(node.target)}"
        if node.value is not None:
            text += " WITH " + expression(node.value)
        if node.mapping is not None:
            text += " FOR " + self.name(node.mapping)
        return text


def _trigger(trigger: ast.Trigger) -> str:
    if trigger.kind == "EVERY":
        return f"ON EVERY {trigger.amount} {trigger.unit}"
    if trigger.kind == "DAY":
        return f"ON EVERY {trigger.day} AT {trigger.text.raw}"
    text = f" {trigger.text.raw}" if trigger.text is not None else ""
    return f"ON {trigger.kind}{text}"


def _when(when: ast.Expr | None) -> str:
    return f" WHEN {expression(when)}" if when is not None else ""


def _field_source(source: ast.FieldSource | None) -> str:
    if source is None:
        return ""
    if source.kind == "value":
        return " WITH " + expression(source.value)
    suffix = " AS TRIGGER" if source.kind == "trigger" else ""
    return f" WITH TOPIC {source.topic.raw}{suffix}"


def _call_python(node: ast.CallPython) -> str:
    text = "CALL PYTHON " + node.target.raw
    if node.arguments is not None:
        text += " WITH (" + ", ".join(expression(a) for a in node.arguments) + ")"
    return text + _result(node.result)


def _call_service(node: ast.CallService) -> str:
    text = f"CALL {node.kind} {node.target.raw}"
    if node.method is not None:
        text += " METHOD " + node.method.raw
    if node.arguments:
        arguments = _arguments(node.arguments)
        text += f" WITH ({arguments})" if node.parenthesised else f" WITH {arguments}"
    return text + _result(node.result)


# ------------------------------------------------------------------ comments


class _Weaver:
    """Puts the comments back between and after the printed lines."""

    def __init__(self, source: SourceFile, comments: list[Comment]) -> None:
        self.source = source
        self.own = [c for c in comments if c.own_line]
        self.trailing = [c for c in comments if not c.own_line]
        self.pending = 0  # the first own-line comment not yet placed
        self.out: list[str] = []
        self.last_depth = 0

    def weave(self, lines: list[_Line]) -> list[str]:
        tails = self._tails(lines)
        for index, line in enumerate(lines):
            spaced = line.spaced or line.entity_start
            placed = self._comments_before(line, spaced)
            text = line.text if line.verbatim else INDENT * line.depth + line.text
            if index in tails:
                text += "  " + "  ".join(tails[index])
            force = line.entity_start and not placed
            self._put(line.depth, text, line.anchor, spaced, force, indent=False)
        for comment in self.own[self.pending :]:
            self._put(0, comment.text, comment.line, True, False)
        return [row.rstrip() for row in "\n".join(self.out).split("\n")]

    def _comments_before(self, line: _Line, spaced: bool) -> bool:
        """Place the own-line comments written before ``line``; True if any."""
        start = self.pending
        while self.pending < len(self.own):
            comment = self.own[self.pending]
            if comment.line > line.anchor:
                break
            # An entity starts after a blank line, before its leading comments.
            force = line.entity_start and self.pending == start
            self._put(line.depth, comment.text, comment.line, spaced, force)
            self.pending += 1
        return self.pending > start

    def _tails(self, lines: list[_Line]) -> dict[int, list[str]]:
        """Trailing comments by the index of the line their code now starts."""
        anchors = [line.anchor for line in lines]
        tails: dict[int, list[str]] = {}
        for comment in self.trailing:
            index = max(bisect_right(anchors, comment.line) - 1, 0)
            tails.setdefault(index, []).append(comment.text)
        return tails

    def _put(self, depth, text, line, spaced, force, indent=True) -> None:
        if self.out:
            kept = spaced and depth <= self.last_depth and self._blank_above(line)
            if force or kept:
                self.out.append("")
        self.out.append(INDENT * depth + text if indent else text)
        self.last_depth = depth

    def _blank_above(self, line: int) -> bool:
        return line > 1 and not self.source.line_text(line - 1).strip()


# ------------------------------------------------------------------ files


def format_paths(paths: list[str], check_only: bool) -> int:
    """Format files and folders in place (or, with ``check_only``, report the
    files that would change).  Returns the exit status for ``lotc fmt``."""
    found, missing = collect_paths(paths)
    counts = {"changed": 0, "unchanged": 0, "failed": 0, "internal": 0}
    for name in missing:
        _say(f"{name}: no such file or folder")
        counts["failed"] += 1
    for path, display in found:
        if path.suffix.lower() == ".lotnb":
            _say(f"skipping notebook {display}: lotc fmt formats .lot files only")
            continue
        counts[_format_file(path, display, check_only)] += 1
    _say(_summary(counts, check_only))
    if counts["internal"]:
        return 2
    if counts["failed"] or (check_only and counts["changed"]):
        return 1
    return 0


def _format_file(path: Path, display: str, check_only: bool) -> str:
    """Format one file; returns which count it adds to."""
    try:
        original = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _say(f"cannot read {display}: {error}")
        return "failed"
    try:
        source = SourceFile(display, original)
        formatted = format_source(source)
        if formatted is None:
            _say(f"{display} has syntax errors; run lotc check {display}")
            return "failed"
        problem = safety_problem(source, formatted)
    except Exception as error:  # one bad file must not stop the others
        problem = f"{type(error).__name__}: {error}"
    if problem:
        _say(f"internal error: {display} left unchanged ({problem}); please report")
        return "internal"
    if formatted == original:
        return "unchanged"
    if check_only:
        _say(f"would reformat {display}")
        return "changed"
    try:
        path.write_bytes(formatted.encode("utf-8"))
    except OSError as error:
        _say(f"cannot write {display}: {error}")
        return "failed"
    return "changed"


def safety_problem(source: SourceFile, formatted: str) -> str | None:
    """Why ``formatted`` must not replace ``source``, or None if it may."""
    again = SourceFile(source.name, formatted)
    module, diagnostics = parse_source(again)
    if has_syntax_errors(diagnostics):
        return "the formatted text does not parse"
    if comparable(module) != comparable(parse_source(source)[0]):
        return "formatting would change the program"
    if format_source(again) != formatted:
        return "formatting is not stable"
    return None


def _summary(counts: dict[str, int], check_only: bool) -> str:
    def files(count: int) -> str:
        return f"{count} file{'s' if count != 1 else ''}"

    changed = "would be reformatted" if check_only else "reformatted"
    parts = [f"{files(counts['changed'])} {changed}"]
    parts.append(f"{files(counts['unchanged'])} already formatted")
    if counts["failed"]:
        parts.append(f"{files(counts['failed'])} with errors")
    if counts["internal"]:
        parts.append(f"{files(counts['internal'])} left unchanged by an internal error")
    return ", ".join(parts)


def _say(message: str) -> None:
    print(f"lotc: {message}", file=sys.stderr)
