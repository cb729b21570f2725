"""Every model, imported here so Alembic and the app see one metadata."""

from app.models.connection import Connection
from app.models.credential import AtlassianCredential
from app.models.installation import Installation, InstallationKind, InstallationState
from app.models.lifecycle_token import UsedLifecycleToken
from app.models.mirror import (
    AdminMember,
    ManagedGroup,
    ManagedMembership,
    MirrorCount,
    SiteAccount,
)
from app.models.scim import ScimEndpoint, ScimGroup, ScimMember, ScimToken, ScimUser, ScimUserEmail  # noqa: F401
from app.models.source_state import SourceBase, SourceState
from app.models.sync import Change, GroupMapping, Link, SyncRun
from app.models.webhook import IdpSubscription, WebhookDelivery, WebhookEndpoint

__all__ = ["AtlassianCredential", "Change", "Connection", "GroupMapping", "Link", "SourceBase", "SourceState", "SyncRun", "Installation",
           "AdminMember", "InstallationKind", "InstallationState", "ManagedGroup", "ManagedMembership", "MirrorCount",
           "SiteAccount",
           "UsedLifecycleToken", "IdpSubscription", "WebhookDelivery", "WebhookEndpoint"]
