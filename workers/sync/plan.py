"""The plan: operations on the Atlassian site in their written-down apply order; JSON form."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, NamedTuple

from workers.sync.ops import MemberBatch, Op, Ops, UserEmails
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
    """Pause the cyclic garbage collector while a desired state or a plan is built or read back.

    These are millions of small objects that hold no reference cycle (reference counting
    frees them); the collector's repeated passes over them would more than double the time
    to make them. When the build ends its survivors move straight to the oldest generation
    (`freeze` then `unfreeze`), so the first collection after it does not walk them as young
    objects either, and a later full collection still frees anything cyclic among them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


class PlanFormatError(ValueError):
    """A stored plan could not be read back; the message says which op and field."""


class Notice(NamedTuple):
    """Something the admin should know that is not a change (a rename followed, a user skipped)."""

    code: str
    message: str


class GroupSkip(NamedTuple):
    """A desired group the plan does not touch, and why (a code of `workers.sync.privileged`)."""

    name: str
    reason: str


CHUNK_OPS = 20_000
"""Ops (single rows or batched members) per piece of `Plan.json_chunks`."""
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_OP_FIELDS = Op._fields
_new_tuple = tuple.__new__
_WIDTH = len(_OP_FIELDS)
_PRODUCTS = _OP_FIELDS.index("products")
_SHARED_AT = tuple(_OP_FIELDS.index(name)
                   for name in ("kind", "idp_user_id", "products", "reason"))
_TEXT_TYPES = frozenset({str, type(None)})
_STR_TYPE = frozenset({str})
_REQUIRED_AT = {kind: tuple(tuple(_OP_FIELDS.index(name) for name in one_of) for one_of in groups)
                for kind, groups in _REQUIRED.items()}


