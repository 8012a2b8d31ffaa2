"""AST building: lark parse trees in, frozen ``lotc.frontend.ast`` nodes out.

Input: the tree of one entity, produced by ``lotc.frontend.parser``.  Output:
one AST entity and the diagnostics for forms the grammar accepts only to
explain them well (quoted entity names, a route without a type, a rule with no
ELSE, older dialect forms, ``=`` used as a comparison, position 0).  Spans
carry the file name given to the builder and lines of the whole file.
"""

from __future__ import annotations

from lark import Token, Tree

from lotc.frontend import ast, expressions, messages
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.expressions import Operator, Prefix, Term, join

CANONICAL_TYPES = {"STRING", "INT", "DOUBLE", "BOOL", "TIMESTAMP", "ARRAY", "OBJECT"}
CAST_TYPES = CANONICAL_TYPES | {"BYTES", "JSON"}
LEGACY_TYPE_NAMES = {"NUMBER": "DOUBLE", "REAL": "DOUBLE", "FLOAT": "DOUBLE"}
_HEADER_LAYOUTS = {
    "header_trigger": "lines",
    "header_do_line": "do-line",
    "header_define_line": "define-line",
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/"}


def decode_string(raw: str) -> str:
    """The text of a double-quoted literal.

    JSON-style escapes are decoded; any other backslash is kept as written, so
    regular expressions such as ``"\\d+"`` keep their meaning.
    """
    body, out, i = raw[1:-1], [], 0
    if "\\" not in body:
        return body  # most literals: nothing to decode
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and i + 6 <= len(body):
                try:
                    out.append(chr(int(body[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
        out.append(ch)
        i += 1
    return "".join(out)


class Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    # ------------------------------------------------------------ helpers

    def span(self, item: Tree | Token) -> Span:
        if isinstance(item, Token):
            return Span(
                self.file, item.line, item.column, item.end_line, item.end_column
            )
        meta = item.meta
        if meta.empty:
            return Span.point(self.file, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def report(self, code: messages.Code, span: Span, **fields) -> None:
        self.diagnostics.append(code.at(span, **fields))

    def string(self, token: Token) -> ast.String:
        return ast.String(self.span(token), decode_string(token.value), token.value)

    def entity_name(self, tree: Tree, kind: str) -> ast.Name:
        token = tree.children[0]
        if token.type == "STR":
            name = decode_string(token.value)
            bare = name if name.isidentifier() else "Name"
            self.diagnostics.append(
                messages.QUOTED_NAME.at(
                    self.span(token),
                    kind=kind,
                    help=f"write the name without quotes: `{bare}`",
                )
            )
            return ast.Name(self.span(token), name, quoted=True)
        return ast.Name(self.span(token), token.value)

    @staticmethod
    def trees(children, data: str | None = None) -> list[Tree]:
        return [
            c
            for c in children
            if isinstance(c, Tree) and (data is None or c.data == data)
        ]

    @staticmethod
    def tokens(children, kind: str | None = None) -> list[Token]:
        return [
            c
            for c in children
            if isinstance(c, Token) and (kind is None or c.type == kind)
        ]

    # ------------------------------------------------------------ entities

    def entity(self, tree: Tree) -> ast.Entity:
        return getattr(self, "entity_" + tree.data)(tree)

    def entity_action(self, tree: Tree) -> ast.Action:
        name = self.entity_name(tree.children[0], "action")
        header = tree.children[1]
        trigger, inputs, layout = None, (), "lines"
        if header.data in _HEADER_LAYOUTS:
            trigger = self.trigger(self.trees(header.children)[0])
            layout = _HEADER_LAYOUTS[header.data]
        elif header.data == "header_callable":
            inputs = tuple(self.input_decl(t) for t in self.trees(header.children))
        body = self.block(self.trees(tree.children, "action_body")[0])
        outputs: tuple[ast.Output, ...] = ()
        for block in self.trees(tree.children, "return_block"):
            outputs = tuple(
                ast.Output(self.span(t), t.children[0].value)
                for t in self.trees(block.children)
            )
        description = None
        for item in self.trees(tree.children, "description"):
            description = self.string(item.children[0])
            self.report(
                messages.LEGACY_SYNTAX,
                self.span(item),
                form="a `DESCRIPTION` line after an action",
            )
        return ast.Action(
            self.span(tree), name, trigger, inputs, body, outputs, description, layout
        )

    def trigger(self, tree: Tree) -> ast.Trigger:
        kind = tree.data.removeprefix("trigger_").upper()
        span = self.span(tree)
        if kind == "EVERY":
            amount, unit = tree.children[0], tree.children[1]
            return ast.Trigger(
                span, kind, amount=amount.value, unit=unit.children[0].value
            )
        if kind == "DAY":
            day = tree.children[0].children[0].value
            return ast.Trigger(span, kind, day=day, text=self.string(tree.children[1]))
        strings = self.tokens(tree.children, "STR")
        text = self.string(strings[0]) if strings else None
        return ast.Trigger(span, kind, text=text)

    def input_decl(self, tree: Tree) -> ast.Input:
        name, type_tree = tree.children[0], tree.children[1]
        return ast.Input(self.span(tree), name.value, self.type_name(type_tree, False))

    def type_name(self, tree: Tree, cast: bool) -> str:
        token = tree.children[0]
        text = token.value
        allowed = CAST_TYPES if cast else CANONICAL_TYPES | {"JSON"}
        if text in allowed:
            return text
        if text in LEGACY_TYPE_NAMES:
            canonical = LEGACY_TYPE_NAMES[text]
            self.diagnostics.append(
                messages.NONCANONICAL_TYPE.at(
                    self.span(token),
                    name=text,
                    canonical=canonical,
                    help=f"write `{canonical}`",
                )
            )
            return canonical
        if text.upper() in allowed:
            self.report(messages.LOWERCASE_KEYWORD, self.span(token), word=text)
            return text.upper()
        self.diagnostics.append(
            messages.UNKNOWN_TYPE.at(
                self.span(token),
                name=text,
                help="LoT types are " + ", ".join(sorted(allowed)),
            )
        )
        return text

    # ------------------------------------------------------------ statements

    def block(self, tree: Tree) -> tuple[ast.Statement, ...]:
        return tuple(self.statement(child) for child in self.trees(tree.children))

    def statement(self, tree: Tree) -> ast.Statement:
        return getattr(self, "stmt_" + tree.data)(tree)

    def stmt_set_statement(self, tree: Tree) -> ast.Set:
        name, separator, value = tree.children
        word = separator.children[0].value
        if word in ("=", "USING"):
            self.diagnostics.append(
                messages.LEGACY_SYNTAX.at(
                    self.span(separator),
                    form=f"`SET {name.value} {word}`",
                    help=f"write `SET {name.value} WITH ...`",
                )
            )
        return ast.Set(self.span(tree), self.string(name), word, self.value(value))

    def stmt_publish_topic(self, tree: Tree) -> ast.PublishTopic:
        topic, value = self.trees(tree.children)
        return ast.PublishTopic(self.span(tree), self.value(topic), self.value(value))

    def stmt_keep_topic(self, tree: Tree) -> ast.KeepTopic:
        topic, value = self.trees(tree.children)
        return ast.KeepTopic(self.span(tree), self.value(topic), self.value(value))

    def stmt_publish_model(self, tree: Tree) -> ast.PublishModel:
        return self._publish_model(tree, block=True)

    def stmt_publish_model_inline(self, tree: Tree) -> ast.PublishModel:
        return self._publish_model(tree, block=False)

    def _publish_model(self, tree: Tree, block: bool) -> ast.PublishModel:
        children = self.trees(tree.children)
        model = self._model_reference(children[0])
        topic = self.value(children[1])
        fields: list[ast.FieldAssignment] = []
        for item in children[2:]:
            assignments = item if item.data == "field_assignments" else item.children[0]
            for assignment in self.trees(assignments.children):
                path_tree, value = assignment.children
                path = tuple(t.value for t in path_tree.children)
                fields.append(
                    ast.FieldAssignment(self.span(assignment), path, self.value(value))
                )
        return ast.PublishModel(self.span(tree), model, topic, tuple(fields), block)

    def _model_reference(self, tree: Tree) -> ast.Name:
        """Model names after PUBLISH MODEL and COLLECTION OF may be quoted."""
        token = tree.children[0]
        if token.type == "STR":
            return ast.Name(self.span(token), decode_string(token.value), quoted=True)
        return ast.Name(self.span(token), token.value)

    def stmt_if_block(self, tree: Tree) -> ast.If:
        children = tree.children
        branches = [
            ast.Branch(
                self.span(tree), self.value(children[0]), self.block(children[1])
            )
        ]
        otherwise = None
        for item in children[2:]:
            if item.data == "else_if":
                branches.append(
                    ast.Branch(
                        self.span(item),
                        self.value(item.children[0]),
                        self.block(item.children[1]),
                    )
                )
            else:
                otherwise = self.block(item.children[0])
        return ast.If(self.span(tree), tuple(branches), otherwise)

    def stmt_if_inline(self, tree: Tree) -> ast.If:
        condition, then, *rest = tree.children
        branch = ast.Branch(
            self.span(tree), self.value(condition), (self.statement(then),)
        )
        otherwise = (self.statement(rest[0]),) if rest else None
        return ast.If(self.span(tree), (branch,), otherwise, inline=True)

    def stmt_switch_statement(self, tree: Tree) -> ast.Switch:
        subject, *clauses = tree.children
        cases, default = [], None
        for clause in clauses:
            if clause.data == "case_clause":
                cases.append(
                    ast.Case(
                        self.span(clause),
                        self.value(clause.children[0]),
                        self.block(clause.children[1]),
                    )
                )
            else:
                default = self.block(self.trees(clause.children, "block")[0])
        return ast.Switch(self.span(tree), self.value(subject), tuple(cases), default)

    def stmt_loop_statement(self, tree: Tree) -> ast.Loop:
        body, until = tree.children
        return ast.Loop(self.span(tree), self.block(body), self.value(until))

    def argument(self, tree: Tree) -> ast.Argument:
        name, value = tree.children
        return ast.Argument(self.span(tree), name.value, self.value(value))

    def stmt_call_action(self, tree: Tree) -> ast.CallAction:
        action = self.entity_name(tree.children[0], "action")
        arguments = tuple(
            self.argument(t) for t in self.trees(tree.children, "named_argument")
        )
        returns = tuple(t.value for t in self.tokens(tree.children[1:], "NAME"))
        return ast.CallAction(self.span(tree), action, arguments, returns)

    def stmt_call_python(self, tree: Tree) -> ast.CallPython:
        target = self.string(tree.children[0])
        arguments = None
        for given in self.trees(tree.children, "python_arguments"):
            arguments = tuple(self.value(v) for v in given.children)
        result = self._result(tree.children)
        return ast.CallPython(self.span(tree), target, arguments, result)

    def _result(self, children) -> str | None:
        for token in self.tokens(children, "VARREF"):
            return token.value[1:-1]
        return None

    def stmt_call_service(self, tree: Tree) -> ast.CallService:
        kind = tree.children[0].children[0].value
        strings = self.tokens(tree.children, "STR")
        target = self.string(strings[0])
        method = self.string(strings[1]) if len(strings) > 1 else None
        arguments: tuple[ast.Argument, ...] = ()
        parenthesised = False
        for args in self.trees(tree.children, "service_args"):
            arguments = tuple(self.argument(t) for t in self.trees(args.children))
            parenthesised = (
                args.meta.column != arguments[0].span.column if arguments else False
            )
        return ast.CallService(
            self.span(tree),
            kind,
            target,
            method,
            arguments,
            parenthesised,
            self._result(tree.children),
        )

    def stmt_trigger_statement(self, tree: Tree) -> ast.TriggerRoute:
        event = self.string(tree.children[0])
        target = self.value(tree.children[1])
        value, mapping = None, None
        for child in tree.children[2:]:
            if isinstance(child, Tree) and child.data == "entity_name":
                mapping = self._model_reference(child)
            elif isinstance(child, Tree):
                value = self.value(child)
        return ast.TriggerRoute(self.span(tree), event, target, value, mapping)

    def stmt_keep_store(self, tree: Tree) -> ast.KeepStore:
        kind, name, value = tree.children
        return ast.KeepStore(
            self.span(tree),
            kind.children[0].value,
            self.string(name),
            self.value(value),
        )

    def stmt_delete_store(self, tree: Tree) -> ast.DeleteStore:
        kind, name = tree.children
        return ast.DeleteStore(
            self.span(tree), kind.children[0].value, self.string(name)
        )

    # ------------------------------------------------------------ expressions

    def value(self, tree: Tree) -> ast.Expr:
        if tree.data == "if_value":
            condition, then, otherwise = tree.children
            return ast.IfValue(
                self.span(tree),
                self.value(condition),
                self.value(then),
                self.value(otherwise),
            )
        if tree.data == "expr":
            return self.expr(tree)
        return self.atom(tree)

    def expr(self, tree: Tree) -> ast.Expr:
        items: list[Term | Operator] = []
        for child in tree.children:
            if child.data == "operator":
                text = " ".join(t.value for t in child.children)
                span = join(self.span(child.children[0]), self.span(child.children[-1]))
                if text == "=":
                    self.diagnostics.append(
                        messages.ASSIGN_AS_COMPARE.at(span, help="compare with `==`")
                    )
                elif text == "EQUAL":
                    self.report(messages.LEGACY_SYNTAX, span, form="`EQUAL`")
                items.append(Operator(text, span))
            else:
                items.append(self.term(child))
        return expressions.build(items)

    def term(self, tree: Tree) -> Term:
        prefixes, suffixes, atom = [], [], None
        for child in tree.children:
            if child.data == "prefix":
                prefixes.append(self.prefix(child))
            elif atom is None:
                atom = self.atom(child)
            else:
                suffixes.append(self.suffix(child))
        assert atom is not None
        return Term(prefixes, atom, suffixes)

    def prefix(self, tree: Tree) -> Prefix:
        words = [t.value for t in tree.children if t.type != "STR"]
        strings = self.tokens(tree.children, "STR")
        kind = "GET JSON" if words[:2] == ["GET", "JSON"] else " ".join(words)
        path = self.string(strings[0]) if strings else None
        return Prefix(kind, self.span(tree), path)

    def suffix(self, tree: Tree):
        span = self.span(tree)
        if tree.data == "cast":
            type_name = self.type_name(tree.children[0], cast=True)
            formats = self.tokens(tree.children, "STR")
            format = self.string(formats[0]) if formats else None
            if format is not None and type_name != "TIMESTAMP":
                self.report(
                    messages.UNEXPECTED_TOKEN,
                    self.span(formats[0]),
                    expected="end of cast",
                    found="a string",
                )
            if format is not None:
                self.report(
                    messages.LEGACY_SYNTAX, span, form='`AS TIMESTAMP "format"`'
                )
            return lambda value: ast.Cast(
                join(value.span, span), value, type_name, format
            )
        if tree.data == "then_trim":
            return lambda value: ast.Trim(join(value.span, span), value, chained=True)
        if tree.data == "then_split":
            return lambda value: ast.Split(join(value.span, span), value, chained=True)
        if tree.data == "then_filter":
            pattern = self.string(tree.children[0])
            return lambda value: ast.Filter(
                join(value.span, span), value, pattern, chained=True
            )
        old, new = (self.atom(t) for t in tree.children)
        return lambda value: ast.Replace(
            join(value.span, span), old, new, value, chained=True
        )

    def atom(self, tree: Tree) -> ast.Expr:
        span = self.span(tree)
        kind = tree.data
        children = tree.children
        if kind == "number":
            return ast.Number(span, children[0].value)
        if kind == "string":
            return self.string(children[0])
        if kind == "boolean":
            return ast.Boolean(
                span, children[0].value.lower() == "true", children[0].value
            )
        if kind == "empty":
            return ast.Empty(span)
        if kind == "variable":
            return ast.Variable(span, children[0].value[1:-1])
        if kind == "bare_name":
            return ast.BareName(span, children[0].value)
        if kind == "payload":
            return ast.Payload(span)
        if kind == "topic_position":
            index = int(float(children[0].value))
            if index == 0:
                self.diagnostics.append(
                    messages.ZERO_POSITION.at(
                        span, help="the first topic level is `TOPIC POSITION 1`"
                    )
                )
            return ast.TopicPosition(span, index)
        if kind == "session_value":
            return ast.SessionValue(span, children[0].children[0].value)
        if kind == "get_env":
            return ast.GetEnv(span, self.string(children[0]))
        if kind == "get_secret":
            return ast.GetSecret(span, self.string(children[0]))
        if kind == "timestamp":
            return ast.Timestamp(span, self.string(children[0]))
        if kind == "timestamp_legacy":
            self.report(messages.LEGACY_SYNTAX, span, form='`TIMESTAMP WITH "format"`')
            return ast.Timestamp(span, self.string(children[0]), legacy=True)
        if kind == "random_between":
            random_kind = None
            numbers = []
            for child in children:
                if child.data == "random_kind":
                    random_kind = child.children[0].value
                else:
                    numbers.append("".join(t.value for t in child.children))
            return ast.RandomBetween(span, random_kind, numbers[0], numbers[1])
        if kind == "random_uuid":
            return ast.RandomUuid(span)
        if kind == "filter":
            return ast.Filter(
                span, self._term_value(children[0]), self.string(children[1])
            )
        if kind == "replace":
            old, new, source = children
            return ast.Replace(
                span, self.value(old), self.value(new), self.atom(source)
            )
        if kind == "split":
            return ast.Split(span, self._term_value(children[0]))
        if kind == "get_model":
            model, route, key, value = children
            return ast.GetModel(
                span,
                self.string(model),
                self.string(route),
                key.value,
                self.atom(value),
            )
        if kind == "json_object":
            members = tuple(
                ast.JsonMember(
                    self.span(m), self.string(m.children[0]), self.value(m.children[1])
                )
                for m in children
            )
            return ast.JsonObject(span, members)
        if kind in ("expr", "if_value"):
            return ast.Paren(span, self.value(tree))
        raise ValueError(f"unknown atom {kind}")

    def _term_value(self, tree: Tree) -> ast.Expr:
        return expressions.build([self.term(tree)])

    # ------------------------------------------------------------ models

    def entity_model(self, tree: Tree) -> ast.Model:
        name = self.entity_name(tree.children[0], "model")
        options, items = [], []
        for child in self.trees(tree.children[1:]):
            if child.data.startswith("option_"):
                options.append(self.model_option(child))
            else:
                items.append(self.model_item(child))
        return ast.Model(self.span(tree), name, tuple(options), tuple(items))

    def model_option(self, tree: Tree) -> ast.ModelOption:
        kind = tree.data.removeprefix("option_").upper()
        span = self.span(tree)
        if kind == "FROM":
            return ast.ModelOption(
                span, kind, name=self.entity_name(tree.children[0], "parent model")
            )
        if kind == "TOPIC":
            return ast.ModelOption(
                span, kind, value=self.string(tree.children[0]).value
            )
        if kind == "QOS":
            return ast.ModelOption(span, kind, value=tree.children[0].value)
        if kind == "FORMAT":
            return ast.ModelOption(span, kind, value=tree.children[0].value)
        if kind == "FORMAT_JSON":
            return ast.ModelOption(span, "FORMAT", value="JSON")
        if kind == "AND":
            self.report(
                messages.LEGACY_SYNTAX, span, form="joining model options with `AND`"
            )
        return ast.ModelOption(span, kind)

    def model_item(self, tree: Tree) -> ast.ModelItem:
        span = self.span(tree)
        if tree.data == "model_collection":
            name, model = tree.children
            return ast.ModelCollection(
                span, self.string(name), self._model_reference(model)
            )
        if tree.data == "model_store":
            route, table, *when = tree.children
            return ast.ModelStore(
                span,
                self.string(route),
                self.string(table),
                self.value(when[0]) if when else None,
            )
        if tree.data == "model_fetch":
            strings = self.tokens(tree.children, "STR")
            numbers = self.tokens(tree.children, "NUMBER")
            when = self.trees(tree.children)
            return ast.ModelFetch(
                span,
                self.string(strings[0]),
                self.string(strings[1]),
                self.value(when[0]) if when else None,
                numbers[0].value if numbers else None,
            )
        return self.model_field(tree)

    def model_field(self, tree: Tree) -> ast.ModelField:
        type_name, name, source, children = None, None, None, []
        for child in tree.children:
            if isinstance(child, Token):
                name = self.string(child)
            elif child.data == "type_name":
                type_name = self.type_name(child, cast=False)
            elif child.data.startswith("source_"):
                source = self.field_source(child)
            else:
                children.append(self.model_item(child))
        assert name is not None
        if type_name is None:
            self.report(
                messages.LEGACY_SYNTAX,
                self.span(tree),
                form="a model field without a type",
            )
        return ast.ModelField(self.span(tree), type_name, name, source, tuple(children))

    def field_source(self, tree: Tree) -> ast.FieldSource:
        span = self.span(tree)
        kind = tree.data.removeprefix("source_")
        if kind == "value":
            return ast.FieldSource(span, kind, value=self.value(tree.children[0]))
        return ast.FieldSource(span, kind, topic=self.string(tree.children[0]))

    # ------------------------------------------------------------ routes

    def entity_route(self, tree: Tree) -> ast.Route:
        name = self.entity_name(tree.children[0], "route")
        types = self.tokens(tree.children, "NAME")
        route_type = types[0].value if types else None
        if route_type is None:
            self.diagnostics.append(
                messages.ROUTE_WITHOUT_TYPE.at(
                    name.span,
                    name=name.text,
                    help=(
                        f"write `DEFINE ROUTE {name.text} WITH TYPE <TYPE>`, "
                        "e.g. `WITH TYPE POSTGRESQL`"
                    ),
                )
            )
        items = tuple(self.route_item(child) for child in self.trees(tree.children[1:]))
        return ast.Route(self.span(tree), name, route_type, items)

    def route_item(self, tree: Tree):
        if tree.data == "route_block":
            return self.route_block(tree)
        if tree.data == "route_store":
            route, key, value = tree.children
            self.report(
                messages.LEGACY_SYNTAX, self.span(tree), form="`STORE` inside a route"
            )
            return ast.RouteStore(
                self.span(tree), route.value, key.value, self.string(value)
            )
        return self.setting(tree)

    def route_block(self, tree: Tree) -> ast.RouteBlock:
        kind_tree = tree.children[0]
        kind = kind_tree.children[0].value
        name = None
        items = []
        for child in self.trees(tree.children[1:]):
            if child.data == "block_name":
                name = self._model_reference(child)
            else:
                items.append(self.route_item(child))
        if kind == "METADATA":
            self.diagnostics.append(
                messages.TEMPLATE_METADATA.at(
                    self.span(kind_tree),
                    help="delete the `ADD METADATA` block; the broker rejects it",
                )
            )
        return ast.RouteBlock(self.span(tree), kind, name, tuple(items))

    def setting(self, tree: Tree) -> ast.Setting:
        span = self.span(tree)
        if tree.data == "setting_every":
            amount, unit = tree.children
            value = ast.SettingValue(
                span, "every", amount.value, unit.children[0].value
            )
            return ast.Setting(span, "EVERY", value)
        if tree.data == "setting_broker_self":
            return ast.Setting(span, "BROKER", ast.SettingValue(span, "self", "SELF"))
        key, value_tree = tree.children
        return ast.Setting(span, key.children[0].value, self.setting_value(value_tree))

    def setting_value(self, tree: Tree) -> ast.SettingValue:
        span = self.span(tree)
        kind = tree.data.removeprefix("setting_")
        if kind == "number":
            return ast.SettingValue(
                span, kind, "".join(t.value for t in tree.children[0].children)
            )
        token = tree.children[0]
        if kind in ("string", "env", "secret"):
            return ast.SettingValue(span, kind, decode_string(token.value))
        if kind == "quoted":
            return ast.SettingValue(span, kind, token.value[1:-1])
        return ast.SettingValue(span, kind, token.value)

    # ------------------------------------------------------------ rules

    def entity_rule(self, tree: Tree) -> ast.Rule:
        return self._rule(tree, unconditional=False)

    def entity_rule_unconditional(self, tree: Tree) -> ast.Rule:
        return self._rule(tree, unconditional=True)

    def _rule(self, tree: Tree, unconditional: bool) -> ast.Rule:
        name = self.entity_name(tree.children[0], "rule")
        header, body = tree.children[1], tree.children[2]
        priority = scope = topic = None
        for child in header.children:
            if isinstance(child, Tree) and child.data == "signed_number":
                priority = "".join(t.value for t in child.children)
            elif isinstance(child, Tree) and child.data == "rule_scope":
                scope = child.children[0].value
            elif isinstance(child, Token) and child.type == "STR":
                topic = self.string(child)
        span = self.span(tree)
        if unconditional:
            verdict = body.children[0].value
            return ast.Rule(
                span, name, priority, scope, topic, None, verdict, None, "line"
            )
        if body.data == "rule_bare":
            verdict = body.children[0].children[0].value
            return ast.Rule(
                span, name, priority, scope, topic, None, verdict, None, "block"
            )
        condition = self.rule_condition(body.children[0])
        verdicts = [
            t.children[0].value for t in self.trees(body.children[1:], "verdict")
        ]
        for else_tree in self.trees(body.children, "rule_else"):
            verdicts.append(else_tree.children[0].children[0].value)
        otherwise = verdicts[1] if len(verdicts) > 1 else None
        if otherwise is None:
            self.diagnostics.append(
                messages.RULE_WITHOUT_ELSE.at(
                    self.span(body),
                    name=name.text,
                    help=(
                        "add `ELSE` with the verdict for every other case, "
                        "e.g. `ELSE DENY`"
                    ),
                )
            )
        layout = "inline" if body.data == "rule_if_inline" else "block"
        return ast.Rule(
            span,
            name,
            priority,
            scope,
            topic,
            condition,
            verdicts[0],
            otherwise,
            layout,
        )

    def rule_condition(self, tree: Tree) -> ast.RuleCondition:
        span = self.span(tree)
        kind = tree.data
        if kind == "rule_condition":
            parts = tree.children
            result = self.rule_condition(parts[0])
            for index in range(1, len(parts), 2):
                operator = parts[index].children[0].value
                right = self.rule_condition(parts[index + 1])
                result = ast.RuleLogic(
                    join(result.span, right.span), operator, result, right
                )
            return result
        if kind == "rule_paren":
            return ast.RuleParen(span, self.rule_condition(tree.children[0]))
        if kind == "rule_not":
            return ast.RuleNot(span, self.rule_condition(tree.children[0]))
        if kind == "topic_exists":
            return ast.RuleCheck(
                span, "TOPIC", "EXISTS", topic=self.concatenation(tree.children[0])
            )
        if kind == "topic_value_is":
            topic, value = tree.children
            return ast.RuleCheck(
                span,
                "GET TOPIC",
                "IS",
                value=decode_string(value.value),
                topic=self.concatenation(topic),
            )
        subject = "USER" if kind.startswith("user") else "CLIENTID"
        test = {
            "user_is": "IS",
            "user_has": "HAS",
            "user_in_group": "IN GROUP",
            "clientid_is": "IS",
            "clientid_is_position": "IS POSITION",
            "clientid_matches": "MATCHES",
        }[kind]
        token = tree.children[0]
        value = decode_string(token.value) if token.type == "STR" else token.value
        return ast.RuleCheck(span, subject, test, value=value)

    def concatenation(self, tree: Tree) -> ast.Expr:
        items: list[Term | Operator] = []
        for index, child in enumerate(tree.children):
            if index:
                items.append(Operator("+", self.span(child)))
            items.append(self.term(child))
        return expressions.build(items)
