"""Compilation of DEFINE RULE into a Mosquitto dynamic-security policy.

Input: the checked site's rules.  Output: the configuration file of
Mosquitto's dynamic-security plugin (``broker/dynamic-security.json`` in the
generated package), or None when the site has no rule it can compile, and
LOT405 for each rule that cannot be.

LoT tries the rules of an operation in priority order (lower number first,
DENY first on a tie) and the first whose topic matches decides.  The plugin
tries the ACLs of a client's roles from the highest ACL priority down, then
those of its groups' roles.  So every principal gets one role holding its
whole list, in LoT's order, and nothing depends on how the plugin orders
roles: ``lot-user-<name>`` for each user a rule names (``USER IS``), and
``lot-everyone`` for every other client and for anonymous ones (the group
``lot-everyone`` is the plugin's anonymous group; the operator adds other
clients to it).  A rule's verdict for a principal is worked out here: an
``IF`` that tests only ``USER IS`` (with AND, OR, NOT) is true or false for
each of them.

Compiled scopes: ``Publish`` (the plugin's publishClientSend) and
``Subscribe`` (subscribePattern: a rule's filter is matched against the
filter the client asks for, as LoT says).  Anything else cannot be
expressed by the plugin: a rule that tests group membership, permissions,
client ids or topic values, or one of another scope (Connect, the $SYS
scopes, commands and management, which belong to a Coreflux broker).  Such
a rule is LOT405; when one of them is a Publish or Subscribe rule, no policy
is written at all, since leaving out one rule of an ordered list can allow
what the list denies.

Clients are written without passwords: the operator sets them with
``mosquitto_ctrl dynsec setClientPassword``.  Access that no rule decides is
allowed, as on a Coreflux broker, whose own catch-all rules allow it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from lotc.frontend import ast, messages
from lotc.frontend.diagnostics import Diagnostic
from lotc.frontend.site import Site

POLICY_FILE = "broker/dynamic-security.json"
EVERYONE = "lot-everyone"
_ACL_TYPES = {"Publish": "publishClientSend", "Subscribe": "subscribePattern"}


class _NotCompiled(Exception):
    """Why a rule cannot be written for the plugin."""


def compile_rules(site: Site) -> tuple[str | None, list[Diagnostic]]:
    """The policy file's text (None without rules to write) and LOT405 for
    every rule that cannot be compiled."""
    problems: list[Diagnostic] = []
    compiled: list[ast.Rule] = []
    blocking = False
    for rule in site.rules.values():
        try:
            _check(rule)
        except _NotCompiled as reason:
            problems.append(
                messages.RULE_NOT_COMPILED.at(
                    rule.name.span,
                    name=rule.name.text,
                    reason=str(reason),
                    help=(
                        "the site's broker does not enforce this rule: give it "
                        "the same permission yourself (a role of Mosquitto's "
                        "dynamic security, say)"
                        if rule.scope in _ACL_TYPES
                        else None
                    ),
                    notes=(
                        (
                            "no broker policy is written: leaving one Publish or "
                            "Subscribe rule out could allow what the rules deny",
                        )
                        if rule.scope in _ACL_TYPES
                        else ()
                    ),
                )
            )
            blocking = blocking or rule.scope in _ACL_TYPES
            continue
        compiled.append(rule)
    if blocking or not compiled:
        return None, problems
    return _policy(compiled), problems


def _check(rule: ast.Rule) -> None:
    if rule.scope not in _ACL_TYPES:
        raise _NotCompiled(
            f"Mosquitto has no `{rule.scope}` operation to allow or deny; "
            "only Publish and Subscribe rules are compiled"
        )
    for check in _checks(rule.condition):
        if (check.subject, check.test) != ("USER", "IS"):
            test = f"{check.subject} {check.test}".replace("IS POSITION", "IS TOPIC")
            raise _NotCompiled(
                f"`{test}` cannot be decided by Mosquitto's dynamic security; "
                "only `USER IS` is compiled"
            )


def _checks(condition: ast.RuleCondition | None) -> Iterable[ast.RuleCheck]:
    if condition is None:
        return
    if isinstance(condition, ast.RuleCheck):
        yield condition
    elif isinstance(condition, ast.RuleLogic):
        yield from _checks(condition.left)
        yield from _checks(condition.right)
    elif isinstance(condition, ast.RuleNot):
        yield from _checks(condition.operand)
    else:
        yield from _checks(condition.inner)


def _holds(condition: ast.RuleCondition, user: str | None) -> bool:
    """Whether a condition of USER IS tests holds for ``user`` (None: a
    client no rule names)."""
    if isinstance(condition, ast.RuleCheck):
        return user is not None and condition.value == user
    if isinstance(condition, ast.RuleLogic):
        left = _holds(condition.left, user)
        right = _holds(condition.right, user)
        return left and right if condition.operator == "AND" else left or right
    if isinstance(condition, ast.RuleNot):
        return not _holds(condition.operand, user)
    return _holds(condition.inner, user)


def _acls(rules: list[ast.Rule], user: str | None) -> list[dict[str, object]]:
    """The ACLs of one principal, highest plugin priority first."""
    acls = []
    for rule in rules:
        verdict = rule.verdict
        if rule.condition is not None and not _holds(rule.condition, user):
            verdict = rule.otherwise or verdict
        deny = verdict == "DENY"
        priority = int(rule.priority or 0)
        acls.append(
            {
                "acltype": _ACL_TYPES[str(rule.scope)],
                "topic": rule.topic.value if rule.topic else "#",
                # Lower LoT numbers first, and DENY first on a tie.
                "priority": -2 * priority + (1 if deny else 0),
                "allow": not deny,
            }
        )
    acls.sort(key=lambda acl: -int(str(acl["priority"])))
    return acls


def _policy(rules: list[ast.Rule]) -> str:
    users = sorted(
        {c.value for r in rules for c in _checks(r.condition) if c.value is not None}
    )
    roles = [{"rolename": EVERYONE, "acls": _acls(rules, None)}]
    clients = []
    for user in users:
        role = f"lot-user-{_safe(user)}"
        roles.append({"rolename": role, "acls": _acls(rules, user)})
        clients.append({"username": user, "roles": [{"rolename": role}]})
    policy = {
        "defaultACLAccess": {
            "publishClientSend": True,
            "publishClientReceive": True,
            "subscribe": True,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [
            {"groupname": EVERYONE, "roles": [{"rolename": EVERYONE}], "clients": []}
        ],
        "anonymousGroup": EVERYONE,
        "roles": roles,
    }
    return json.dumps(policy, indent=2) + "\n"


def _safe(name: str) -> str:
    """A role name for a user name; one that had to change gets a digest of
    the original, so two users never share a role."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
