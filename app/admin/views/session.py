"""Who the page is talking to: the account, the site and the write credential."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.admin.api import Context, operation
from app.admin.schemas import credential as s
from app.admin.views.credential import summary

TAG = "session"


@operation("/me", "GET", summary="The calling admin, the site and the write credential", tag=TAG,
           answer=s.Me)
def me(ctx: Context) -> dict[str, Any]:
    inst = ctx.caller.installation
    return {"account_id": ctx.caller.account_id, "product": ctx.caller.product,
            "site_url": inst.base_url, "client_key": inst.client_key,
            "installation_state": str(inst.state), "via": ctx.caller.via,
            "credential": summary(inst.id),
            "scim_base_url": current_app.config["BASE_URL"].rstrip("/") + "/scim/v2"}
