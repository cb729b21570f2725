"""The first run's identity provider: the sandbox SCIM 2.0 server over a generated company
directory kept in a file, with a small control API to make people leave or join groups."""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.serving import run_simple

from sandbox.idps import directory_gen, scim
from sandbox.idps.common import bearer
from sandbox.idps.directory import Directory, Person
from sandbox.idps.hooks_standard import SignedSender

CONTROL = "/sandbox"


def load_or_generate(path: Path, people: int) -> Directory:
    """The directory from an earlier run, or a newly generated one (written to `path`)."""
    if path.exists():
        return directory_gen.load(path)
    d = directory_gen.generate(people)
    directory_gen.save(d, path)
    return d


def create_app(directory: Directory, path: Path, token: str, url: str = "") -> Flask:
    """SCIM at /scim/v2, and POST /sandbox/leave and /sandbox/join; every call needs `token`."""
    state = scim.ScimState(directory, location=url + scim.PREFIX)
    app = Flask(__name__)
    scim.add_scim_routes(app, state, scim.PREFIX)
    lock = threading.Lock()
    hooks = WebhookTargets(path.with_name(path.name + ".webhook.json"))

    @app.before_request
    def authenticate():  # type: ignore[no-untyped-def]
        if bearer(request.headers.get("Authorization")) != token:
            return scim.scim_error(401, "a valid bearer token is required")
        return None

    def person(email: str) -> Person | None:
        wanted = email.strip().lower()
        return next((p for p in directory.person_list() if p.email.lower() == wanted), None)

    @app.post(f"{CONTROL}/leave")
    def leave():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        with lock:
            p = person(str(body.get("email", "")))
            if p is None:
                return jsonify(error=f"nobody with e-mail {body.get('email')!r}"), 404
            p.active, p.updated = False, time.time()
            directory_gen.save(directory, path)
        hooks.send("user.updated", {"user": {"id": p.id, "email": p.email}})
        return jsonify(email=p.email, active=False, webhook=hooks.registered())

    @app.post(f"{CONTROL}/join")
    def join():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        with lock:
            p = person(str(body.get("email", "")))
            team = next((t for t in directory.team_list() if t.name == body.get("group")), None)
            if p is None:
                return jsonify(error=f"nobody with e-mail {body.get('email')!r}"), 404
            if team is None:
                return jsonify(error=f"no group named {body.get('group')!r}"), 404
            if p.id not in team.member_ids:
                team.member_ids.append(p.id)
            # someone who joins a group is back at work
            p.active, p.updated = True, time.time()
            team.updated = p.updated
            directory_gen.save(directory, path)
        hooks.send("user.updated", {"user": {"id": p.id, "email": p.email}})
        return jsonify(email=p.email, group=team.name, webhook=hooks.registered())

    @app.post(f"{CONTROL}/webhook")
    def register_webhook():  # type: ignore[no-untyped-def]
        """Where to send signed Standard Webhooks when the directory changes (first run sets it)."""
        body = request.get_json(silent=True) or {}
        target, secret = body.get("url"), body.get("secret")
        if not isinstance(target, str) or not target.startswith(("http://", "https://")) \
                or not isinstance(secret, str) or not secret.startswith("whsec_"):
            return jsonify(error="url (http or https) and secret (whsec_…) are required"), 400
        hooks.register(target, secret)
        return jsonify(url=target)

    @app.get(f"{CONTROL}/summary")
    def summary():  # type: ignore[no-untyped-def]
        people = directory.person_list()
        return jsonify(people=len(people), inactive=sum(not p.active for p in people),
                       groups=len(directory.teams),
                       nested=sum(t.parent_id is not None for t in directory.team_list()))

    return app


class WebhookTargets:
    """The one webhook this IdP signs its changes to, kept beside the directory file."""

    def __init__(self, path: Path):
        self.path = path
        self.sender: SignedSender | None = None
        if path.exists():
            saved = json.loads(path.read_text())
            self.sender = SignedSender(saved["url"], saved["secret"])

    def register(self, url: str, secret: str) -> None:
        self.sender = SignedSender(url, secret)
        self.path.write_text(json.dumps({"url": url, "secret": secret}))
        self.path.chmod(0o600)

    def registered(self) -> bool:
        return self.sender is not None

    def send(self, event_type: str, data: dict) -> None:
        """Sent in the background: the control call answers at once, the webhook follows."""
        if self.sender is not None:
            threading.Thread(target=self.sender.standard, args=(event_type, data), daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True, help="JSON file of the directory")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--token", required=True, help="the bearer token SCIM clients must send")
    args = parser.parse_args(argv)
    path = Path(args.state)
    directory = load_or_generate(path, args.people)
    print(f"sandbox SCIM IdP on http://127.0.0.1:{args.port}{scim.PREFIX}: "
          f"{len(directory.people)} people, {len(directory.teams)} groups", flush=True)
    run_simple("127.0.0.1", args.port, create_app(directory, path, args.token, f"http://127.0.0.1:{args.port}"), threaded=True)


if __name__ == "__main__":
    main()
