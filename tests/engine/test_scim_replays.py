"""Entra's and Okta's provisioning sequences pushed over HTTP into our SCIM endpoint, synced into
the sandbox site: the stored SCIM state and the site's groups must both follow every step."""

from __future__ import annotations

import uuid

from tests.engine.harness import stack
from tests.engine.scim_replay_fixtures import GROUP, USER, Replay, patch, pending, with_accounts

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

# Entra's userName is the UPN; the mail the engine links by lives in emails (another domain).
ENTRA_PEOPLE = [("AdeleV", "Adele", "Vance"), ("AlexW", "Alex", "Wilber"),
                ("MeganB", "Megan", "Bowen"), ("LynneR", "Lynne", "Robbins")]


def entra_mail(upn: str) -> str:
    return f"{upn.lower()}@contoso.example"


ADELE, ALEX, MEGAN, LYNNE = (entra_mail(upn) for upn, _, _ in ENTRA_PEOPLE)


def entra_user(n: int) -> dict:
    upn, given, family = ENTRA_PEOPLE[n]
    return {"schemas": [USER, ENTERPRISE], "externalId": str(uuid.UUID(int=n + 1)),
            "userName": f"{upn}@contoso.onmicrosoft.com", "active": True,
            "emails": [{"primary": True, "type": "work", "value": entra_mail(upn)}],
            "meta": {"resourceType": "User"}, "roles": [],
            "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
            ENTERPRISE: {"department": "Sales", "employeeNumber": str(1000 + n)}}


def entra_test_connection(idp: Replay) -> None:
    """"Test connection" looks up a random user and a random group and must change nothing."""
    assert idp.search("Users", f'userName eq "{uuid.uuid4()}"')["totalResults"] == 0
    assert idp.search("Groups", f'displayName eq "{uuid.uuid4()}"',
                      "&excludedAttributes=members")["totalResults"] == 0
    idp.get(f"/Users/{uuid.uuid4()}", expect=404)
    assert not pending(idp.connection_id)  # reads flag nothing


def entra_create_user(idp: Replay, n: int) -> str:
    body = entra_user(n)
    assert idp.search("Users", f'userName eq "{body["userName"]}"')["totalResults"] == 0
    return idp.push("POST", "/Users", body, 201)["id"]


def entra_create_group(idp: Replay, name: str, members: list[str]) -> str:
    assert idp.search("Groups", f'displayName eq "{name}"',
                      "&excludedAttributes=members")["totalResults"] == 0
    body = {"schemas": [GROUP, MS_GROUP], "externalId": str(uuid.uuid4()), "displayName": name,
            "meta": {"resourceType": "Group"}}
    gid = idp.push("POST", "/Groups", body, 201)["id"]
    idp.push("PATCH", f"/Groups/{gid}", patch({"op": "Add", "path": "members", "value": [
        {"$ref": None, "value": m} for m in members]}), 204)
    return gid


def entra_first_cycle(idp: Replay) -> tuple[list[str], str, str]:
    """Users and groups created (one create refused as a duplicate) and synced."""
    u = [entra_create_user(idp, n) for n in range(4)]
    idp.push("POST", "/Users", entra_user(0), 409)
    sales = entra_create_group(idp, "Sales and Marketing", [u[0], u[1], u[2]])
    retail = entra_create_group(idp, "Retail", [u[0], u[3]])
    assert (idp.members_of(sales), idp.members_of(retail)) == ({u[0], u[1], u[2]}, {u[0], u[3]})
    idp.sync()
    idp.assert_site({"Sales and Marketing": {ADELE, ALEX, MEGAN}, "Retail": {ADELE, LYNNE}})
    return u, sales, retail


def entra_profile_edits(idp: Replay, u: list[str]) -> None:
    """Old shape (capitalised ops, value paths) and new (path-less, dotted keys): stored, and
    nothing to do on the site (a linked account stays linked through an e-mail change)."""
    idp.push("PATCH", f"/Users/{u[1]}", patch(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alex@contoso.example"},
        {"op": "Replace", "path": "name.familyName", "value": "Wilber-Smith"}), 200)
    idp.push("PATCH", f"/Users/{u[2]}", patch({"op": "replace", "value": {
        "displayName": "Megan B.", "name.givenName": "Meg",
        f"{ENTERPRISE}:employeeNumber": "2002"}}), 200)
    alex, megan = idp.get(f"/Users/{u[1]}"), idp.get(f"/Users/{u[2]}")
    assert (alex["emails"][0]["value"], alex["name"]["familyName"]) == (
        "alex@contoso.example", "Wilber-Smith")
    assert (megan["displayName"], megan["name"]["givenName"],
            megan[ENTERPRISE]["employeeNumber"]) == ("Megan B.", "Meg", "2002")
    writes = len(idp.stack.cloud.requests.writes())
    run, _ = idp.sync()
    assert run.ops_total == 0 and len(idp.stack.cloud.requests.writes()) == writes


