"""The first run's sandbox IdP: a generated company, served over SCIM, changed by `usersync sandbox`."""

from __future__ import annotations

from collections import Counter

from sandbox.demo import idp
from sandbox.idps import directory_gen

TOKEN = "t0ken"


def test_the_same_seed_generates_the_same_company():
    one, two = directory_gen.generate(300), directory_gen.generate(300)
    assert [vars(p) | {"updated": 0} for p in one.person_list()] == \
        [vars(p) | {"updated": 0} for p in two.person_list()]
    assert [t.name for t in one.team_list()] == [t.name for t in two.team_list()]
    assert directory_gen.generate(300, seed=17).person_list()[0].email != one.person_list()[0].email


def test_the_company_has_departments_nested_teams_leavers_and_unique_addresses():
    d = directory_gen.generate(300)
    people = d.person_list()
    assert len({p.email for p in people}) == 300
    assert sum(not p.active for p in people) == directory_gen.LEAVERS + directory_gen.DISABLED
    names = {t.id: t.name for t in d.team_list()}
    assert {"engineering", "sales", "all-staff"} <= set(names.values())
    nested = [t for t in d.team_list() if t.parent_id]
    assert nested and all(names[t.parent_id] in directory_gen.DEPARTMENTS for t in nested)
    homes = Counter(pid for t in d.team_list() if t.name != "all-staff" for pid in t.member_ids)
    assert set(homes) == set(d.people) and set(homes.values()) == {1}  # one home group each


def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "idp.json"
    first = idp.load_or_generate(path, 40)
    again = idp.load_or_generate(path, 999)  # an existing file wins over --people
    assert list(again.people) == list(first.people)
    assert [t.member_ids for t in again.team_list()] == [t.member_ids for t in first.team_list()]


def test_scim_needs_the_token_and_leave_and_join_change_what_it_serves(tmp_path):
    path = tmp_path / "idp.json"
    directory = idp.load_or_generate(path, 40)
    client = idp.create_app(directory, path, TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/scim/v2/Users").status_code == 401
    assert client.post("/sandbox/leave", json={"email": "x"}).status_code == 401
    someone = directory.person_list()[0]
    assert client.get("/scim/v2/Users", headers=auth).get_json()["totalResults"] == 40

    assert client.post("/sandbox/leave", json={"email": someone.email.upper()},
                       headers=auth).status_code == 200
    served = client.get(f"/scim/v2/Users/{someone.id}", headers=auth).get_json()
    assert served["active"] is False
    assert directory_gen.load(path).people[someone.id].active is False  # kept across restarts

    answer = client.post("/sandbox/join", json={"email": someone.email, "group": "legal"},
                         headers=auth)
    assert answer.status_code == 200
    legal = next(t for t in directory_gen.load(path).team_list() if t.name == "legal")
    assert someone.id in legal.member_ids
    assert client.get(f"/scim/v2/Users/{someone.id}", headers=auth).get_json()["active"] is True

    missing = client.post("/sandbox/join", json={"email": someone.email, "group": "nope"},
                          headers=auth)
    assert missing.status_code == 404 and "nope" in missing.get_json()["error"]
    assert client.post("/sandbox/leave", json={"email": "nobody@example.com"},
                       headers=auth).status_code == 404
    assert client.post("/sandbox/leave", data="not json", headers=auth).status_code == 404
