"""A connection's webhook URL and secret: read (created on first read) and rotate."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app import extensions
from app.admin import tenancy
from app.admin.api import Context, operation
from app.admin.errors import conflict
from app.admin.schemas import webhooks as s
from app.webhooks import endpoints, subscribe_jobs

TAG = "webhooks"


def _answer(ctx: Context, connection_id: int, rotate: bool) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        try:
            make = endpoints.rotate if rotate else endpoints.ensure
            endpoint = make(session, conn, extensions.secrets.encrypt)
        except endpoints.NoWebhook as exc:
            raise conflict(str(exc)) from None
        return endpoints.describe(conn, endpoint, extensions.secrets.decrypt(endpoint.secret_encrypted),
                                  current_app.config["BASE_URL"],
                                  endpoints.subscriptions(session, conn))


@operation("/connections/<int:connection_id>/webhook", "GET",
           summary="The connection's webhook URL, secret and setup steps", tag=TAG,
           answer=s.Webhook, errors=(404, 409))
def get_webhook(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _answer(ctx, connection_id, rotate=False)


@operation("/connections/<int:connection_id>/webhook/rotate", "POST",
           summary="Replace the webhook URL and secret (the old ones stop at once)", tag=TAG,
           answer=s.Webhook, errors=(404, 409))
def rotate_webhook(ctx: Context, connection_id: int) -> dict[str, Any]:
    answer = _answer(ctx, connection_id, rotate=True)
    if answer["subscriptions"] is not None:  # committed: the worker reads the new URL
        cfg = current_app.config
        subscribe_jobs.enqueue_renewal(connection_id, lambda: extensions.redis(cfg))
    return answer
