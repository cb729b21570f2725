"""From an IdP snapshot and the connection's mapping to the desired Atlassian groups and members."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from workers.sync.model import Group, Snapshot, User
from workers.sync.plan import Notice, bulk_allocation
from workers.sync.policy import REGEX_PREFIX, GroupFilter, MappingPolicy, UserFilter

_EMPTY: frozenset[str] = frozenset()


def group_key(name: str) -> str:
    """Atlassian group names are unique regardless of case: the key a name is matched by."""
    return name.casefold()


def groups_by_key(groups: dict[str, str]) -> dict[str, str]:
    """groupId → name turned round: `group_key(name)` → groupId."""
    return {group_key(name): gid for gid, name in groups.items()}


@dataclass(slots=True)
class DesiredGroup:
    """An Atlassian group the mapping wants, and the IdP groups (on-the-fly) that may link it.

    `explicit`: the admin named this group (a default group or a manual mapping rule), as
    opposed to an IdP group's name arriving on the fly.
    """

    name: str
    idp_group_ids: tuple[str, ...] = ()
    default: bool = False
    explicit: bool = False


@dataclass(slots=True)
class Desired:
    """What Atlassian should look like for this connection, still in IdP ids.

    `groups` and `members` are keyed by `group_key(name)`; member sets, and `users` when it
    is every user, may be shared with the snapshot, so treat them as read-only. Every member
    is one of `users`. `idp_users` is every user the fetch saw, so the planner can tell a user
    who left from one who was disabled or filtered out.
    """

    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, DesiredGroup] = field(default_factory=dict)
    members: dict[str, set[str] | frozenset[str]] = field(default_factory=dict)
    idp_users: dict[str, User] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    scope: set[str] | None = None
    """The ids of the users the user filter passed, as `desired` found them; `desired_after`
    takes them over (they are the same whenever it does not fall back to `desired`)."""
    fed: dict[str, list[str]] | None = None
    """Each target key → the IdP groups feeding it, in mapping order (as `scope`)."""
    holders: dict[str, int] | None = field(default=None, compare=False)
    """When only groups' members are synced: each synced user → how many of the targets in
    `fed` hold them (`holders_of`), kept so that `desired_after` tells who left every target
    from the change alone, not by a pass over all of them; None when not worked out."""


def holders_of(desired: Desired) -> dict[str, int]:
    """`Desired.holders` worked out: a pass over every fed target's members."""
    out: dict[str, int] = {}
    get = out.get
    for key in desired.fed or ():
        for uid in desired.members.get(key, _EMPTY):
            out[uid] = get(uid, 0) + 1
    return out


def name_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """One predicate for a list of patterns: `re:` regex (full match) or glob; case-insensitive."""
    # Compiled one by one: a regex may carry its own global flags such as (?x).
    compiled = [re.compile(p[len(REGEX_PREFIX):] if p.startswith(REGEX_PREFIX)
                           else fnmatch.translate(p), re.IGNORECASE) for p in patterns]
    return lambda name: any(c.fullmatch(name) for c in compiled)


def select_groups(groups: Iterable[Group], rule: GroupFilter) -> list[Group]:
    """The groups whose names pass the include patterns (all when none) and no exclude pattern."""
    included = name_matcher(rule.include) if rule.include else (lambda name: True)
    excluded = name_matcher(rule.exclude)
    return [g for g in groups if included(g.name) and not excluded(g.name)]


def user_passes(user: User, rule: UserFilter, domains: frozenset[str] = _EMPTY) -> bool:
    """Whether `user` may be synced at all (before group membership is considered)."""
    if rule.active_only and not user.active:
        return False
    if domains:
        local, at, domain = (user.email or "").rpartition("@")
        return bool(local and at) and domain.lower() in domains
    return True


