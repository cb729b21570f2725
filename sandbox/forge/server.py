"""The invoker over HTTP: its JWKS, and a small control API to install, fire and invoke."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, jsonify, make_response, request

from .invoker import ForgeInstallation, ForgeInvoker, InvokerError


def _installation_json(inst: ForgeInstallation) -> dict[str, Any]:
    return {"installationId": inst.installation_id, "siteUrl": inst.site_url,
            "cloudId": inst.cloud_id, "product": inst.product, "accountId": inst.account_id,
            "apiBaseUrl": inst.api_base_url, "connectClientKey": inst.connect_client_key}


def create_app(invoker: ForgeInvoker) -> Flask:
    app = Flask("sandbox.forge")

    def find(installation_id: str) -> ForgeInstallation:
        """The installation the path names; a 404 answer ends the request when there is none."""
        inst = invoker.installations.get(installation_id)
        if inst is None:
            abort(make_response(jsonify({"message": "no such installation"}), 404))
        return inst

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        return jsonify(invoker.key.jwks())

    @app.get("/installations")
    def list_installations() -> Response:
        return jsonify([_installation_json(i) for i in invoker.installations.values()])

    @app.post("/installations")
    def install() -> Any:
        body = request.get_json(silent=True) or {}
        if not all(isinstance(body.get(k), str) for k in ("siteUrl", "adminEmail", "adminToken")):
            return jsonify({"message": "siteUrl, adminEmail and adminToken are required"}), 400
        try:
            inst = invoker.install(body["siteUrl"], (body["adminEmail"], body["adminToken"]),
                                   product=body.get("product") or "jira",
                                   connect_client_key=body.get("connectClientKey"))
        except (InvokerError, OSError) as exc:
            return jsonify({"message": str(exc)}), 502
        return jsonify(_installation_json(inst)), 201

    @app.post("/installations/<path:installation_id>/scheduled")
    def fire(installation_id: str) -> Any:
        inst = find(installation_id)
        return jsonify({"statuses": invoker.scheduled(inst, times=int(request.args.get("times", 1)))})

    @app.post("/installations/<path:installation_id>/invoke")
    def invoke(installation_id: str) -> Any:
        inst = find(installation_id)
        body = request.get_json(silent=True) or {}
        answer = invoker.invoke_remote(inst, str(body.get("path", "/")),
                                       str(body.get("method", "GET")), body.get("body"),
                                       body.get("accountId"))
        return jsonify({"status": answer.status_code, "body": answer.text})

    @app.post("/installations/<path:installation_id>/uninstall")
    def uninstall(installation_id: str) -> Any:
        inst = find(installation_id)
        body = request.get_json(silent=True) or {}
        return jsonify({"statuses": invoker.uninstall(
            inst, (str(body.get("adminEmail", "")), str(body.get("adminToken", ""))))})

    return app
