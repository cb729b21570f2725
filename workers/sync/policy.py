"""A connection's sync settings as typed, validated values: mapping, deprovisioning, guard."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAPPING_MODES = ("on_the_fly", "manual")
"""on_the_fly: each IdP group becomes the Atlassian group of the same (transformed) name.
manual: an explicit table names the Atlassian group(s) for each IdP group."""

NAME_CASES = ("keep", "lower", "upper")

DEPROVISION_MODES = ("remove_from_groups", "remove_product_access", "suspend", "none")
"""What happens to a linked user who left or was disabled in the IdP:
remove_from_groups: leave every managed group (the default);
remove_product_access: that, and leave the policy's product-access groups too;
suspend: that, and suspend the account's access through the organization API;
none: leave the account and its memberships exactly as they are."""

UNMATCHED_MODES = ("invite", "skip")
"""An IdP user with no linked and no e-mail-matching account is invited, or skipped and reported."""

INVITE_PRODUCTS = ("jira-software", "jira-core", "jira-servicedesk", "jira-product-discovery")
"""The `products` an invite (POST /rest/api/3/user) may grant: the v3 spec's only valid values.
Confluence access is not granted by an invite: add its access group as a default group."""

REGEX_PREFIX = "re:"
"""A group pattern starting with this is a regular expression (full match); otherwise a glob."""


class PolicyError(ValueError):
    """A setting is malformed; the message names the setting and is safe to show the admin."""


@dataclass(frozen=True, slots=True)
class GroupFilter:
    """Which IdP groups are synced, by name. Empty `include` means all; `exclude` wins."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserFilter:
    """Which IdP users are synced. `members_only`: only users in at least one mapped group."""

    active_only: bool = True
    email_domains: tuple[str, ...] = ()
    members_only: bool = True


@dataclass(frozen=True, slots=True)
class NameTransform:
    """How an IdP group name becomes an Atlassian group name in on-the-fly mode."""

    prefix: str = ""
    case: str = "keep"

    def apply(self, name: str) -> str:
        if self.case == "lower":
            name = name.lower()
        elif self.case == "upper":
            name = name.upper()
        return f"{self.prefix}{name}"


@dataclass(frozen=True, slots=True)
class MappingPolicy:
    """How the IdP's groups and users become desired Atlassian groups and members.

    `rules` (manual mode) pair an IdP group, named by its name or its IdP id, with the
    Atlassian group names it feeds. `flatten_nested`: members of child groups count as
    members of the parent.
    """

    mode: str = "on_the_fly"
    transform: NameTransform = NameTransform()
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    groups: GroupFilter = GroupFilter()
    users: UserFilter = UserFilter()
    default_groups: tuple[str, ...] = ()
    flatten_nested: bool = True


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    """What the planner may do on the Atlassian side for this connection."""

    on_unmatched: str = "invite"
    invite_products: tuple[str, ...] = ()
    deprovision: str = "remove_from_groups"
    product_access_groups: tuple[str, ...] = ()
    protected_account_ids: frozenset[str] = field(default_factory=frozenset)
    adopt_existing_groups: bool = False
    """Sync into a site group that existed before this connection when an on-the-fly IdP
    group has its name (groups named explicitly, as default groups or in manual rules, are
    always synced into, except admin groups)."""
    invite_domains: tuple[str, ...] | None = None
    """E-mail domains that may be invited (lower case); None: not set yet (the engine fills
    it from the IdP's users on the first fetch), () invites nobody."""


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """When a plan is held for approval instead of applied.

    Held when removals exceed `max_removal_percent` of the managed memberships, or more than
    `max_users_affected` accounts lose a membership or access, or the synced users drop to
    zero where the previous run had at least `empty_hold_min_previous`.
    """

    max_removal_percent: float = 10.0
    max_users_affected: int = 50
    empty_hold_min_previous: int = 10


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    """All three, as read from one connection's stored settings."""

    mapping: MappingPolicy
    sync: SyncPolicy
    guard: GuardPolicy


