"""Rule scopes, permissions and priorities (reference 3.4 and 7.2).

Input: one ``Rule``.  Output: diagnostics for a rule with no scope (LOT215),
a scope the broker does not know (LOT211), a permission spelled close to a
built-in one but not equal to it (LOT212; other names are user-defined
permissions and fine) and a priority in the broker's reserved range 0-99
(LOT213).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic, Span
from lotc.frontend.suggest import did_you_mean

_BASE_SCOPES = (
    "Connect",
    "Subscribe",
    "SubscribeSys",
    "Publish",
    "PublishSys",
    "CommandCall",
    "ShellCommand",
    "SystemConfiguration",
)
_USER_SCOPES = ("", "Creation", "Remove", "Update", "PasswordChange")
_MANAGED = ("Asset", "Action", "Model", "Route", "Rule", "Log")
_MANAGEMENT_SUFFIXES = ("", "Creation", "Remove", "Update", "Start", "Stop", "Run")

SCOPES = frozenset(
    _BASE_SCOPES
    + tuple(f"UserManagement{s}" for s in _USER_SCOPES)
    + tuple(f"{m}Management{s}" for m in _MANAGED for s in _MANAGEMENT_SUFFIXES)
)
PERMISSIONS = (
    "AllowedSystemConfiguration",
    "AllowedAssetManipulation",
    "AllowedUserManagement",
    "AllowedLogManagement",
)
RESERVED_BELOW = 100
# A user permission may share words with a built-in one (`AllowedSubscribe`);
# only a near-identical spelling is taken for a typo.
_TYPO_RATIO = 0.88


def check_rule(rule: ast.Rule) -> Iterator[Diagnostic]:
    yield from _scope(rule)
    yield from _priority(rule)
    for check in _checks(rule.condition):
        if check.subject == "USER" and check.test == "HAS" and check.value:
            yield from _permission(check)


def _scope(rule: ast.Rule) -> Iterator[Diagnostic]:
    if rule.scope is None:
        yield messages.RULE_WITHOUT_SCOPE.at(
            rule.name.span,
            name=rule.name.text,
            help="add the operation it governs, e.g. `FOR Publish` or `FOR Subscribe`",
        )
    elif rule.scope not in SCOPES:
        yield messages.UNKNOWN_RULE_SCOPE.at(
            _scope_span(rule),
            name=rule.scope,
            help=did_you_mean(rule.scope, SCOPES)
            or "scopes include `Publish`, `Subscribe`, `Connect` and `RouteManagement`",
        )


def _priority(rule: ast.Rule) -> Iterator[Diagnostic]:
    try:
        priority = int(rule.priority or "")
    except ValueError:
        return
    if priority >= RESERVED_BELOW:
        return
    yield messages.RESERVED_PRIORITY.at(
        _priority_span(rule),
        priority=priority,
        help=f"use {RESERVED_BELOW} or more; lower numbers are evaluated first",
        notes=("the broker's own default rules run at priority 10",),
    )


def _permission(check: ast.RuleCheck) -> Iterator[Diagnostic]:
    name = check.value
    if name in PERMISSIONS:
        return
    close = [p for p in PERMISSIONS if _looks_like(name, p)]
    if not close:
        return
    yield messages.UNKNOWN_PERMISSION.at(
        _permission_span(check),
        name=name,
        help=did_you_mean(name, close),
        notes=("a permission nobody holds makes `USER HAS` always false",),
    )


def _looks_like(name: str, permission: str) -> bool:
    """A typo or a shortening of a built-in name, not a name of one's own."""
    name, permission = name.casefold(), permission.casefold()
    if len(name) >= len("allowed") + 5 and permission.startswith(name):
        return True
    ratio = difflib.SequenceMatcher(None, name, permission).ratio()
    return ratio >= _TYPO_RATIO


def _checks(condition) -> Iterator[ast.RuleCheck]:
    if isinstance(condition, ast.RuleCheck):
        yield condition
    elif isinstance(condition, ast.RuleLogic):
        yield from _checks(condition.left)
        yield from _checks(condition.right)
    elif isinstance(condition, (ast.RuleNot, ast.RuleParen)):
        yield from _checks(getattr(condition, "operand", None) or condition.inner)


# The AST keeps the header's parts as text; they stand one space apart, as
# rules are written: DEFINE RULE Name WITH PRIORITY n FOR Scope.


def _priority_span(rule: ast.Rule) -> Span:
    name = rule.name.span
    start = name.end_column + len(" WITH PRIORITY ")
    return Span.point(name.file, name.line, start, len(rule.priority or ""))


def _scope_span(rule: ast.Rule) -> Span:
    name = rule.name.span
    start = name.end_column
    if rule.priority is not None:
        start += len(" WITH PRIORITY ") + len(rule.priority)
    start += len(" FOR ")
    return Span.point(name.file, name.line, start, len(rule.scope or ""))


def _permission_span(check: ast.RuleCheck) -> Span:
    span, name = check.span, check.value or ""
    written = span.end_column - span.column - len("USER HAS ")
    width = len(name) + 2 if written >= len(name) + 2 else len(name)
    return Span(
        span.file, span.line, span.end_column - width, span.line, span.end_column
    )
