"""The planner: a pure, linear diff of desired against current state into an ordered Plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.sync.mapping import Desired, DesiredGroup, group_key, groups_by_key
from workers.sync.model import User
from workers.sync.ops import MemberBatch, Ops, UserEmails
from workers.sync.plan import (
    ADD_MEMBER,
    APPLY_ORDER,
    CREATE_GROUP,
    INVITE_USER,
    LINK_GROUP,
    LINK_USER,
    REMOVE_MEMBER,
    RESTORE_ACCESS,
    SUSPEND_ACCESS,
    GroupSkip,
    Notice,
    Op,
    Plan,
    bulk_allocation,
)
from workers.sync.policy import SyncPolicy, email_domain
from workers.sync.privileged import SKIP_REASONS, is_admin_name, skip_reason

_NONE: frozenset[str] = frozenset()
_new_tuple = tuple.__new__
_NEW_GROUP, _LINKED_GROUP = "mapped IdP group has no Atlassian group yet", "IdP group maps to this group"
LEFT, DISABLED, OUT_OF_SCOPE = "left the IdP", "disabled in the IdP", "outside the sync filters"
"""Why a linked IdP user is no longer synced; the first two are departures (deprovisioning)."""


@dataclass(slots=True)
class Current:
    """What the site has now, as the engine read it before planning.

    `groups`: every group on the site (groupId → name). `members`: accountIds of the groups
    `groups_to_read()` named. `accounts_by_email`: lower-cased e-mail → accountId for the
    addresses `emails_to_look_up()` named. `site_admins`: accounts that never lose anything.
    `admin_groups`: groupIds found to carry a global admin permission, never written.
    `inactive`: accounts among the members read that are deactivated on the site.
    """

    groups: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    accounts_by_email: dict[str, str] = field(default_factory=dict)
    site_admins: set[str] = field(default_factory=set)
    admin_groups: set[str] = field(default_factory=set)
    inactive: set[str] = field(default_factory=set)
    synced_groups: set[str] = field(default_factory=set)
    """GroupIds the organization API reports as synced from an identity provider."""
    names: dict[str, str] | None = field(default=None, repr=False, compare=False)
    """`group_key(name)` → groupId of `groups`, handed over by whoever built `groups` from a
    map that had it (`read_current`: the mirror's, cased once per run); None otherwise, and
    set to None by anything that changes `groups` afterwards."""


def by_name(current: Current) -> dict[str, str]:
    """The site's groups by `group_key` of their names: `current.names` when the reader
    handed them over (several steps look groups up by name, and ten thousand names were
    cased again at each), else worked out here."""
    if current.names is not None:
        return current.names
    return groups_by_key(current.groups)


@dataclass(slots=True)
class Links:
    """What the engine remembers for this connection between runs."""

    users: dict[str, str] = field(default_factory=dict)
    """IdP user id → accountId."""
    groups: dict[str, str] = field(default_factory=dict)
    """IdP group id → Atlassian groupId (on-the-fly mode)."""
    suspended: set[str] = field(default_factory=set)
    """AccountIds whose access this connection suspended."""


@dataclass(slots=True)
class _Draft:
    """The plan under construction: ops bucketed by kind, so the apply order costs no sort."""

    ops: dict[str, list[Op]] = field(default_factory=lambda: {k: [] for k in APPLY_ORDER})
    batches: list[MemberBatch] = field(default_factory=list)
    """The additions, one batch per group (a first sync's millions of them stay compact)."""
    notices: list[Notice] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    skipped: list[GroupSkip] = field(default_factory=list)

    def parts(self) -> Ops:
        """Every op in apply order."""
        return Ops(part for kind in APPLY_ORDER
                   for part in (self.batches if kind == ADD_MEMBER else (self.ops[kind],)))

    def add(self, op: Op) -> None:
        self.ops[op.kind].append(op)

    def note(self, code: str, message: str) -> None:
        self.notices.append(Notice(code, message))


def _linked_group(key: str, target: DesiredGroup, site_groups: dict[str, str], links: Links,
                  draft: _Draft) -> str | None:
    """The site group an IdP group is linked to, followed through renames on the IdP side."""
    if not links.groups:
        return None
    linked = [links.groups[i] for i in target.idp_group_ids if i in links.groups]
    gid = next((g for g in linked if g in site_groups), None)
    if gid is None and linked:
        draft.note("linked_group_gone", f"The Atlassian group linked to IdP group "
                   f"'{target.name}' no longer exists; syncing into a group of that name")
    elif gid is not None and group_key(site_groups[gid]) != key:
        draft.note("rename_followed", f"IdP group now named '{target.name}' keeps syncing into "
                   f"'{site_groups[gid]}' (Atlassian cannot rename groups)")
    return gid


def _resolve_groups(desired: Desired, current: Current, links: Links, policy: SyncPolicy,
                    draft: _Draft) -> dict[str, str | None]:
    """Desired group key → existing groupId, or None when the plan creates it (ref = key).

    Groups the plan may not touch (admin groups, product-access groups an IdP name matched,
    pre-existing groups not allowed for adoption) are left out and reported in the plan.
    """
    site_groups = current.groups
    named = by_name(current)
    resolved: dict[str, str | None] = {}
    creates, link_ops = draft.ops[CREATE_GROUP], draft.ops[LINK_GROUP]
    for key, target in desired.groups.items():
        gid = _linked_group(key, target, site_groups, links, draft)
        adopting = gid is None and key in named
        if gid is None:
            gid = named.get(key)
        site_name = site_groups[gid] if gid is not None else None
        reason = skip_reason(target.name, site_name, explicit=target.explicit, adopting=adopting,
                             admin_rights=gid in current.admin_groups,
                             synced=gid in current.synced_groups,
                             adopt_allowed=policy.adopt_existing_groups)
        if reason is not None:
            also = f" (site group '{site_name}')" if site_name and site_name != target.name else ""
            draft.skipped.append(GroupSkip(target.name, reason))
            draft.note("group_skipped",
                       f"Group '{target.name}'{also} skipped: {SKIP_REASONS[reason]}")
            continue
        if adopting and target.idp_group_ids:
            # Reported once: the link made here keeps it managed (manual and default targets
            # are named by the admin and never linked, so they are not "adopted" each run).
            draft.adopted.append(site_groups[gid])
            draft.note("group_adopted", f"Existing group '{site_groups[gid]}' adopted: "
                       "this connection now manages its members")
        # Positional ops: a first sync at the largest directory creates a quarter million groups.
        if gid is None:
            creates.append(_new_tuple(Op, (CREATE_GROUP, None, target.name, key, None, None, None,
                                           None, None, (), _NEW_GROUP)))
        for idp_group_id in target.idp_group_ids:
            if gid is None or links.groups.get(idp_group_id) != gid:
                link_ops.append(_new_tuple(Op, (LINK_GROUP, gid, target.name, key, None, None,
                                                idp_group_id, None, None, (), _LINKED_GROUP)))
        resolved[key] = gid
    return resolved


def _stranded(desired: Desired, resolved: dict[str, str | None], draft: _Draft) -> set[str]:
    """IdP users whose every mapped group was skipped: never invited for a group they cannot join."""
    if not draft.skipped:
        return set()
    kept = set(resolved)
    skipped = set().union(*(m for k, m in desired.members.items() if k not in kept))
    return skipped - set().union(*(desired.members[k] for k in kept))


def _resolve_users(desired: Desired, current: Current, links: Links, policy: SyncPolicy,
                   draft: _Draft, stranded: set[str]) -> tuple[dict[str, str], set[str]]:
    """IdP user id → accountId for every synced user we can place, and the ids being invited."""
    holder = {acc: uid for uid, acc in links.users.items()}
    account_of: dict[str, str] = {}
    invited: set[str] = set()
    taken_emails: set[str] = set()
    # Once per user of a million on a first sync: lookups hoisted into locals.
    linked, by_email = links.users, current.accounts_by_email
    for uid, user in desired.users.items():
        acc = linked.get(uid)
        if acc is not None:
            account_of[uid] = acc
            continue
        raw = user.email
        email = raw.strip().lower() if isinstance(raw, str) else ""  # _normal_email, inlined
        if email == raw:
            email = raw  # the user's own string: a million copies add up
        if not email or "@" not in email or email in taken_emails:
            draft.note("user_skipped", f"IdP user {uid} has no usable or a duplicate e-mail "
                       f"({user.email!r}); not synced")
            continue
        taken_emails.add(email)
        known = email in by_email
        acc = _match_by_email(desired, current, holder, uid, email, draft) if known else None
        if acc is not None:
            account_of[uid], holder[acc] = acc, uid
        elif uid in stranded:
            draft.note("user_skipped", f"No Atlassian account for {user.email}; not invited: "
                       "every group it maps to was skipped")
        elif not known and _invite(user, email, policy, draft):
            invited.add(uid)
    return account_of, invited


def _match_by_email(desired: Desired, current: Current, holder: dict[str, str], uid: str,
                    email: str, draft: _Draft) -> str | None:
    """The account to link an unlinked IdP user to, unless a synced user already holds it."""
    acc = current.accounts_by_email.get(email)
    if acc is None:
        return None
    owner = holder.get(acc)
    if owner is not None and owner in desired.users:
        draft.note("account_taken", f"{email} belongs to an account already linked to "
                   f"IdP user {owner}; IdP user {uid} not synced")
        return None
    # An owner no longer synced (the IdP user was deleted and re-created) gives way.
    draft.add(Op(LINK_USER, account_id=acc, idp_user_id=uid, email=desired.users[uid].email,
                 reason="matched by e-mail"))
    return acc


def _invite(user: User, email: str, policy: SyncPolicy, draft: _Draft) -> bool:
    """Invite an IdP user who has no account, or report the skip, per the connection setting."""
    if policy.on_unmatched != "invite":
        draft.note("user_skipped", f"No Atlassian account for {user.email}; not invited "
                   "(connection setting)")
        return False
    if policy.invite_domains is not None and email_domain(email) not in policy.invite_domains:
        draft.note("invite_domain_skipped", f"No Atlassian account for {user.email}; not "
                   "invited: its domain is not on the connection's invite allow-list")
        return False
    # Positional: a first sync makes a million of these.
    draft.ops[INVITE_USER].append(_new_tuple(Op, (
        INVITE_USER, None, None, None, None, user.id, None, user.email,
        user.display_name or email.partition("@")[0], policy.invite_products,
        "no Atlassian account with this e-mail")))
    return True


def _status(desired: Desired, uid: str) -> str:
    user = desired.idp_users.get(uid)
    if user is None:
        return LEFT
    return DISABLED if not user.active else OUT_OF_SCOPE


def _unsynced(desired: Desired, links: Links, account_of: dict[str, str]) -> dict[str, str]:
    """AccountId → status, for linked accounts that no synced IdP user claims any more."""
    claimed = set(account_of.values())
    return {acc: _status(desired, uid) for uid, acc in links.users.items()
            if uid not in desired.users and acc not in claimed}


def _diff_members(desired: Desired, resolved: dict[str, str | None], current: Current,
                  accounts: _Accounts, draft: _Draft) -> int:
    """Add/remove ops for every managed group; returns the managed memberships counted."""
    by_gid: dict[str, list[str]] = {}
    for key, gid in resolved.items():
        by_gid.setdefault(gid if gid is not None else "\0" + key, []).append(key)
    managed = 0
    adds = draft.batches
    of, uid_of, invited = accounts.of, accounts.uid_of, accounts.invited
    email_of = UserEmails(desired.users)
    # Every member is a desired user: when all of them are invited (a first sync), a
    # group's members are its new users, with no lookup among the million invited.
    everyone_invited = len(invited) == len(desired.users)
    for keys in by_gid.values():
        gid, first = resolved[keys[0]], keys[0]
        name = current.groups[gid] if gid is not None else desired.groups[first].name
        ref = None if gid is not None else first
        if len(keys) == 1:
            ids, default = desired.members[first], desired.groups[first].default
        else:
            ids = set().union(*(desired.members[k] for k in keys))
            default = all(desired.groups[k].default for k in keys)
        reason = "default group" if default else "IdP membership"
        have = current.members.get(gid, _NONE) if gid is not None else _NONE
        managed += len(have)
        want: set[str] | frozenset[str] = _NONE
        if of:
            want = set(map(of.get, ids))
            want.discard(None)
            fresh = tuple(want - have)
            if fresh:
                uids = tuple(map(uid_of.__getitem__, fresh))
                adds.append(MemberBatch(ADD_MEMBER, gid, name, ref, fresh, uids, email_of,
                                        reason))
        if invited:
            new_users = tuple(ids) if everyone_invited else tuple(ids & invited)
            if new_users:
                adds.append(MemberBatch(ADD_MEMBER, gid, name, ref, None, new_users, email_of,
                                        reason))
        if have:
            _removals(gid, name, have - want, accounts, draft.ops[REMOVE_MEMBER])
    return managed


def _removals(gid: str | None, name: str, leaving: set[str], accounts: _Accounts,
              removes: list[Op]) -> None:
    """Remove ops for the accounts leaving one group: only ours, never the kept ones."""
    leaving &= accounts.ours
    accounts.spared |= leaving & accounts.keep
    for acc in leaving - accounts.keep:
        removes.append(Op(REMOVE_MEMBER, group_id=gid, group_name=name, account_id=acc,
                          idp_user_id=accounts.former.get(acc),
                          reason=_why_gone(accounts.unsynced.get(acc))))


def _why_gone(status: str | None) -> str:
    return "not in the mapped IdP group" if status is None else f"user {status}"


def _deprovision(departed: dict[str, str], resolved: dict[str, str | None], current: Current,
                 links: Links, policy: SyncPolicy, draft: _Draft) -> None:
    """The extra steps for accounts whose IdP user left or was disabled, per the policy."""
    if policy.deprovision == "remove_product_access":
        named = by_name(current)
        managed = set(resolved.values())
        seen: set[str] = set()
        for name in policy.product_access_groups:
            gid = named.get(group_key(name))
            if gid is None:
                draft.note("product_group_missing",
                           f"Product-access group '{name}' is not on the site")
                continue
            if gid in managed or gid in seen or gid in current.admin_groups \
                    or is_admin_name(current.groups[gid]):
                continue
            seen.add(gid)
            for acc in current.members.get(gid, set()) & departed.keys():
                draft.add(Op(REMOVE_MEMBER, group_id=gid, group_name=current.groups[gid],
                             account_id=acc,
                             reason=f"user {departed[acc]}: product access removed"))
    elif policy.deprovision == "suspend":
        for acc in departed.keys() - links.suspended:
            draft.add(Op(SUSPEND_ACCESS, account_id=acc, reason=f"user {departed[acc]}"))


@dataclass(slots=True)
class _Accounts:
    """Who is who for one plan: the account of each placed IdP user and what may be removed."""

    of: dict[str, str]
    invited: set[str]
    unsynced: dict[str, str]
    protected: set[str]
    keep: set[str] = field(default_factory=set)
    spared: set[str] = field(default_factory=set)
    uid_of: dict[str, str] = field(default_factory=dict)
    former: dict[str, str] = field(default_factory=dict)
    ours: set[str] = field(default_factory=set)


def _accounts(desired: Desired, current: Current, links: Links, policy: SyncPolicy,
              draft: _Draft, stranded: set[str]) -> _Accounts:
    account_of, invited = _resolve_users(desired, current, links, policy, draft, stranded)
    unsynced = _unsynced(desired, links, account_of)
    accounts = _Accounts(of=account_of, invited=invited, unsynced=unsynced,
                         protected=current.site_admins | policy.protected_account_ids)
    accounts.keep = set(accounts.protected)
    if policy.deprovision == "none":
        accounts.keep |= {acc for acc, status in unsynced.items() if status != OUT_OF_SCOPE}
    accounts.uid_of = {acc: uid for uid, acc in account_of.items()}
    accounts.former = {acc: uid for uid, acc in links.users.items() if acc in unsynced}
    accounts.ours = set(account_of.values()) | unsynced.keys()
    return accounts


def plan(desired: Desired, current: Current, links: Links, policy: SyncPolicy) -> Plan:
    """Every op that makes the managed part of the site match `desired`, in apply order.

    Only groups the mapping names are changed; only accounts linked to this connection lose
    memberships; protected accounts (`current.site_admins`, the policy's list) lose nothing.
    The engine learns who the admins are after planning and takes their ops out with
    `workers.sync.protect` (account-level ops by permission check, membership removals by
    admin-group membership); planning again with `current.site_admins` gives the same ops. A linked
    user who left or was disabled in the IdP is deprovisioned per `policy.deprovision`; one
    still active but now outside the filters only leaves the managed groups. A synced user
    whose account this connection suspended gets its access restored. Within one kind the
    order of ops is unspecified.
    """
    with bulk_allocation():
        return _plan(desired, current, links, policy)


def _plan(desired: Desired, current: Current, links: Links, policy: SyncPolicy) -> Plan:
    draft = _Draft(notices=list(desired.notices))
    resolved = _resolve_groups(desired, current, links, policy, draft)
    accounts = _accounts(desired, current, links, policy, draft,
                         _stranded(desired, resolved, draft))
    managed = _diff_members(desired, resolved, current, accounts, draft)
    departed = {acc: status for acc, status in accounts.unsynced.items()
                if status != OUT_OF_SCOPE and acc not in accounts.protected}
    _deprovision(departed, resolved, current, links, policy, draft)
    for acc in links.suspended & accounts.uid_of.keys():
        draft.add(Op(RESTORE_ACCESS, account_id=acc, idp_user_id=accounts.uid_of[acc],
                     reason="user is back in the IdP"))
    for acc in sorted(accounts.spared & accounts.protected):
        draft.note("protected_kept", f"Protected account {acc} keeps its memberships")
    return Plan(ops=draft.parts(), notices=draft.notices,
                stats={"idp_users": len(desired.idp_users), "desired_users": len(desired.users),
                       "managed_groups": len(resolved),
                       "managed_memberships": managed,
                       "desired_memberships": sum(len(m) for m in desired.members.values()),
                       "groups_adopted": len(draft.adopted),
                       "groups_skipped": len(draft.skipped)},
                adopted=draft.adopted, skipped_groups=draft.skipped,
                invite_domains=None if policy.invite_domains is None
                else list(policy.invite_domains))


def groups_to_read(desired: Desired, site_groups: dict[str, str], links: Links,
                   policy: SyncPolicy) -> set[str]:
    """GroupIds whose members the engine must read before planning (managed + product access)."""
    resolved = _resolve_groups(desired, Current(groups=site_groups), links, policy, _Draft())
    wanted = {gid for gid in resolved.values() if gid is not None}
    if policy.deprovision == "remove_product_access":
        names = {group_key(n) for n in policy.product_access_groups}
        wanted |= {gid for gid, name in site_groups.items() if group_key(name) in names}
    return wanted


def emails_to_look_up(desired: Desired, links: Links) -> list[str]:
    """Lower-cased e-mails of synced users with no link yet: the only accounts to search for."""
    emails = (_normal_email(u.email) for uid, u in desired.users.items() if uid not in links.users)
    return sorted({e for e in emails if "@" in e})


def _normal_email(email: str | None) -> str:
    """How e-mails are compared with Atlassian's: trimmed, lower-cased; '' when missing."""
    if not isinstance(email, str):
        return ""
    normal = email.strip().lower()
    # Keep the user's own string when it is already normal: a million copies add up.
    return email if normal == email else normal