def member_closure(snapshot: Snapshot, roots: Iterable[str],
                   flatten: bool = True) -> dict[str, set[str] | frozenset[str]]:
    """Each root group's members, including (when `flatten`) every descendant group's members.

    Cycles are handled by Tarjan's strongly connected components: every group of a cycle
    has the same closure. Work is linear in the groups and memberships reached.
    """
    direct = snapshot.members
    if not flatten:
        return {g: direct.get(g, _EMPTY) for g in roots}
    closures: dict[str, set[str] | frozenset[str]] = {}
    _TarjanClosure(_children(snapshot), direct, closures).run(roots)
    return closures


def _children(snapshot: Snapshot) -> dict[str, list[str]]:
    """Each group → the groups directly below it."""
    children: dict[str, list[str]] = {}
    for group in snapshot.groups.values():
        for parent in group.parent_ids:
            if parent in snapshot.groups and parent != group.id:
                children.setdefault(parent, []).append(group.id)
    return children


class _TarjanClosure:
    """Iterative Tarjan over the child graph; components come out children first."""

    def __init__(self, children: dict[str, list[str]], direct: dict[str, set[str]],
                 out: dict[str, set[str] | frozenset[str]]):
        self.children, self.direct, self.out = children, direct, out
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()

    def _enter(self, node: str, work: list) -> None:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        work.append((node, iter(self.children.get(node, ()))))

    def run(self, roots: Iterable[str]) -> None:
        for root in roots:
            if root in self.index:
                continue
            if root not in self.children:
                # No nested groups below: its closure is its own members (shared, not copied).
                self.out[root] = self.direct.get(root, _EMPTY)
                continue
            work: list = []
            self._enter(root, work)
            while work:
                node, pending = work[-1]
                for child in pending:
                    if child not in self.index:
                        self._enter(child, work)
                        break
                    if child in self.on_stack:
                        self.low[node] = min(self.low[node], self.index[child])
                else:
                    work.pop()
                    if work:
                        parent = work[-1][0]
                        self.low[parent] = min(self.low[parent], self.low[node])
                    if self.low[node] == self.index[node]:
                        self._close(node)

    def _close(self, root: str) -> None:
        component = []
        while True:
            node = self.stack.pop()
            self.on_stack.discard(node)
            component.append(node)
            if node == root:
                break
        if len(component) == 1 and root not in self.children:
            # A leaf group: share the snapshot's set instead of copying it.
            self.out[root] = self.direct.get(root, _EMPTY)
            return
        members: set[str] = set()
        inside = set(component)
        for node in component:  # `update`, not `|=`: a stored base's sets are not `set`s
            members.update(self.direct.get(node, _EMPTY))
            for child in self.children.get(node, ()):
                if child not in inside:
                    members.update(self.out[child])
        for node in component:
            self.out[node] = members


Targets = list[tuple[Group, tuple[str, ...]]]


def _targets(groups: list[Group], policy: MappingPolicy) -> tuple[Targets, list[Notice]]:
    """Each selected IdP group with the Atlassian group names it feeds."""
    if policy.mode == "on_the_fly":
        return [(g, (policy.transform.apply(g.name),)) for g in groups], []
    by_id: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for idp_group, names in policy.rules:
        by_id.setdefault(idp_group, []).extend(names)
        by_name.setdefault(group_key(idp_group), []).extend(names)
    used: set[str] = set()
    out = []
    for g in groups:
        names = by_id.get(g.id, []) + by_name.get(group_key(g.name), [])
        if names:
            out.append((g, tuple(dict.fromkeys(names))))
            used.update((g.id, group_key(g.name)))
    notices = [Notice("rule_unmatched",
                      f"Mapping rule for IdP group '{idp}' matches no synced IdP group")
               for idp, _ in policy.rules if idp not in used and group_key(idp) not in used]
    return out, notices


def desired(snapshot: Snapshot, policy: MappingPolicy) -> Desired:
    """The desired state for one connection: targets, members (flattened), default groups."""
    with bulk_allocation():
        return _desired(snapshot, policy)