def entra_disable_old_shape(idp: Replay, u: list[str]) -> None:
    """Older tenants disable with the string "False": Adele leaves every managed group."""
    idp.push("PATCH", f"/Users/{u[0]}", patch(
        {"op": "Replace", "path": "active", "value": "False"}), 200)
    assert idp.get(f"/Users/{u[0]}")["active"] is False
    idp.sync()
    idp.assert_site({"Sales and Marketing": {ALEX, MEGAN}, "Retail": {LYNNE}})
    assert idp.stack.cloud.site.user_by_email(ADELE) is not None  # the account itself stays


def entra_membership_changes(idp: Replay, u: list[str], sales: str, retail: str) -> None:
    """The old removal shape, the new value-path one, adds, and Adele enabled again."""
    idp.push("PATCH", f"/Groups/{sales}", patch(
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": u[1]}]}), 204)
    idp.push("PATCH", f"/Groups/{retail}", patch(
        {"op": "remove", "path": f'members[value eq "{u[3]}"]'}), 204)
    idp.push("PATCH", f"/Groups/{sales}", patch(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u[3]}]}), 204)
    idp.push("PATCH", f"/Groups/{retail}", patch(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u[2]}]}), 204)
    idp.push("PATCH", f"/Users/{u[0]}", patch(
        {"op": "replace", "path": "active", "value": True}), 200)
    assert (idp.members_of(sales), idp.members_of(retail)) == ({u[0], u[2], u[3]}, {u[0], u[2]})
    idp.sync()
    idp.assert_site({"Sales and Marketing": {ADELE, MEGAN, LYNNE}, "Retail": {ADELE, MEGAN}})


def entra_disable_new_shape_and_rename(idp: Replay, u: list[str], retail: str) -> None:
    """Newer tenants disable with a boolean; a renamed group keeps its Atlassian group."""
    retail_on_site = idp.group_id("Retail")
    idp.push("PATCH", f"/Users/{u[2]}", patch(
        {"op": "replace", "path": "active", "value": False}), 200)
    idp.push("PATCH", f"/Groups/{retail}", patch(
        {"op": "Replace", "path": "displayName", "value": "Retail EMEA"}), 204)
    assert idp.get(f"/Groups/{retail}?excludedAttributes=members")["displayName"] == "Retail EMEA"
    _, plan = idp.sync()
    assert "rename_followed" in {n.code for n in plan.notices}
    idp.assert_site({"Sales and Marketing": {ADELE, LYNNE}, "Retail": {ADELE}})
    assert idp.group_id("Retail") == retail_on_site


def test_entra_provisioning_reaches_the_site(test_config, tmp_path):
    with stack(test_config, tmp_path) as site:
        with_accounts(site, {entra_mail(upn): f"{g} {f}" for upn, g, f in ENTRA_PEOPLE})
        idp = Replay(site, "Entra ID")
        entra_test_connection(idp)
        u, sales, retail = entra_first_cycle(idp)
        entra_profile_edits(idp, u)
        entra_disable_old_shape(idp, u)
        entra_membership_changes(idp, u, sales, retail)
        entra_disable_new_shape_and_rename(idp, u, retail)
        idp.settle()


# Okta's login is the e-mail; Group Push sends display names next to member ids.
OKTA_PEOPLE = ["isaac.brock", "kim.deal", "ian.curtis", "joe.strummer", "liz.phair"]


def okta_mail(login: str) -> str:
    return f"{login}@okta.example"


ISAAC, KIM, IAN, JOE, LIZ = (okta_mail(login) for login in OKTA_PEOPLE)


def okta_user(n: int, given: str | None = None) -> dict:
    login = OKTA_PEOPLE[n]
    first, last = (p.title() for p in login.split("."))
    given = given or first
    return {"schemas": [USER], "userName": okta_mail(login),
            "name": {"givenName": given, "familyName": last},
            "emails": [{"primary": True, "value": okta_mail(login), "type": "work"}],
            "displayName": f"{given} {last}", "locale": "en-US",
            "externalId": f"00u{n:017d}", "groups": [], "password": "1mz050nq", "active": True}


def okta_lookup(idp: Replay, login: str) -> dict:
    return idp.search("Users", f'userName eq "{login}"', "&startIndex=1&count=100")


def okta_members(u: list[str], *who: int) -> list[dict]:
    return [{"value": u[n], "display": okta_mail(OKTA_PEOPLE[n])} for n in who]


