"""The incremental planner: plan only what an IdP delta touches, with the full planner's rules.

Precondition: the site already matched the previous desired state (the last run applied its
whole plan and the mapping has not changed since); then a group no change touched needs no op,
and a user no change touched needs none either. What the delta touches is planned by the full
planner (`workers.sync.planner.plan`, the reference) over a projection of the inputs:

- a desired group whose target changed (new, gone, renamed, another default or IdP group)
  is planned in full;
- a desired group whose members alone changed is planned for those members and the touched
  users (its wanted and current members both narrowed to them): a member it kept, and whose
  user did not change, needs no op there;
- any other desired group containing a touched user is planned for the touched users only
  (narrowed the same way, so no one else is added or removed);
- the users planned are the touched ones, every member (old or new) of a group planned in
  full, the members that joined or left a group, and whoever an unlinked planned user could
  collide with (same e-mail, or the holder of the account its e-mail finds), so links,
  invitations and duplicate checks come out as in a full plan.

`tests/engine/test_incremental_planner.py` checks on random directories and deltas that the
ops equal the full planner's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from workers.sync.mapping import Desired, changed_keys
from workers.sync.plan import Plan
from workers.sync.planner import Current, Links, emails_to_look_up, plan
from workers.sync.planner import by_name as planner_by_name
from workers.sync.policy import SyncPolicy


def touched(old: Desired, new: Desired,
            idp_changed: set[str] | None = None) -> tuple[set[str], set[str]]:
    """(desired group keys, IdP user ids) whose desired state differs between `old` and `new`.
    `idp_changed`: `changed_keys(old.idp_users, new.idp_users)` when the caller has it (the
    users' records are then not compared again)."""
    # identity first: a change read leaves the member sets it did not change as the base's
    # own, and the mapping passes a flat group's set through, so most compare in one step
    keys = {k for k in old.groups.keys() | new.groups.keys()
            if ((was := old.groups.get(k)) is not (now := new.groups.get(k)) and was != now)
            or (old.members.get(k) is not new.members.get(k)
                and old.members.get(k) != new.members.get(k))}
    if idp_changed is None:
        users = changed_keys(old.users, new.users)
        if old.idp_users is not old.users or new.idp_users is not new.users:  # else the same again
            users |= changed_keys(old.idp_users, new.idp_users)
        return keys, users
    # a synced user's record is the IdP's own: it differs where the IdP's does, so beyond
    # those only who started or stopped being synced
    users = set(idp_changed)
    if old.users is not new.users and (old.users is not old.idp_users
                                       or new.users is not new.idp_users):
        users |= old.users.keys() ^ new.users.keys()
    return keys, users


def whole_groups(old: Desired, new: Desired, keys: set[str]) -> set[str]:
    """The touched desired groups planned in full: those whose target itself changed."""
    return {k for k in keys if k in new.groups and old.groups.get(k) != new.groups[k]}


def movers(old: Desired, new: Desired, k: str) -> set[str]:
    """The IdP users who joined or left desired group `k`."""
    return old.members.get(k, set()) ^ new.members.get(k, set())


@dataclass(frozen=True, slots=True)
class Touch:
    """What a delta touches, worked out once per run for every step that needs it."""

    keys: set[str]
    """Desired group keys whose desired state differs (`touched`)."""
    users: set[str]
    """IdP users whose record or syncing differs (`touched`)."""
    whole: set[str]
    """The keys planned in full (`whole_groups`)."""
    moved: dict[str, set[str]]
    """Each other key → the users who joined or left it (`movers`)."""
    planned: set[str]
    """The synced users the delta plans: the touched ones, every member, old or new, of a
    group planned in full, and whoever joined or left a touched group (a leaver still
    synced elsewhere is removed there)."""
    members: dict[str, set[str] | frozenset[str]]
    """The desired groups the delta plans, each → its members planned: all of a group planned
    in full, else those among the touched users and the group's joiners and leavers."""


def touch(old: Desired, new: Desired, idp_changed: set[str] | None = None) -> Touch:
    """What changes from `old` to `new`, for the incremental planner (see `Touch`;
    `idp_changed` as for `touched`)."""
    keys, users = touched(old, new, idp_changed)
    whole = whole_groups(old, new, keys)
    moved = {k: movers(old, new, k) for k in keys - whole}
    synced = new.users.keys()
    planned = set(users & synced)
    for k in whole:
        planned |= new.members[k]
        planned |= old.members.get(k, set()) & synced
    for k, who in moved.items():
        if k in new.groups:
            planned |= who & synced
    return Touch(keys, users, whole, moved, planned, _planned_members(new, users, whole, moved))


def _planned_members(new: Desired, users: set[str], whole: set[str],
                     moved: dict[str, set[str]]) -> dict[str, set[str] | frozenset[str]]:
    """`Touch.members`: a group whose members alone changed is planned for those members
    and the touched users, any other group holding a touched user for the touched users."""
    out = {}
    for k in new.groups:
        if k in whole:
            out[k] = new.members[k]
        elif k in moved:
            out[k] = new.members[k] & (users | moved[k])
        elif users:  # (a change of memberships alone touches no user: no group asked at all)
            here = new.members[k] & users
            if here:
                out[k] = here
    return out


def emails_needed(new: Desired, links: Links, planned: set[str]) -> list[str]:
    """The e-mails to look up on the site for this delta: those of its unlinked planned users
    (`planned`: `Touch.planned`)."""
    return emails_to_look_up(Desired(users={u: new.users[u] for u in planned}), links)


def sharing(new: Desired, emails: Iterable[str]) -> set[str]:
    """The synced users whose e-mail (trimmed, any case) is one of `emails`."""
    wanted = set(emails)
    return {uid for uid, user in new.users.items()
            if isinstance(user.email, str) and user.email.strip().lower() in wanted}


def planned_groups(new: Desired, change: Touch) -> Desired:
    """`new` with only the groups `change` plans: what the site must be asked about."""
    return Desired(users=new.users, groups={k: new.groups[k] for k in change.members},
                   members=change.members, idp_users=new.idp_users, notices=[])


def project(new: Desired, current: Current, links: Links,
            change: Touch) -> tuple[Desired, Current, Links]:
    """The inputs narrowed to what `change` touches (see the module's docstring)."""
    users, whole, planned = change.users, change.whole, set(change.planned)
    moved = {k: who for k, who in change.moved.items() if k in new.groups}
    planned |= _colliders(new, current, links, planned)
    touched_accounts = {links.users[u] for u in users if u in links.users}
    touched_accounts |= {current.accounts_by_email[e] for e in _emails(new, users)
                         if e in current.accounts_by_email}
    # an account an untouched planned user holds stays theirs: its other groups are not ours to plan
    touched_accounts -= {links.users[u] for u in planned - users if u in links.users}
    desired = replace(planned_groups(new, change),
                      users={u: v for u, v in new.users.items() if u in planned})
    linked = planned | (users - new.users.keys())
    narrowed = Links(users={u: a for u, a in links.users.items() if u in linked},
                     groups=links.groups, suspended=links.suspended)
    focus = {k: touched_accounts | {links.users[u] for u in ids if u in links.users}
             for k, ids in moved.items()}
    return desired, _narrow_current(current, new, links, whole, touched_accounts, focus), narrowed


def _emails(desired: Desired, users: Iterable[str]) -> set[str]:
    return {desired.users[u].email.strip().lower() for u in users
            if u in desired.users and isinstance(desired.users[u].email, str)}


def _colliders(new: Desired, current: Current, links: Links, planned: set[str]) -> set[str]:
    """Users outside `planned` that an unlinked planned user's e-mail meets."""
    unlinked = {u for u in planned if u not in links.users}
    if not unlinked:
        return set()
    emails = set(emails_to_look_up(Desired(users={u: new.users[u] for u in unlinked}), links))
    if not emails:
        return set()
    holder = {acc: uid for uid, acc in links.users.items()}
    out = {holder[current.accounts_by_email[e]] for e in emails
           if current.accounts_by_email.get(e) in holder}
    # The first synced user with an e-mail takes it; the planner walks users in this order.
    out |= sharing(new, emails)
    return {u for u in out if u in new.users} - planned


def _site_groups(new: Desired, links: Links, by_name: dict[str, str], k: str) -> set[str]:
    """The site groups desired group `k` is (by link, else by name)."""
    target = new.groups[k]
    out = {links.groups[i] for i in target.idp_group_ids if i in links.groups}
    if k in by_name:
        out.add(by_name[k])
    return out


def _narrow_current(current: Current, new: Desired, links: Links, whole: set[str],
                    accounts: set[str], focus: dict[str, set[str]]) -> Current:
    """Current members: in full for the groups planned whole, the `focus` accounts of a group
    whose members changed, only touched accounts elsewhere."""
    by_name = planner_by_name(current)
    full: set[str] = set()
    for k in whole:
        full |= _site_groups(new, links, by_name, k)
    wider: dict[str, set[str]] = {}
    for k, who in focus.items():
        for gid in _site_groups(new, links, by_name, k):
            wider.setdefault(gid, set(accounts)).update(who)
    members = {gid: (have if gid in full else have & wider.get(gid, accounts))
               for gid, have in current.members.items()}
    return Current(groups=current.groups, members=members,
                   accounts_by_email=current.accounts_by_email, site_admins=current.site_admins,
                   admin_groups=current.admin_groups, inactive=current.inactive,
                   synced_groups=current.synced_groups, names=by_name)


def plan_incremental(old: Desired, new: Desired, current: Current, links: Links,
                     policy: SyncPolicy, *, managed: tuple[int, int] | None = None,
                     change: Touch | None = None) -> Plan:
    """The ops of `plan(new, current, links, policy)`, given that the site matched `old`.

    `managed` is (groups, memberships) the connection manages in all, for the guard's
    percentages (the narrowed plan counts only what it touched); `change` is
    `touch(old, new)` when the caller has it already."""
    change = change if change is not None else touch(old, new)
    desired, narrowed, narrowed_links = project(new, current, links, change)
    result = plan(desired, narrowed, narrowed_links, policy)
    result.stats.update({"idp_users": len(new.idp_users), "desired_users": len(new.users),
                         "desired_memberships": sum(len(m) for m in new.members.values()),
                         "touched_groups": len(change.keys),
                         "touched_users": len(change.users)})
    if managed is not None:
        result.stats["managed_groups"], result.stats["managed_memberships"] = managed
    return result