def _desired(snapshot: Snapshot, policy: MappingPolicy) -> Desired:
    scope = in_scope(snapshot.users, policy.users)
    sources, notices = _targets(select_groups(snapshot.groups.values(), policy.groups), policy)
    closures = member_closure(snapshot, [g.id for g, _ in sources], policy.flatten_nested)
    result = Desired(idp_users=snapshot.users, notices=notices, scope=scope, fed={})
    linkable = policy.mode == "on_the_fly"
    # When every member of every mapped group is in scope (the usual case), each group's set
    # is shared as it is instead of being copied member by member. Checked on the union of
    # the groups' sets when syncing only their members needs that union anyway, else per
    # distinct set (a union of a million memberships costs more than checking them).
    distinct = {id(c): c for c in (closures[g.id] for g, _ in sources)}.values()
    reached: set[str] = set()
    if policy.users.members_only:
        reached = reached.union(*distinct)
        all_in_scope = reached <= scope
    else:
        all_in_scope = all(c <= scope for c in distinct)
    groups, members, fed = result.groups, result.members, result.fed
    for group, names in sources:
        closure = closures[group.id]
        users_here = closure if all_in_scope or closure <= scope else closure & scope
        for name in names:
            key = group_key(name)
            if key not in groups and name.strip():  # a target first fed here: `_merge`'s start
                groups[key] = DesiredGroup(name, (group.id,) if linkable else (),
                                           explicit=not linkable)
                members[key] = users_here
            else:
                _merge(result, name, users_here, group.id if linkable else None,
                       explicit=not linkable)
            fed.setdefault(key, []).append(group.id)
    if not policy.users.members_only:
        synced = scope
    elif any(n.code == "empty_name" for n in result.notices):
        # A group mapped to no name added nobody: count only the groups that were merged.
        synced = set().union(*result.members.values())
    else:  # every user a mapped group reaches
        synced = reached if all_in_scope else reached & scope
    result.users = _synced_users(snapshot.users, synced)
    for name in policy.default_groups:
        _merge(result, name, synced, None, default=True, explicit=True)
    return result


def desired_after(old: Desired, base: Snapshot, snapshot: Snapshot, policy: MappingPolicy,
                  changed_users: set[str] | None = None) -> Desired:
    """`desired(snapshot, policy)`, given `old` = `desired(base, policy)`: only the targets an
    IdP group feeds whose members changed (or, nested, a group's below it) are built again,
    and only the users who joined or left one are weighed for syncing; every other target is
    `old`'s own. When the change reaches further (a group new, gone, renamed or moved, a user
    new or gone or passing the user filter differently, an empty target name, a default group
    an IdP group also feeds) it is `desired` in full. `tests/engine/test_desired_after.py`
    checks both agree on random directories and changes. `changed_users`:
    `changed_keys(base.users, snapshot.users)` when the caller has it."""
    with bulk_allocation():
        return (_desired_after(old, base, snapshot, policy, changed_users)
                or _desired(snapshot, policy))


def _desired_after(old: Desired, base: Snapshot, snapshot: Snapshot, policy: MappingPolicy,
                   changed_users: set[str] | None) -> Desired | None:
    if (old.fed is None or old.scope is None  # not made by `desired`
            or any(n.code == "empty_name" for n in old.notices) or old.idp_users is not base.users
            or changed_keys(base.groups, snapshot.groups)):
        return None
    rule = policy.users
    domains = frozenset(d.lower().lstrip("@") for d in rule.email_domains)
    if changed_users is None:
        changed_users = changed_keys(base.users, snapshot.users)
    for uid in changed_users:
        was, now = base.users.get(uid), snapshot.users.get(uid)
        if (was is None or now is None
                or user_passes(was, rule, domains) != user_passes(now, rule, domains)):
            return None
    changed = changed_keys(base.members, snapshot.members)
    # the groups and who passes the filter are as they were: so are the targets and the scope
    fed, scope = old.fed, old.scope
    defaults = {group_key(name) for name in policy.default_groups}
    if defaults & fed.keys():
        return None
    affected = _with_ancestors(snapshot, changed) if policy.flatten_nested else changed
    keys = {k for k, ids in fed.items() if not affected.isdisjoint(ids)}
    members = dict(old.members)
    members.update(fed_members(snapshot, keys, fed, scope, policy.flatten_nested))
    synced: AbstractSet[str] = scope
    same = True  # the synced users are old's (who they are; their records may have changed)
    holders = None
    if rule.members_only:
        if old.holders is not None:
            holders, joined, leavers = _held(old, members, keys)
        else:
            joined, leavers = _joined_and_left(old, base, snapshot, members, changed, keys)
        same = not joined and not leavers
        synced = old.users.keys() if same else (set(old.users) | joined) - leavers
    if defaults:  # a default group holds every synced user: one set for all of them
        every = synced if isinstance(synced, set) else set(synced)
        for k in defaults:
            members[k] = every
    users = (_same_synced(old.users, snapshot.users, changed_users) if same
             else _synced_users(snapshot.users, synced))
    return Desired(users=users, groups=dict(old.groups), members=members,
                   idp_users=snapshot.users, notices=list(old.notices), scope=scope, fed=fed,
                   holders=holders)


