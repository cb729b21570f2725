"""A small in-memory site for planner tests: random directories, deltas, and applying a plan."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from workers.sync import snapshots
from workers.sync.model import Group, Snapshot, User
from workers.sync.plan import (
    ADD_MEMBER,
    CREATE_GROUP,
    INVITE_USER,
    LINK_GROUP,
    LINK_USER,
    REMOVE_MEMBER,
    RESTORE_ACCESS,
    SUSPEND_ACCESS,
    Plan,
)
from workers.sync.planner import Current, Links


def random_snapshot(rng: random.Random, users: int = 30, groups: int = 8) -> Snapshot:
    s = Snapshot()
    for i in range(users):
        # a few share an e-mail (the planner syncs the first only), some are disabled
        email = f"p{rng.randrange(users + 3)}@example.com" if rng.random() < 0.1 else f"u{i}@example.com"
        s.add_user(User(f"u{i}", email, f"User {i}", rng.random() > 0.1))
    for j in range(groups):
        parents = (f"g{rng.randrange(j)}",) if j and rng.random() < 0.3 else ()
        s.add_group(Group(f"g{j}", f"team-{j}", parents))
        for uid in rng.sample(sorted(s.users), rng.randrange(users // 2)):
            s.add_member(f"g{j}", uid)
    return s


def stored(snapshot: Snapshot) -> Snapshot:
    """`snapshot` as the next run reads it back from its stored base (read-only member sets)."""
    return snapshots.decode(snapshots.encode(snapshot), "cursor")


def mutate(rng: random.Random, old: Snapshot, changes: int) -> Snapshot:
    """A copy of `old` with `changes` random IdP changes of every kind."""
    new = Snapshot(users=dict(old.users), groups=dict(old.groups),
                   members={g: set(m) for g, m in old.members.items()}, cursor=old.cursor)
    for _ in range(changes):
        kind = rng.randrange(8)
        uids, gids = sorted(new.users), sorted(new.groups)
        if kind == 0 and uids:  # a member joins
            new.add_member(rng.choice(gids), rng.choice(uids))
        elif kind == 1:  # a member leaves
            g = rng.choice(gids)
            if new.members[g]:
                new.members[g].discard(rng.choice(sorted(new.members[g])))
        elif kind == 2 and uids:  # disabled or re-enabled
            u = new.users[rng.choice(uids)]
            new.users[u.id] = User(u.id, u.email, u.display_name, not u.active)
        elif kind == 3 and uids:  # deleted
            uid = rng.choice(uids)
            del new.users[uid]
            for m in new.members.values():
                m.discard(uid)
        elif kind == 4:  # a new person, in a group
            uid = f"n{rng.randrange(10**6)}"
            new.add_user(User(uid, f"{uid}@example.com" if rng.random() < 0.7 else
                              f"u{rng.randrange(40)}@example.com", uid))
            new.add_member(rng.choice(gids), uid)
        elif kind == 5:  # a new group
            gid = f"ng{rng.randrange(10**6)}"
            new.add_group(Group(gid, f"new-{gid}", (rng.choice(gids),) if rng.random() < 0.3 else ()))
            for uid in rng.sample(uids, min(len(uids), 3)):
                new.add_member(gid, uid)
        elif kind == 6 and len(gids) > 1:  # a group deleted
            gid = rng.choice(gids)
            del new.groups[gid], new.members[gid]
        elif kind == 7 and uids:  # an e-mail change
            u = new.users[rng.choice(uids)]
            new.users[u.id] = User(u.id, f"changed-{u.id}@example.com", u.display_name, u.active)
    return new


@dataclass
class Site:
    """Groups, members, accounts and links as a plan leaves them once applied."""

    groups: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # e-mail → account
    links: Links = field(default_factory=Links)
    counter: int = 0

    def current(self) -> Current:
        return Current(groups=dict(self.groups),
                       members={g: set(m) for g, m in self.members.items()},
                       accounts_by_email=dict(self.accounts))

    def links_copy(self) -> Links:
        return Links(users=dict(self.links.users), groups=dict(self.links.groups),
                     suspended=set(self.links.suspended))

    def apply(self, plan: Plan) -> None:
        refs: dict[str, str] = {}
        for op in plan.ops:
            gid = op.group_id or refs.get(op.group_ref or "")
            if op.kind == CREATE_GROUP:
                self.counter += 1
                refs[op.group_ref] = gid = f"site-{self.counter}"
                self.groups[gid], self.members[gid] = op.group_name, set()
            elif op.kind == LINK_GROUP:
                self.links.groups[op.idp_group_id] = gid
            elif op.kind == LINK_USER:
                self.links.users[op.idp_user_id] = op.account_id
            elif op.kind == INVITE_USER:
                self.counter += 1
                acc = f"acc-new-{self.counter}"
                self.accounts[op.email.strip().lower()] = acc
                self.links.users[op.idp_user_id] = acc
            elif op.kind == ADD_MEMBER:
                self.members[gid].add(op.account_id or self.links.users[op.idp_user_id])
            elif op.kind == REMOVE_MEMBER:
                self.members[gid].discard(op.account_id)
            elif op.kind == SUSPEND_ACCESS:
                self.links.suspended.add(op.account_id)
            elif op.kind == RESTORE_ACCESS:
                self.links.suspended.discard(op.account_id)


def ops_of(plan: Plan) -> list:
    return sorted(plan.ops, key=repr)