def _choice(value: Any, allowed: tuple[str, ...], setting: str) -> str:
    if value not in allowed:
        raise PolicyError(f"{setting} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _strings(value: Any, setting: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise PolicyError(f"{setting} must be a list of strings")
    items = tuple(value)
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise PolicyError(f"{setting} must contain only non-empty strings")
    return items


def pattern_error(pattern: str) -> str | None:
    """Why a group-name pattern cannot be used (a `re:` one that does not compile), else None."""
    if not pattern.startswith(REGEX_PREFIX):
        return None
    try:
        re.compile(pattern[len(REGEX_PREFIX):])
    except re.error as exc:
        return f"bad regular expression {pattern!r}: {exc}"
    return None


def _patterns(value: Any, setting: str) -> tuple[str, ...]:
    items = _strings(value, setting)
    for pattern in items:
        error = pattern_error(pattern)
        if error:
            raise PolicyError(f"{setting}: {error}")
    return items


def _flag(value: Any, setting: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{setting} must be true or false; got {value!r}")
    return value


def _text(value: Any, setting: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{setting} must be a string; got {value!r}")
    return value


def _number(value: Any, setting: str, *, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise PolicyError(f"{setting} must be a number >= {minimum}; got {value!r}")
    return value


_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


def _domains(value: Any, setting: str) -> tuple[str, ...] | None:
    """A list of e-mail domains, lower-cased, without a leading '@'; None stays None (unset)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise PolicyError(f"{setting} must be a list of e-mail domains")
    domains = tuple(dict.fromkeys(
        d.strip().lower().lstrip("@") for d in _strings(value, setting)))
    for domain in domains:
        if not is_domain(domain):
            raise PolicyError(f"{setting}: {domain!r} is not an e-mail domain")
    return domains


def is_domain(value: str) -> bool:
    """Whether `value` (lower case) has the shape of an e-mail domain."""
    return bool(_DOMAIN.fullmatch(value))


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain of an e-mail address, None when it has none."""
    local, at, domain = (email or "").strip().rpartition("@")
    return domain.lower() if local and at and domain else None


def _rules(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PolicyError("mapping.rules must be a list of {idp_group, groups}")
    rules = []
    for i, rule in enumerate(value):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("idp_group"), str):
            raise PolicyError(f"mapping.rules[{i}] needs an idp_group name or id")
        targets = _strings(rule.get("groups"), f"mapping.rules[{i}].groups")
        if not targets:
            raise PolicyError(f"mapping.rules[{i}].groups names no Atlassian group")
        rules.append((rule["idp_group"], targets))
    return tuple(rules)


def mapping_from_config(mode: str, mapping: Mapping[str, Any], filters: Mapping[str, Any],
                        default_groups: Any) -> MappingPolicy:
    """Build a MappingPolicy from a connection's stored JSON; PolicyError on bad input."""
    transform = NameTransform(prefix=_text(mapping.get("prefix", ""), "mapping.prefix"),
                              case=_choice(mapping.get("case", "keep"), NAME_CASES, "mapping.case"))
    domains = _strings(filters.get("email_domains"), "filters.email_domains")
    return MappingPolicy(
        mode=_choice(mode, MAPPING_MODES, "mapping_mode"),
        transform=transform,
        rules=_rules(mapping.get("rules")),
        groups=GroupFilter(include=_patterns(filters.get("include"), "filters.include"),
                           exclude=_patterns(filters.get("exclude"), "filters.exclude")),
        users=UserFilter(active_only=_flag(filters.get("active_only", True), "filters.active_only"),
                         email_domains=tuple(d.lower().lstrip("@") for d in domains),
                         members_only=_flag(filters.get("members_only", True),
                                            "filters.members_only")),
        default_groups=_strings(default_groups, "default_groups"),
        flatten_nested=_flag(mapping.get("flatten_nested", True), "mapping.flatten_nested"),
    )


def _invite_products(value: Any) -> tuple[str, ...]:
    products = _strings(value, "policy.products")
    unknown = [p for p in products if p not in INVITE_PRODUCTS]
    if unknown:
        raise PolicyError(f"policy.products: {', '.join(unknown)} cannot be granted by an "
                          f"invite; use {', '.join(INVITE_PRODUCTS)}")
    return products


def from_connection(mapping_mode: str, mapping: Mapping[str, Any] | None,
                    filters: Mapping[str, Any] | None, default_groups: Any,
                    deprovision: str, policy: Mapping[str, Any] | None) -> ConnectionPolicy:
    """Read the Connection row's sync columns; PolicyError names the first bad setting."""
    for setting, value in (("mapping", mapping), ("filters", filters), ("policy", policy)):
        if value is not None and not isinstance(value, Mapping):
            raise PolicyError(f"{setting} must be an object")
    policy = policy or {}
    sync = SyncPolicy(
        on_unmatched=_choice(policy.get("on_unmatched", "invite"), UNMATCHED_MODES,
                             "policy.on_unmatched"),
        invite_products=_invite_products(policy.get("products")),
        deprovision=_choice(deprovision, DEPROVISION_MODES, "deprovision"),
        product_access_groups=_strings(policy.get("product_access_groups"),
                                       "policy.product_access_groups"),
        protected_account_ids=frozenset(_strings(policy.get("protected_account_ids"),
                                                 "policy.protected_account_ids")),
        adopt_existing_groups=_flag(policy.get("adopt_existing_groups", False),
                                    "policy.adopt_existing_groups"),
        invite_domains=_domains(policy.get("invite_domains"), "policy.invite_domains"),
    )
    guard = GuardPolicy(
        max_removal_percent=_number(policy.get("max_removal_percent", 10.0),
                                    "policy.max_removal_percent", minimum=0),
        max_users_affected=int(_number(policy.get("max_users_affected", 50),
                                       "policy.max_users_affected", minimum=0)),
        empty_hold_min_previous=int(_number(policy.get("empty_hold_min_previous", 10),
                                            "policy.empty_hold_min_previous", minimum=1)),
    )
    return ConnectionPolicy(mapping_from_config(mapping_mode, mapping or {}, filters or {},
                                                default_groups), sync, guard)
