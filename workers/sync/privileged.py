"""Which Atlassian groups carry admin rights or product access: never taken over by an IdP name.

Names follow Atlassian's default groups (support.atlassian.com/user-management/docs/
default-groups-and-permissions/): `<product>-users-<site>` grants a product's user role,
`<product>-admins-<site>` its app admin role, and older sites have `site-admins`,
`administrators`, `jira-administrators`, `confluence-administrators`, `system-administrators`
and `trusted-users-<id>`. A group may also be given a global admin permission under any name;
the engine finds those through the permissions API (`current.admin_groups_among`).
"""

from __future__ import annotations

import re
from functools import lru_cache

ADMIN = "admin_group"
"""A site, organization or product admin group by its name: never created, adopted or written."""
ADMIN_RIGHTS = "admin_rights"
"""A group whose members hold a global admin permission (found through the permissions API)."""
PRODUCT_ACCESS = "product_access_group"
"""A default product-access group: written only where the admin named it explicitly."""
SYNCED = "synced_group"
"""A group Atlassian's own IdP provisioning owns: members cannot be changed outside that IdP."""
EXISTING = "existing_group"
"""A group that was on the site before this connection: adopted only where the admin allowed it."""

SKIP_REASONS = {
    ADMIN: "an admin group: never synced from the IdP, whatever the mapping says",
    ADMIN_RIGHTS: "members of this group hold the Administer Jira global permission: never "
                  "synced from the IdP",
    PRODUCT_ACCESS: "a default product-access group: synced only when named as a default group "
                    "or in a manual mapping rule",
    SYNCED: "synced from an identity provider by Atlassian's own user provisioning: its "
            "members are managed in that identity provider, and Atlassian refuses changes",
    EXISTING: "already on the site and not created by this connection: set "
              "policy.adopt_existing_groups to sync into it",
}
"""What the preview says for each reason a desired group is skipped."""

_PRODUCTS = (r"jira|jira-software|jira-core|jira-work-management|jira-servicemanagement|"
             r"jira-servicedesk|jira-service-desk|jira-product-discovery|confluence|opsgenie|"
             r"statuspage|compass|bitbucket|atlas|loom|trello|jira-align")
_SUFFIX = r"(-.+)?"  # the site or organization name Atlassian appends (`-acme`, `-acme.com`)

_ADMIN_NAMES = re.compile(
    rf"(site-admins|org-admins|administrators|system-administrators|atlassian-addons-admin|"
    rf"trusted-users|(?:{_PRODUCTS})-(?:admins|administrators|system-administrators)){_SUFFIX}",
    re.IGNORECASE)
_PRODUCT_ACCESS_NAMES = re.compile(
    rf"(?:{_PRODUCTS})-(?:users|user-access|guests|collaborators|customers|agents){_SUFFIX}",
    re.IGNORECASE)


def is_admin_name(name: str) -> bool:
    """Whether `name` is one of Atlassian's admin group names (any case, any site suffix)."""
    return bool(_ADMIN_NAMES.fullmatch(name.strip()))


def is_product_access_name(name: str) -> bool:
    """Whether `name` is one of Atlassian's default product-access group names."""
    return bool(_PRODUCT_ACCESS_NAMES.fullmatch(name.strip()))


@lru_cache(maxsize=1 << 16)
def classify(name: str) -> str | None:
    """ADMIN, PRODUCT_ACCESS or None for an ordinary group name (remembered: every plan asks
    again for each of up to ten thousand names, and two regular expressions are not cheap)."""
    if is_admin_name(name):
        return ADMIN
    if is_product_access_name(name):
        return PRODUCT_ACCESS
    return None


def skip_reason(name: str, site_name: str | None, *, explicit: bool, adopting: bool,
                admin_rights: bool, adopt_allowed: bool, synced: bool = False) -> str | None:
    """Why a plan must leave the desired group `name` (on the site: `site_name`) alone, or None.

    `explicit`: the admin named it (default group, manual rule); `adopting`: it is on the site
    and not linked to this connection; `admin_rights`: its members hold a global admin permission;
    `synced`: the organization reports it as synced from an identity provider.
    """
    kinds = {classify(n) for n in (name, site_name) if n is not None}
    if ADMIN in kinds:
        return ADMIN
    if admin_rights:
        return ADMIN_RIGHTS
    if synced:
        return SYNCED
    if PRODUCT_ACCESS in kinds and not explicit:
        return PRODUCT_ACCESS
    if adopting and not explicit and not adopt_allowed:
        return EXISTING
    return None