def okta_users(idp: Replay) -> list[str]:
    """Lookup then create; a retried create is refused (and flags nothing); a profile PUT."""
    u = []
    for n in range(len(OKTA_PEOPLE)):
        assert okta_lookup(idp, okta_mail(OKTA_PEOPLE[n]))["totalResults"] == 0
        u.append(idp.push("POST", "/Users", okta_user(n), 201)["id"])
    assert idp.push("POST", "/Users", okta_user(1), 409)["scimType"] == "uniqueness"
    assert okta_lookup(idp, KIM.upper())["Resources"][0]["id"] == u[1]
    put = idp.push("PUT", f"/Users/{u[1]}", {**okta_user(1, given="Kimberley"), "id": u[1]}, 200)
    assert idp.get(f"/Users/{u[1]}")["name"]["givenName"] == put["name"]["givenName"] == "Kimberley"
    return u


def okta_group_push(idp: Replay, u: list[str]) -> tuple[str, str]:
    """Each pushed group is created empty, then its members are added."""
    engineering = idp.push("POST", "/Groups", {"schemas": [GROUP], "displayName": "Engineering",
                                               "members": []}, 201)["id"]
    idp.sync()
    idp.assert_site({"Engineering": set()})
    support = idp.push("POST", "/Groups", {"schemas": [GROUP], "displayName": "Support",
                                           "members": []}, 201)["id"]
    for gid, who in ((engineering, (0, 1, 2)), (support, (0, 1, 3))):
        idp.push("PATCH", f"/Groups/{gid}", patch(
            {"op": "add", "path": "members", "value": okta_members(u, *who)}), 204)
    assert idp.members_of(support) == {u[0], u[1], u[3]}
    idp.sync()
    idp.assert_site({"Engineering": {ISAAC, KIM, IAN}, "Support": {ISAAC, KIM, JOE}})
    return engineering, support


def okta_rename(idp: Replay, u: list[str], engineering: str) -> None:
    """The id echoed in a path-less replace, then a member out and one in: no new site group."""
    on_site = idp.group_id("Engineering")
    idp.push("PATCH", f"/Groups/{engineering}", patch(
        {"op": "replace", "value": {"id": engineering, "displayName": "Engineering Team"}}), 204)
    idp.push("PATCH", f"/Groups/{engineering}", patch(
        {"op": "remove", "path": f'members[value eq "{u[0]}"]'},
        {"op": "add", "path": "members", "value": okta_members(u, 4)}), 204)
    assert idp.get(f"/Groups/{engineering}")["displayName"] == "Engineering Team"
    assert idp.members_of(engineering) == {u[1], u[2], u[4]}
    _, plan = idp.sync()
    assert "rename_followed" in {n.code for n in plan.notices}
    idp.assert_site({"Engineering": {KIM, IAN, LIZ}, "Support": {ISAAC, KIM, JOE}})
    assert idp.group_id("Engineering") == on_site


def okta_deactivate(idp: Replay, u: list[str], support: str) -> None:
    """A path-less replace of active: Kim stays a stored member but leaves every managed group."""
    off = idp.push("PATCH", f"/Users/{u[1]}", patch({"op": "replace",
                                                     "value": {"active": False}}), 200)
    assert off["active"] is False and idp.get(f"/Users/{u[1]}")["active"] is False
    assert u[1] in idp.members_of(support)
    idp.sync()
    idp.assert_site({"Engineering": {IAN, LIZ}, "Support": {ISAAC, JOE}})


def okta_replace_members(idp: Replay, u: list[str], engineering: str) -> None:
    """A full replace of the renamed group's members lands in the group it stays linked to."""
    on_site = idp.group_id("Engineering")
    idp.push("PATCH", f"/Groups/{engineering}", patch(
        {"op": "replace", "path": "members", "value": okta_members(u, 3, 0)}), 204)
    assert idp.members_of(engineering) == {u[3], u[0]}
    idp.sync()
    idp.assert_site({"Engineering": {JOE, ISAAC}, "Support": {ISAAC, JOE}})
    assert idp.group_id("Engineering") == on_site


def test_okta_provisioning_and_group_push_reach_the_site(test_config, tmp_path):
    with stack(test_config, tmp_path) as site:
        with_accounts(site, {okta_mail(login): login.replace(".", " ").title()
                             for login in OKTA_PEOPLE})
        idp = Replay(site, "Okta")
        u = okta_users(idp)
        engineering, support = okta_group_push(idp, u)
        okta_rename(idp, u, engineering)
        okta_deactivate(idp, u, support)
        okta_replace_members(idp, u, engineering)
        idp.settle()
