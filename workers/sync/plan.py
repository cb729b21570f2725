"""The plan: operations on the Atlassian site in their written-down apply order; JSON form."""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from workers.vocabulary import OpKind  # plain str values: the fast paths check `type(x) is str`

CREATE_GROUP = OpKind.CREATE_GROUP.value
"""Create the group `group_name`; later ops that need its new groupId carry its `group_ref`."""
LINK_GROUP = OpKind.LINK_GROUP.value
"""Remember IdP group `idp_group_id` ↔ Atlassian group `group_id` (or the one `group_ref` makes)."""
LINK_USER = OpKind.LINK_USER.value
"""Remember IdP user `idp_user_id` ↔ existing account `account_id` (found by e-mail)."""
INVITE_USER = OpKind.INVITE_USER.value
"""Invite `email` with `products`; the new accountId is linked to `idp_user_id`."""
RESTORE_ACCESS = OpKind.RESTORE_ACCESS.value
"""Lift the suspension this connection put on `account_id` (the user is back in the IdP)."""
ADD_MEMBER = OpKind.ADD_MEMBER.value
"""Add the account to the group. No `account_id` means: the account this plan links or
invites for `idp_user_id`. No `group_id` means: the group this plan creates as `group_ref`."""
REMOVE_MEMBER = OpKind.REMOVE_MEMBER.value
"""Remove `account_id` from `group_id`."""
SUSPEND_ACCESS = OpKind.SUSPEND_ACCESS.value
"""Suspend `account_id`'s access through the organization API (deprovisioning)."""

APPLY_ORDER: tuple[str, ...] = (CREATE_GROUP, LINK_GROUP, LINK_USER, INVITE_USER, RESTORE_ACCESS,
                                ADD_MEMBER, REMOVE_MEMBER, SUSPEND_ACCESS)
"""The one order in which an executor applies the kinds: groups and accounts exist before
members are added, and every addition happens before any removal."""

REMOVAL_KINDS = frozenset({REMOVE_MEMBER, SUSPEND_ACCESS})
"""Kinds that take something away from someone: what the guard counts."""

_REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    CREATE_GROUP: (("group_name",), ("group_ref",)),
    LINK_GROUP: (("idp_group_id",), ("group_id", "group_ref")),
    LINK_USER: (("idp_user_id",), ("account_id",)),
    INVITE_USER: (("idp_user_id",), ("email",)),
    RESTORE_ACCESS: (("account_id",),),
    ADD_MEMBER: (("group_id", "group_ref"), ("account_id", "idp_user_id")),
    REMOVE_MEMBER: (("group_id",), ("account_id",)),
    SUSPEND_ACCESS: (("account_id",),),
}
"""For each kind, groups of fields of which at least one must be set."""


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plan is built or read back.

    A first sync's plan is a million small op tuples that can hold no reference cycle; the
    collector's repeated passes over them would more than double the time to make or load it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class PlanFormatError(ValueError):
    """A stored plan could not be read back; the message says which op and field."""


class Op(NamedTuple):
    """One change: what the executor needs to make it and what the admin reads about it."""

    kind: str
    group_id: str | None = None
    group_name: str | None = None
    group_ref: str | None = None
    account_id: str | None = None
    idp_user_id: str | None = None
    idp_group_id: str | None = None
    email: str | None = None
    display_name: str | None = None
    products: tuple[str, ...] = ()
    reason: str = ""


class Notice(NamedTuple):
    """Something the admin should know that is not a change (a rename followed, a user skipped)."""

    code: str
    message: str


class GroupSkip(NamedTuple):
    """A desired group the plan does not touch, and why (a code of `workers.sync.privileged`)."""

    name: str
    reason: str


_OP_FIELDS = Op._fields
_new_tuple = tuple.__new__
_WIDTH = len(_OP_FIELDS)
_PRODUCTS = _OP_FIELDS.index("products")
_TEXT_TYPES = frozenset({str, type(None)})
_STR_TYPE = frozenset({str})
_REQUIRED_AT = {kind: tuple(tuple(_OP_FIELDS.index(name) for name in one_of) for one_of in groups)
                for kind, groups in _REQUIRED.items()}


