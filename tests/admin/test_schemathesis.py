"""Property-based: schemathesis generates requests from /api/admin/openapi.json for every
operation (valid and invalid); none may answer with a server error. Bounded to stay well under
a minute."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES_PER_OPERATION = 6
BUDGET_SECONDS = 60


def test_openapi_document_is_valid_openapi_3(admin_env):
    from openapi_spec_validator import validate

    document = admin_env.client.get("/api/admin/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert len(document["paths"]) >= 30
    body = document["paths"]["/api/admin/connections"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    create = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"kind", "name"} <= set(create["required"])


def test_no_generated_request_gets_a_server_error(admin_env):
    app = admin_env.app
    # Real objects for the generated ids to find: a connection of each shape, a run with changes.
    directory = json.dumps({"users": [], "groups": []})
    from app import extensions
    from app.models import Change
    from workers.sync import engine

    ids = [admin_env.post("/api/admin/connections", json=body).get_json()["id"] for body in (
        {"kind": "directory_file", "name": "D", "settings": {"content": directory},
         "enabled": True, "schedule": None},
        {"kind": "scim_push", "name": "S", "settings": {}, "enabled": True, "schedule": None})]
    run_id = engine.start_run(extensions.db, ids[0], "manual", False)
    with extensions.db.session() as session:
        for seq in range(5):
            session.add(Change(run_id=run_id, seq=seq, kind="add_member", outcome="applied",
                               email=f"=cmd{seq}@example.com"))
    real = {"connection_id": st.sampled_from(ids), "run_id": st.just(run_id)}
    headers = admin_env.headers(exp_in=600)
    schema = schemathesis.openapi.from_wsgi("/api/admin/openapi.json", app)
    started = time.monotonic()
    failures: list[str] = []
    statuses: dict[int, int] = {}
    # Deletions last, so the real objects are still there for every other operation.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: op.method.upper() == "DELETE")
    assert len(operations) >= 40
    for operation in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), data=st.data())
        def check(case, data) -> None:  # type: ignore[no-untyped-def]
            # Half the cases aim at objects that exist, so bodies and queries reach the views.
            for name, ids_of in real.items():
                if case.path_parameters and name in case.path_parameters and data.draw(st.booleans()):
                    case.path_parameters[name] = data.draw(ids_of)
            response = case.call(headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"{str(case.body)[:200]} -> {response.status_code} "
                                f"{response.text[:300]}")

        check()
    assert not failures, "\n".join(failures[:10])
    # the run reached the views (not only the auth and routing layers)
    assert {200, 202, 400, 404} <= set(statuses), statuses
    print(statuses)
    assert time.monotonic() - started < BUDGET_SECONDS
