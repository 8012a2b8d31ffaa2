"""Rules compiled into a Mosquitto dynamic-security policy: the order LoT
gives them becomes ACL priorities, each named user gets the whole list, and
a rule the plugin cannot express is LOT405 (and stops the policy when it is
a Publish or Subscribe rule)."""

from __future__ import annotations

import json

from helpers import source

from lotc.codegen.rules import compile_rules
from lotc.compile import check_sources


def _compile(text: str):
    checked = check_sources([source(text)])
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    policy, problems = compile_rules(checked.site)
    return (json.loads(policy) if policy else None), problems


def _acls(policy, role):
    [found] = [r for r in policy["roles"] if r["rolename"] == role]
    return [(a["acltype"], a["topic"], a["allow"]) for a in found["acls"]]


def test_each_principal_gets_the_rules_in_lot_order():
    policy, problems = _compile(
        """
DEFINE RULE Late WITH PRIORITY 300 FOR Subscribe ALLOW

DEFINE RULE Setpoints WITH PRIORITY 150 FOR Publish TO TOPIC "hvac/#"
    IF USER IS "ana" AND NOT USER IS "bo b" THEN
        ALLOW
    ELSE
        DENY

DEFINE RULE Tie WITH PRIORITY 150 FOR Publish TO TOPIC "hvac/1" ALLOW
"""
    )
    assert problems == []
    assert [c["username"] for c in policy["clients"]] == ["ana", "bo b"]
    roles = {c["username"]: c["roles"][0]["rolename"] for c in policy["clients"]}
    assert roles["ana"] == "lot-user-ana"
    assert roles["bo b"].startswith("lot-user-bo_b-")  # made safe, kept apart
    assert _acls(policy, "lot-user-ana") == [
        ("publishClientSend", "hvac/#", True),
        ("publishClientSend", "hvac/1", True),
        ("subscribePattern", "#", True),
    ]
    # For everyone else Setpoints denies, and DENY goes first on the tie.
    assert _acls(policy, "lot-everyone") == [
        ("publishClientSend", "hvac/#", False),
        ("publishClientSend", "hvac/1", True),
        ("subscribePattern", "#", True),
    ]
    assert policy["anonymousGroup"] == "lot-everyone"


def test_a_rule_the_plugin_cannot_decide_stops_the_policy():
    policy, problems = _compile(
        """
DEFINE RULE ByName WITH PRIORITY 150 FOR Publish TO TOPIC "a/#"
    IF USER IS "ana" THEN
        ALLOW
    ELSE
        DENY

DEFINE RULE ByPermission WITH PRIORITY 160 FOR Subscribe TO TOPIC "b/#"
    IF USER HAS Operator THEN
        ALLOW
    ELSE
        DENY
"""
    )
    assert policy is None
    [problem] = problems
    assert problem.code == "LOT405"
    assert "`USER HAS` cannot be decided" in problem.message
    assert any("no broker policy is written" in note for note in problem.notes)


def test_rules_of_other_scopes_are_warned_and_the_rest_compiled():
    policy, problems = _compile(
        """
DEFINE RULE NoShell WITH PRIORITY 100 FOR ShellCommand DENY

DEFINE RULE Open WITH PRIORITY 200 FOR Publish ALLOW
"""
    )
    assert _acls(policy, "lot-everyone") == [("publishClientSend", "#", True)]
    [problem] = problems
    assert problem.code == "LOT405"
    assert "Mosquitto has no `ShellCommand` operation" in problem.message
    assert problem.notes == ()


def test_a_site_without_rules_has_no_policy():
    assert _compile(
        'DEFINE ACTION A\nON TOPIC "a" DO\n    PUBLISH TOPIC "b" WITH 1\n'
    ) == (
        None,
        [],
    )
