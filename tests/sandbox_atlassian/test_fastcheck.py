"""The compiled fast check must agree with jsonschema on every schema in both spec files."""

from __future__ import annotations

import copy
import json
import random

import pytest

from sandbox.atlassian.render import jira_page, jira_user
from sandbox.atlassian.site import SiteUser
from sandbox.atlassian.spec import load_spec

PROBES = [None, True, 0, 1.5, -1, "", "x" * 300, [], [1, "a"], {}, {"name": "x"},
          {"accountId": "a", "active": True, "values": [{}]}, {"errors": {"a": 1}},
          {"isLast": True, "values": [{"name": 3}]}, {"type": "group", "name": "g"},
          {"results": [{"type": "known"}], "size": 1}]


@pytest.mark.parametrize("name", ["jira", "confluence"])
def test_agrees_with_jsonschema_on_every_component_schema(name):
    spec = load_spec(name)
    schemas = spec.document["components"]["schemas"]
    disagreements = []
    for key, schema in schemas.items():
        for probe in PROBES:
            if spec.is_valid(schema, probe) != spec.validator(schema).is_valid(probe):
                disagreements.append((key, json.dumps(probe)[:60]))
    assert disagreements == []


def mutations(document, rng: random.Random):
    """Small random edits of a valid document: drop, retype or add a field somewhere."""
    for _ in range(200):
        doc = copy.deepcopy(document)
        node = doc
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            containers = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
            if not containers or rng.random() < 0.4:
                break
            node = rng.choice(containers)[1]
        if isinstance(node, dict) and node:
            key = rng.choice(list(node))
            action = rng.choice(["drop", "retype", "add"])
            if action == "drop":
                del node[key]
            elif action == "retype":
                node[key] = rng.choice([None, 7, "s", True, [], {}])
            else:
                node["unexpected"] = 1
        yield doc


def test_agrees_on_mutated_pages():
    spec = load_spec("jira")
    op, _ = spec.find("GET", "/rest/api/3/group/member")
    schema = op.response_schema(200)[1]
    users = [jira_user(SiteUser(f"{i:024x}", f"u{i}@example.com", f"U {i}"), "http://x")
             for i in range(3)]
    page = jira_page(users, 0, 50, 3, "http://x/rest/api/3/group/member", {})
    assert spec.is_valid(schema, page)
    verdicts = set()
    for doc in mutations(page, random.Random(5)):
        fast = spec.is_valid(schema, doc)
        assert fast == spec.validator(schema).is_valid(doc), doc
        verdicts.add(fast)
    assert verdicts == {True, False}