def _held(old: Desired, members: dict[str, AbstractSet[str]],
          keys: Iterable[str]) -> tuple[dict[str, int], set[str], set[str]]:
    """`old.holders` moved by the rebuilt targets `keys` (now `members`), with the users who
    joined the first target and who left the last."""
    holders, joined, leavers = dict(old.holders or {}), set(), set()
    for k in keys:
        was, now = old.members.get(k, _EMPTY), members[k]
        if was is now:
            continue
        for uid in was - now:
            left = holders[uid] - 1
            if left:
                holders[uid] = left
            else:
                del holders[uid]
                leavers.add(uid)
        for uid in now - was:
            held = holders.get(uid, 0)
            holders[uid] = held + 1
            if not held:
                joined.add(uid)
    # one who left and joined within the change is synced as before
    both = joined & leavers
    return holders, joined - both, leavers - both


def _joined_and_left(old: Desired, base: Snapshot, snapshot: Snapshot,
                     members: dict[str, AbstractSet[str]], changed: set[str],
                     keys: set[str]) -> tuple[set[str], set[str]]:
    """Who joined the synced users and who left them, without `old.holders`: a leaver is
    looked for in every other target."""
    moved: set[str] = set()
    for gid in changed:
        moved |= base.members.get(gid, _EMPTY) ^ snapshot.members.get(gid, _EMPTY)
    moved &= old.scope or set()
    here = set().union(*(members[k] for k in keys))
    joined = (moved & here) - old.users.keys()
    # one who left a group the change reaches may still be in another: the other targets'
    # members are gone through once, until each leaver is found in one (a pass over ids, no
    # lookup in each set: a stored base's sets are then never built)
    leavers = (moved - here) & old.users.keys()
    for k in old.fed or ():
        if not leavers:
            break
        if k not in keys:
            leavers.difference_update(members[k])
    return joined, leavers


def _same_synced(old: dict[str, User], users: dict[str, User],
                 changed: Collection[str]) -> dict[str, User]:
    """`_synced_users(users, old.keys())` when `users` holds each of `old` in the same order
    (a change read updates records in place) and `changed` are the ids whose records differ:
    `old` with those records replaced, not a pass over a hundred thousand users."""
    if len(old) == len(users):
        return users
    if not changed:
        return old
    out = dict(old)
    for uid in changed:
        if uid in out:
            out[uid] = users[uid]
    return out


def fed_members(snapshot: Snapshot, keys: Iterable[str], fed: dict[str, list[str]],
                scope: set[str], flatten: bool) -> dict[str, set[str] | frozenset[str]]:
    """Each of `keys` → the users in `scope` its IdP groups (`fed[key]`) reach, as `desired`
    makes a target's members (a default group's aside)."""
    keys = list(keys)
    closures = member_closure(snapshot, [gid for k in keys for gid in fed[k]], flatten)
    return {k: _reached(closures, fed[k], scope) for k in keys}