@dataclass(slots=True)
class Plan:
    """Ordered ops plus notices and the figures the guard and the admin page need.

    `ops` reads as a list of Op in apply order; given a list, the plan wraps it.
    """

    ops: Ops = field(default_factory=Ops)
    notices: list[Notice] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    adopted: list[str] = field(default_factory=list)
    """Names of site groups that existed before and that this plan starts to sync into."""
    skipped_groups: list[GroupSkip] = field(default_factory=list)
    """Desired groups left alone: admin groups, product-access and pre-existing groups."""
    invite_domains: list[str] | None = None
    """The e-mail domains this plan may invite (None: no allow-list applied)."""

    def __post_init__(self) -> None:
        if not isinstance(self.ops, Ops):
            self.ops = Ops.of(self.ops)

    def summary(self) -> dict[str, int]:
        """How many ops of each kind, every kind listed, in apply order."""
        counts = self.ops.kind_counts()
        return {kind: counts.get(kind, 0) for kind in APPLY_ORDER}

    @property
    def is_empty(self) -> bool:
        return not self.ops

    @property
    def removals(self) -> int:
        return self.ops.kind_counts().get(REMOVE_MEMBER, 0)

    @property
    def users_affected(self) -> int:
        """Distinct accounts that lose a membership or their access."""
        return len({op.account_id for op in self.ops if op.kind in REMOVAL_KINDS})

    def to_dict(self) -> dict[str, Any]:
        """The stored form. Single ops are rows in the order of `fields`; a batch of one
        group's member ops is an object with a column of accounts and one of IdP users, whose
        e-mails are stored once for the plan under `emails`: a first sync's millions of
        additions store each group and each user once."""
        rows: list[Any] = []
        batches: list[MemberBatch] = []
        for part in self.ops.parts:
            if isinstance(part, MemberBatch):
                batches.append(part)
                rows.append(_batch_row(part))
            else:
                rows.extend(part)
        return {**self._head(), "ops": rows, "emails": _email_table(batches)}

    def _head(self) -> dict[str, Any]:
        """Every key of the stored form before `ops`, in the stored order."""
        return {"version": 2, "summary": self.summary(), "stats": dict(self.stats),
                "notices": [n._asdict() for n in self.notices],
                "groups": {"adopted": list(self.adopted),
                           "skipped": [s._asdict() for s in self.skipped_groups]},
                "invite_domains": self.invite_domains, "fields": list(_OP_FIELDS)}

    def to_json(self) -> str:
        return "".join(self.json_chunks())

    def json_chunks(self, ops_per_piece: int = CHUNK_OPS) -> Iterator[str]:
        """The text of `to_json()` in pieces of about `ops_per_piece` ops each, made as they are
        read: storing a first sync's plan never holds its whole text, nor a row per op, at
        once (`workers.sync.plan_store` compresses the pieces as they come)."""
        yield _dumps(self._head())[:-1] + ',"ops":['
        batches: list[MemberBatch] = []
        yield from _list_inside(_op_items(self.ops.parts, batches, ops_per_piece), ops_per_piece)
        yield '],"emails":{'
        emails = _email_table(batches)
        yield from _list_inside(((item, 1) for item in emails.items()), ops_per_piece, pair=True)
        yield "}}"

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Read back what `to_dict` wrote (or version 1, rows only); PlanFormatError on
        anything else."""
        if not isinstance(data, dict):
            raise PlanFormatError("not a stored plan (version 1 or 2 expected)")
        if not isinstance(data.get("ops"), list):
            raise PlanFormatError("plan needs lists 'ops' and 'notices' and an object 'stats'")
        return cls.from_parts(data, data["ops"], data.get("emails", {}))

    @classmethod
    def from_parts(cls, head: Any, rows: Iterable[Any], emails: Any) -> Plan:
        """The plan from its stored keys other than `ops` and `emails` (`head`), its stored
        ops read one at a time from `rows`, and its e-mail table (version 2; ignored for 1).
        A reader that parses one stored op at a time never holds the whole parsed plan."""
        if not isinstance(head, dict) or head.get("version") not in (1, 2):
            raise PlanFormatError("not a stored plan (version 1 or 2 expected)")
        notices, stats = head.get("notices", []), head.get("stats", {})
        if not (isinstance(notices, list) and isinstance(stats, dict)):
            raise PlanFormatError("plan needs lists 'ops' and 'notices' and an object 'stats'")
        if head.get("fields") != list(_OP_FIELDS):
            raise PlanFormatError(f"plan 'fields' must be {list(_OP_FIELDS)}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in stats.values()):
            raise PlanFormatError("plan stats must be whole numbers")
        adopted, skipped, domains = _groups_from_dict(head.get("groups", {}), head)
        table = _emails_from_dict(emails) if head["version"] == 2 else None
        # JSON gives every IdP user id, kind, reason and product list its own string: read
        # back, the ops share one copy of each (the e-mail table's ids, one reason text),
        # so a first sync's eight million members are a million id strings again.
        one_copy: dict[Any, Any] = {uid: uid for uid in table} if table else {}
        return cls(ops=Ops.of(_batch_from_dict(i, row, table, one_copy)
                              if table is not None and isinstance(row, dict)
                              else _op_from_row(i, row, one_copy) for i, row in enumerate(rows)),
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


def _texts(value: Any, index: int, name: str, *, optional: bool = False) -> Sequence[str | None]:
    if value is None and optional:
        return value
    if not isinstance(value, list | tuple) or not _TEXT_TYPES.issuperset(map(type, value)):
        raise PlanFormatError(f"op {index}: batch {name} must be a list of strings")
    return value


def _batch_row(part: MemberBatch) -> dict[str, Any]:
    return {"kind": part.kind, "group_id": part.group_id, "group_name": part.group_name,
            "group_ref": part.group_ref, "reason": part.reason, "account_ids": part.account_ids,
            "idp_user_ids": part.idp_user_ids}


def _op_items(parts: Sequence[Any], batches: list[MemberBatch], per_piece: int
              ) -> Iterator[tuple[Any, int]]:
    """(stored item, how many ops it holds): a list of rows at a time, or one batch;
    the batches are collected in `batches` for the e-mail table."""
    for part in parts:
        if isinstance(part, MemberBatch):
            batches.append(part)
            yield _batch_row(part), len(part)
        else:
            for start in range(0, len(part), per_piece):
                rows = part[start:start + per_piece]
                yield rows, -len(rows)  # negative: a run of rows, spliced into the list


def _list_inside(items: Iterator[tuple[Any, int]], per_piece: int, pair: bool = False
                 ) -> Iterator[str]:
    """The inside of a JSON list (or, with `pair`, of an object of key/value pairs), one
    piece per `per_piece` ops; each piece is one C-level encode of many items."""
    pending: list[Any] = []
    weight, first = 0, True
    for item, size in items:
        if size < 0:
            pending.extend(item)
        else:
            pending.append(item)
        weight += abs(size)
        if weight >= per_piece:
            yield ("" if first else ",") + _dumps(dict(pending) if pair else pending)[1:-1]
            pending, weight, first = [], 0, False
    if pending:
        yield ("" if first else ",") + _dumps(dict(pending) if pair else pending)[1:-1]


def _email_table(batches: list[MemberBatch]) -> dict[str, str | None]:
    """The e-mail of every IdP user the batches name, each user once."""
    table: dict[str, str | None] = {}
    for _, group in groupby(batches, key=lambda b: id(b.email_of)):
        parts = list(group)
        uids = set().union(*(b.idp_user_ids for b in parts))
        uids.discard(None)
        email_of = parts[0].email_of
        if isinstance(email_of, UserEmails):
            table.update(email_of.of(uids))
        else:
            table.update((uid, email_of.get(uid)) for uid in uids)
    return table


def _emails_from_dict(emails: Any) -> dict[str, str | None]:
    if not isinstance(emails, dict) or not _TEXT_TYPES.issuperset(map(type, emails.values())):
        raise PlanFormatError("plan 'emails' must map IdP user ids to e-mails")
    return emails


def _batch_from_dict(index: int, data: dict[str, Any], emails: dict[str, str | None],
                     one_copy: dict[str, str]) -> MemberBatch:
    """One group's member ops from their stored columns (see `Plan.to_dict`)."""
    kind = data.get("kind")
    if kind not in (ADD_MEMBER, REMOVE_MEMBER):
        raise PlanFormatError(f"op {index}: a batch must be {ADD_MEMBER} or {REMOVE_MEMBER}")
    head = [data.get(k) for k in ("group_id", "group_name", "group_ref", "reason")]
    if not _TEXT_TYPES.issuperset(map(type, head)):
        raise PlanFormatError(f"op {index}: batch group fields must be strings")
    if not (head[0] or head[2]):
        raise PlanFormatError(f"op {index} ({kind}) needs group_id or group_ref")
    accounts = _texts(data.get("account_ids"), index, "account_ids", optional=True)
    uids = _texts(data.get("idp_user_ids"), index, "idp_user_ids")
    if accounts is not None and len(accounts) != len(uids):
        raise PlanFormatError(f"op {index}: batch columns must have the same length")
    if not all(uids if accounts is None else map(any, zip(accounts, uids, strict=True))):
        raise PlanFormatError(f"op {index} ({kind}) needs account_id or idp_user_id "
                              "for every member")
    uids = list(map(one_copy.get, uids, uids))  # an id not in the table stays as it is
    return MemberBatch(kind, head[0], head[1], head[2], accounts, uids, emails, head[3] or "")


def _op_from_row(index: int, row: Any, one_copy: dict[Any, Any] | None = None) -> Op:
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
    if one_copy is not None:  # kind, IdP user, products and reason: shared with equal ones
        for at in _SHARED_AT:
            value = values[at]
            if value is not None:
                values[at] = one_copy.setdefault(value, value)
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
