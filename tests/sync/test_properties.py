"""Property tests: a plan applied to any current state reaches the desired state, once."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sync.state import apply_to_state
from workers.sync import mapping, planner
from workers.sync.mapping import group_key
from workers.sync.model import Group, Snapshot, User
from workers.sync.plan import ADD_MEMBER, INVITE_USER, REMOVE_MEMBER, Plan
from workers.sync.planner import Current, Links
from workers.sync.policy import (
    DEPROVISION_MODES,
    GroupFilter,
    MappingPolicy,
    NameTransform,
    SyncPolicy,
    UserFilter,
)
from workers.sync.privileged import is_admin_name

UIDS = [f"u{i}" for i in range(6)]
GIDS = [f"g{i}" for i in range(4)]
ACCOUNTS = [f"a{i}" for i in range(8)]
EMAILS = ["x0@d.com", "x1@d.com", "x2@e.org", "X3@d.com", "x4@e.org", "bad"]
NAMES = ["A", "a", "B", "C", "T1", "jira-administrators", "Confluence-Users"]
SITE_NAMES = ["A", "B", "T1", "D", "other", "jsw", "jira-administrators", "confluence-users",
              "site-admins"]
RULES = (("A", ("T1",)), ("B", ("T1", "T2")), ("g3", ("D",)))


@st.composite
def snapshots(draw) -> Snapshot:
    snap = Snapshot()
    for uid in draw(st.lists(st.sampled_from(UIDS), unique=True)):
        snap.add_user(User(uid, draw(st.sampled_from(EMAILS)), active=draw(st.booleans())))
    for gid in draw(st.lists(st.sampled_from(GIDS), unique=True)):
        parents = tuple(draw(st.lists(st.sampled_from(GIDS), unique=True, max_size=2)))
        snap.add_group(Group(gid, draw(st.sampled_from(NAMES)), parents))
        for uid in draw(st.lists(st.sampled_from(UIDS), unique=True)):
            snap.add_member(gid, uid)
    return snap


@st.composite
def policies(draw) -> tuple[MappingPolicy, SyncPolicy]:
    mapping_policy = MappingPolicy(
        mode=draw(st.sampled_from(["on_the_fly", "manual"])),
        transform=NameTransform(case=draw(st.sampled_from(["keep", "lower"]))),
        rules=RULES,
        groups=GroupFilter(exclude=draw(st.sampled_from([(), ("C",), ("re:t.*",)]))),
        users=UserFilter(active_only=draw(st.booleans()),
                         email_domains=draw(st.sampled_from([(), ("d.com",)])),
                         members_only=draw(st.booleans())),
        default_groups=draw(st.sampled_from([(), ("D",), ("jsw", "A")])),
        flatten_nested=draw(st.booleans()))
    sync_policy = SyncPolicy(
        on_unmatched=draw(st.sampled_from(["invite", "skip"])),
        deprovision=draw(st.sampled_from(DEPROVISION_MODES)),
        product_access_groups=("jsw", "site-admins"),
        adopt_existing_groups=draw(st.booleans()),
        invite_domains=draw(st.sampled_from([None, (), ("d.com",)])),
        protected_account_ids=frozenset(draw(st.lists(st.sampled_from(ACCOUNTS), max_size=2))))
    return mapping_policy, sync_policy


@st.composite
def sites(draw) -> tuple[Current, Links]:
    names = draw(st.lists(st.sampled_from(SITE_NAMES), unique=True))
    current = Current(
        groups={f"S{i}": name for i, name in enumerate(names)},
        members={f"S{i}": set(draw(st.lists(st.sampled_from(ACCOUNTS)))) for i in range(len(names))},
        accounts_by_email={e.lower(): draw(st.sampled_from(ACCOUNTS)) for e in
                           draw(st.lists(st.sampled_from(EMAILS), unique=True))},
        site_admins=set(draw(st.lists(st.sampled_from(ACCOUNTS), max_size=1))))
    current.admin_groups = set(draw(st.lists(st.sampled_from(list(current.groups) or ["S0"]),
                                             max_size=1)))
    linked_uids = draw(st.lists(st.sampled_from(UIDS), unique=True))
    accounts = draw(st.permutations(ACCOUNTS))
    links = Links(users=dict(zip(linked_uids, accounts, strict=False)),
                  groups={gid: draw(st.sampled_from([*current.groups, "S-gone"])) for gid in
                          draw(st.lists(st.sampled_from(GIDS), unique=True))})
    links.suspended = set(draw(st.lists(st.sampled_from(list(links.users.values()) or ["a0"]))))
    return current, links


def target_gid(key: str, want: mapping.Desired, current: Current, links: Links) -> str:
    for idp_id in want.groups[key].idp_group_ids:
        if links.groups.get(idp_id) in current.groups:
            return links.groups[idp_id]
    return next(gid for gid, name in current.groups.items() if group_key(name) == key)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), policies(), sites())
def test_plan_reaches_desired_state_touching_nothing_else_and_is_idempotent(snap, pols, state):
    mapping_policy, sync_policy = pols
    current, links = state
    want = mapping.desired(snap, mapping_policy)
    first = planner.plan(want, current, links, sync_policy)
    assert Plan.from_json(first.to_json()) == first
    after, after_links = apply_to_state(current, links, first)

    again = planner.plan(want, after, after_links, sync_policy)
    assert again.ops == [], again.ops

    touchable = planner.groups_to_read(want, current.groups, links, sync_policy)
    for gid, members in current.members.items():
        if gid not in touchable:
            assert after.members[gid] == members, f"unmanaged group {gid} changed"
        lost = members - after.members.get(gid, set())
        ours = set(links.users.values()) | set(after_links.users.values())
        assert lost <= ours, f"foreign account removed from {gid}"
        assert not lost & (current.site_admins | sync_policy.protected_account_ids)

    newly_suspended = after_links.suspended - links.suspended
    assert newly_suspended <= set(links.users.values()) - current.site_admins - \
        sync_policy.protected_account_ids

    admin = {gid for gid, name in current.groups.items()
             if is_admin_name(name) or gid in current.admin_groups}
    written = {op.group_id for op in first.ops if op.kind in (ADD_MEMBER, REMOVE_MEMBER)}
    assert not written & admin, "an admin group was written"
    assert not any(is_admin_name(op.group_name or "") for op in first.ops), "admin name planned"
    for op in first.ops:
        if op.kind == INVITE_USER and sync_policy.invite_domains is not None:
            assert op.email.rpartition("@")[2].lower() in sync_policy.invite_domains

    skipped = {group_key(s.name) for s in first.skipped_groups}
    for key, uids in want.members.items():
        if key in skipped:
            continue
        gid = target_gid(key, want, after, after_links)
        placed = {after_links.users[u] for u in uids if u in after_links.users}
        assert placed <= after.members[gid], f"{key} is missing members"


def naive_closure(snap: Snapshot, gid: str) -> set[str]:
    """Members of `gid` and of every group reachable below it, by plain graph search."""
    seen, todo, members = {gid}, [gid], set()
    while todo:
        node = todo.pop()
        members |= snap.members.get(node, set())
        for child in snap.groups.values():
            if node in child.parent_ids and child.id not in seen:
                seen.add(child.id)
                todo.append(child.id)
    return members


@settings(max_examples=100, deadline=None)
@given(snapshots(), st.lists(st.sampled_from(GIDS), unique=True))
def test_closure_matches_a_plain_graph_search(snap, roots):
    roots = [r for r in roots if r in snap.groups]
    closures = mapping.member_closure(snap, roots)
    for gid in roots:
        assert set(closures[gid]) == naive_closure(snap, gid)