def _reached(closures: dict[str, AbstractSet[str]], gids: list[str],
             scope: set[str]) -> set[str] | frozenset[str]:
    """The users in `scope` of the closures of `gids` (the groups feeding one target)."""
    first, *more = (c if c <= scope else c & scope for c in (closures[g] for g in gids))
    return first.union(*more) if more else first


class FedMembers:
    """`fed_members` of one target at a time, as each is asked for: what the nested groups
    reach is worked out once for all the targets asked about (one map of the groups below
    each, one walk resumed), and not at all when none is."""

    def __init__(self, snapshot: Snapshot, fed: dict[str, list[str]], scope: set[str],
                 flatten: bool) -> None:
        self.snapshot, self.fed, self.scope, self.flatten = snapshot, fed, scope, flatten
        self.walk: _TarjanClosure | None = None

    def __call__(self, key: str) -> set[str] | frozenset[str]:
        gids, direct = self.fed[key], self.snapshot.members
        if not self.flatten:
            return _reached({g: direct.get(g, _EMPTY) for g in gids}, gids, self.scope)
        if self.walk is None:
            self.walk = _TarjanClosure(_children(self.snapshot), direct, {})
        self.walk.run(gids)
        return _reached(self.walk.out, gids, self.scope)


_MISSING = object()


def changed_keys(old: dict, new: dict) -> set[str]:
    """The keys new, gone or with another value; one pass over `new` (a change read copies
    the snapshot, so unchanged records are the same objects and compare by identity), and a
    pass over `old` only when some key is gone."""
    if old is new:
        return set()
    out = {k for k, v in new.items() if (o := old.get(k, _MISSING)) is not v and o != v}
    added = sum(1 for k in out if k not in old)
    if len(new) - added < len(old):
        out.update(k for k in old if k not in new)
    return out


def _with_ancestors(snapshot: Snapshot, groups: set[str]) -> set[str]:
    """`groups` and every group above them (a group's closure holds its descendants')."""
    parents = {g.id: g.parent_ids for g in snapshot.groups.values() if g.parent_ids}
    out, todo = set(groups), list(groups)
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in out:
                out.add(parent)
                todo.append(parent)
    return out


def _synced_users(users: dict[str, User], synced: set[str]) -> dict[str, User]:
    """The synced users in the snapshot's order, so invites come out in the same order run
    after run. When every user is synced the snapshot's own dict serves, when nearly every
    one a copy with the few others taken out (a million entries either way)."""
    if len(synced) == len(users):
        return users
    if 2 * len(synced) < len(users):
        return {uid: u for uid, u in users.items() if uid in synced}
    kept = dict(users)
    for uid in users.keys() - synced:
        del kept[uid]
    return kept


def in_scope(users: dict[str, User], rule: UserFilter) -> set[str]:
    """The ids of the users that pass the user filter (`user_passes`, inlined for the common
    filters: this runs once per user of a million)."""
    domains = frozenset(d.lower().lstrip("@") for d in rule.email_domains)
    if domains:
        return {uid for uid, u in users.items() if user_passes(u, rule, domains)}
    if rule.active_only:
        return {uid for uid, u in users.items() if u.active}
    return set(users)


def _merge(result: Desired, name: str, users: set[str] | frozenset[str],
           idp_group_id: str | None, default: bool = False, explicit: bool = False) -> None:
    if not name.strip():
        result.notices.append(Notice("empty_name",
                                     "An IdP group maps to an empty Atlassian group name; skipped"))
        return
    key = group_key(name)
    target = result.groups.get(key)
    if target is None:
        target = result.groups[key] = DesiredGroup(name=name)
        result.members[key] = users
    else:
        # Never mutate in place: the set may be shared with the snapshot or another target.
        result.members[key] = result.members[key] | users
    if idp_group_id is not None and idp_group_id not in target.idp_group_ids:
        if target.idp_group_ids:
            result.notices.append(Notice(
                "groups_merged", f"Several IdP groups map to Atlassian group '{target.name}'"))
        target.idp_group_ids += (idp_group_id,)
    target.default = target.default or default
    target.explicit = target.explicit or explicit