@dataclass(slots=True)
class Plan:
    """Ordered ops plus notices and the figures the guard and the admin page need."""

    ops: list[Op] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    adopted: list[str] = field(default_factory=list)
    """Names of site groups that existed before and that this plan starts to sync into."""
    skipped_groups: list[GroupSkip] = field(default_factory=list)
    """Desired groups left alone: admin groups, product-access and pre-existing groups."""
    invite_domains: list[str] | None = None
    """The e-mail domains this plan may invite (None: no allow-list applied)."""

    def summary(self) -> dict[str, int]:
        """How many ops of each kind, every kind listed, in apply order."""
        counts = Counter(op.kind for op in self.ops)
        return {kind: counts.get(kind, 0) for kind in APPLY_ORDER}

    @property
    def is_empty(self) -> bool:
        return not self.ops

    @property
    def removals(self) -> int:
        return sum(1 for op in self.ops if op.kind == REMOVE_MEMBER)

    @property
    def users_affected(self) -> int:
        """Distinct accounts that lose a membership or their access."""
        return len({op.account_id for op in self.ops if op.kind in REMOVAL_KINDS})

    def to_dict(self) -> dict[str, Any]:
        """The stored form. Ops are rows in the order of `fields`: a first sync's plan has a
        million ops, and rows are half the size and twice as fast as one object per op."""
        return {"version": 1, "summary": self.summary(), "stats": dict(self.stats),
                "notices": [n._asdict() for n in self.notices],
                "groups": {"adopted": list(self.adopted),
                           "skipped": [s._asdict() for s in self.skipped_groups]},
                "invite_domains": self.invite_domains,
                "fields": list(_OP_FIELDS), "ops": list(self.ops)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Read back what `to_dict` wrote; PlanFormatError on anything else."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise PlanFormatError("not a stored plan (version 1 expected)")
        ops, notices, stats = data.get("ops"), data.get("notices", []), data.get("stats", {})
        if not (isinstance(ops, list) and isinstance(notices, list) and isinstance(stats, dict)):
            raise PlanFormatError("plan needs lists 'ops' and 'notices' and an object 'stats'")
        if data.get("fields") != list(_OP_FIELDS):
            raise PlanFormatError(f"plan 'fields' must be {list(_OP_FIELDS)}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in stats.values()):
            raise PlanFormatError("plan stats must be whole numbers")
        adopted, skipped, domains = _groups_from_dict(data.get("groups", {}), data)
        return cls(ops=[_op_from_row(i, row) for i, row in enumerate(ops)],
                   notices=[_notice_from_dict(i, n) for i, n in enumerate(notices)],
                   stats=dict(stats), adopted=adopted, skipped_groups=skipped,
                   invite_domains=domains)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        with bulk_allocation():
            try:
                data = json.loads(text)
            except (TypeError, ValueError) as exc:
                raise PlanFormatError(f"stored plan is not JSON: {exc}") from None
            return cls.from_dict(data)


def member_ops(kind: str, group_id: str | None, group_name: str, group_ref: str | None,
               account_ids: Iterable[str | None], idp_user_ids: Iterable[str | None],
               emails: Iterable[str | None], reason: str) -> list[Op]:
    """Add or remove ops for one group, one per (account, IdP user, e-mail) position.

    Built positionally in one comprehension: a first sync makes a million of these, and
    this is a third faster than a keyword call per op.
    """
    return [_new_tuple(Op, (kind, group_id, group_name, group_ref, acc, uid, None, email, None,
                            (), reason))
            for acc, uid, email in zip(account_ids, idp_user_ids, emails, strict=True)]


def _op_from_row(index: int, row: Any) -> Op:
    # Written for speed (C-level checks, no per-field Python loop): a stored first-sync plan
    # is read back a million rows at a time when an admin approves it.
    if not isinstance(row, list | tuple) or len(row) != _WIDTH:
        raise PlanFormatError(f"op {index} is not a row of {_WIDTH} values")
    values = list(row)
    products, values[_PRODUCTS] = values[_PRODUCTS], None
    required = _REQUIRED_AT.get(values[0]) if type(values[0]) is str else None
    if required is None:
        raise PlanFormatError(f"op {index} has unknown kind {values[0]!r}")
    if not isinstance(products, list | tuple) or not _STR_TYPE.issuperset(map(type, products)):
        raise PlanFormatError(f"op {index}: products must be a list of strings")
    if not _TEXT_TYPES.issuperset(map(type, values)):
        bad = next(i for i, v in enumerate(values) if type(v) not in _TEXT_TYPES)
        raise PlanFormatError(f"op {index}: {_OP_FIELDS[bad]} must be a string")
    for one_of in required:
        if not any(map(values.__getitem__, one_of)):
            raise PlanFormatError(f"op {index} ({values[0]}) needs "
                                  f"{' or '.join(_OP_FIELDS[at] for at in one_of)}")
    values[_PRODUCTS] = tuple(products)
    values[-1] = values[-1] or ""
    return _new_tuple(Op, values)


def _notice_from_dict(index: int, data: Any) -> Notice:
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in Notice._fields):
        raise PlanFormatError(f"notice {index} needs string fields code and message")
    return Notice(data["code"], data["message"])


def _groups_from_dict(groups: Any, data: dict[str, Any]) -> tuple[list[str], list[GroupSkip],
                                                                  list[str] | None]:
    # Plans stored before these keys existed read back with none adopted or skipped.
    if not isinstance(groups, dict):
        raise PlanFormatError("plan 'groups' must be an object")
    adopted, skipped = groups.get("adopted", []), groups.get("skipped", [])
    if not isinstance(adopted, list) or not all(isinstance(n, str) for n in adopted):
        raise PlanFormatError("plan groups.adopted must be a list of names")
    if not isinstance(skipped, list) or not all(
            isinstance(s, dict) and all(isinstance(s.get(k), str) for k in GroupSkip._fields)
            for s in skipped):
        raise PlanFormatError("plan groups.skipped must be a list of {name, reason}")
    domains = data.get("invite_domains")
    if domains is not None and (not isinstance(domains, list)
                                or not all(isinstance(d, str) for d in domains)):
        raise PlanFormatError("plan invite_domains must be a list of domains")
    return (list(adopted), [GroupSkip(s["name"], s["reason"]) for s in skipped],
            None if domains is None else list(domains))
