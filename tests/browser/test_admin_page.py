"""The admin page in a real browser: Playwright drives Debian's Chromium against a live app
server, the sandbox Atlassian site, a sandbox IdP and an `rq worker`.

Run locally (needs `apt-get install chromium` and Node.js 20 for the bundle, which is built
on first use when its sources changed):

    PYTHONPATH=$PWD .venv/bin/python -m pytest tests/browser -q

Every screen is checked with axe-core (no serious or critical violations) and photographed
into test-artifacts/; any console error fails the test. Without /usr/bin/chromium the tests
are skipped locally and fail in CI.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from sqlalchemy import select

from app import extensions
from app.connections import create as create_connection
from app.models import Change, Connection, SyncRun
from sandbox.idps import keycloak
from tests.browser.live import connect_all_js, context_token
from tests.engine.harness import directory
from tests.engine.sources_fixtures import scenario

CONNECT_ALL_JS = "https://connect-cdn.atl-paas.net/all.js"
"""Where the page loads Atlassian's Connect JavaScript API from (app/admin/ui/src/host.js)."""


def pick(page, label: str, option: str) -> None:
    """Choose `option` in the Atlaskit select labelled `label`, with the keyboard."""
    field = page.get_by_label(label, exact=True)
    field.focus()
    field.fill(option)
    page.get_by_role("option", name=option, exact=True).wait_for()
    field.press("Enter")


def tab_to(page, text: str, role: str | None = None, presses: int = 25) -> None:
    """Press Tab until the focused element shows `text` (or has `role`): reachable by keyboard."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.textContent.trim(),"
                                " document.activeElement.getAttribute('role')]")
        if (role and focused[1] == role) or (not role and focused[0] == text):
            return
    raise AssertionError(f"Tab never reached {text or role!r}")


def runs_of(connection_id: int) -> list[SyncRun]:
    with extensions.db.session() as session:
        return list(session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id)
                                    .order_by(SyncRun.id)))


def changes_of(run_id: int) -> list[Change]:
    with extensions.db.session() as session:
        return list(session.scalars(select(Change).where(Change.run_id == run_id).order_by(Change.seq)))


def wait_for_finished_run(page) -> None:
    """The progress bar reaches its end and the run says it succeeded."""
    page.get_by_text("Succeeded", exact=True).first.wait_for(timeout=60_000)
    bar = page.get_by_role("progressbar", name="Sync progress")
    assert bar.get_attribute("aria-valuenow") in ("100", "1")
    done, total = re.match(r"(\d+) of (\d+) changes made", page.get_by_test_id("progress-label").inner_text()).groups()
    assert done == total and int(total) > 0


def test_wizard_preview_sync_history_and_export(live, admin):
    page = admin.page
    d = scenario()
    for email in ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"):
        live.cloud.site.add_user(email)
    with keycloak.serve(d) as idp:
        page.goto(live.page_url)
        page.get_by_role("heading", name="Connect your identity provider").wait_for()
        admin.check("overview-empty")

        page.get_by_role("button", name="Add connection").click()
        pick(page, "Identity provider", "Keycloak")
        admin.check("wizard-kind")
        page.get_by_role("button", name="Continue").click()

        # A bad URL comes back from the API as a field error, shown beside its field.
        settings = dict(idp.settings, base_url="not a url")
        for name, value in settings.items():
            if isinstance(value, str):
                page.locator(f'[name="settings.{name}"]').fill(value)
        admin.expect_http_error(400)
        page.get_by_role("button", name="Save and test").click()
        url_field = page.locator('[name="settings.base_url"]')
        error = page.get_by_text("Not a valid URL.")
        error.wait_for()
        assert url_field.get_attribute("aria-invalid") == "true"
        admin.check("wizard-settings-error")
        url_field.fill(idp.settings["base_url"])
        page.get_by_role("button", name="Save and test").click()

        page.get_by_text("The IdP answered").wait_for()
        admin.check("wizard-test")
        page.get_by_role("button", name="Continue").click()

        # Manual mapping: IdP group "engineering" (from the IdP's picker) feeds a new site group.
        pick(page, "Mode", "Only the IdP groups I map to site groups")
        page.get_by_role("button", name="Add rule").click()
        pick(page, "IdP group of rule 1", "engineering")
        groups = page.get_by_label("Site groups of rule 1", exact=True)
        groups.fill("eng-team")
        page.get_by_role("option", name=re.compile("eng-team")).wait_for()
        groups.press("Enter")
        admin.check("wizard-groups")
        page.get_by_role("button", name="Save and continue").click()
        page.get_by_role("heading", name="Schedule").wait_for()
        assert live_mapping(connection_of_wizard())["rules"] == [
            {"idp_group": "engineering", "groups": ["eng-team"]}]

        pick(page, "Run", "Every hour")
        admin.check("wizard-schedule")
        page.get_by_role("button", name="Save and continue").click()

        page.get_by_role("heading", name="Preview").wait_for(timeout=60_000)
        headline = page.get_by_label("Planned changes").get_by_role("listitem")
        assert int(headline.nth(0).locator("strong").inner_text()) >= 2  # alice, bob (nested) join
        assert headline.nth(2).locator("strong").inner_text() == "1"  # eng-team is created
        page.get_by_role("table").wait_for()
        admin.check("wizard-preview")
        page.get_by_role("button", name="Continue").click()

        admin.check("wizard-enable")
        page.get_by_role("button", name="Enable and sync now").click()
        wait_for_finished_run(page)
        admin.check("run")

    (connection_id,) = {r.connection_id for r in runs_of_all()}
    applied = [r for r in runs_of(connection_id) if not r.dry_run]
    assert [r.status for r in applied] == ["succeeded"]
    made = changes_of(applied[0].id)
    # dave is disabled in the IdP; bob comes in through backend, nested in engineering.
    assert live.members("eng-team") == {"alice@example.com", "bob@example.com"}
    assert "ops" not in live.group_names()

    page.get_by_role("table", name="Changes made by this run").get_by_role("row").nth(1).wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == len(made) and {r["kind"] for r in rows} == {c.kind for c in made}
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    items = exported["items"] if isinstance(exported, dict) else exported
    assert len(items) == len(made)

    page.goto(f"{page.url.split('#')[0]}#/connection/{connection_id}/history")
    page.get_by_role("tab", name="History").click()
    page.get_by_role("button", name=f"Run {applied[0].id}", exact=True).wait_for()
    page.get_by_role("button", name=re.compile(r"Run \d+ \(preview\)")).first.wait_for()
    admin.check("history")

    page.get_by_role("button", name="User & Group Sync").click()
    page.get_by_role("heading", name="Changes per run").wait_for()
    page.get_by_text("Healthy").wait_for()
    admin.check("overview")


def connection_of_wizard() -> int:
    with extensions.db.session() as session:
        return session.scalars(select(Connection.id)).one()


def live_mapping(connection_id: int) -> dict:
    with extensions.db.session() as session:
        return session.get(Connection, connection_id).mapping_config()


def runs_of_all() -> list[SyncRun]:
    with extensions.db.session() as session:
        return list(session.scalars(select(SyncRun)))


def test_held_plan_is_approved_in_the_page(live, admin):
    page = admin.page
    people = [(f"u{i}", f"user{i}@example.com", True) for i in range(10)]
    for _, email, _ in people:
        live.cloud.site.add_user(email)
    cid = live.connection(directory(people, {"eng": [uid for uid, _, _ in people]}))
    assert live.sync(cid).status == "succeeded"
    assert len(live.members("eng")) == 10
    # Eight of ten members leave: far over the guard's removal threshold, so the plan is held.
    live.write_directory(directory(people, {"eng": ["u0", "u1"]}))

    page.goto(live.page_url)
    page.get_by_role("button", name="HR file").click()
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("This plan waits for your approval").wait_for(timeout=60_000)
    removals = page.get_by_label("Planned changes").get_by_role("listitem").nth(1)
    assert removals.locator("strong").inner_text() == "8"
    admin.check("held")
    assert len(live.members("eng")) == 10

    page.get_by_role("button", name="Approve", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Apply this plan?").wait_for()
    admin.check("approve-dialog")
    dialog.get_by_role("button", name="Apply", exact=True).click()
    wait_for_finished_run(page)
    admin.check("approved-run")
    assert live.members("eng") == {"user0@example.com", "user1@example.com"}


def test_keyboard_alone_reaches_the_wizard_and_a_non_admin_is_told_why(live, admin):
    page = admin.page
    page.goto(live.page_url)
    page.get_by_role("heading", name="Connect your identity provider").wait_for()
    tab_to(page, "Add connection")
    page.keyboard.press("Enter")
    page.get_by_label("Identity provider", exact=True).wait_for()
    tab_to(page, "", role="combobox")
    page.keyboard.type("Keycloak")
    page.get_by_role("option", name="Keycloak", exact=True).wait_for()
    page.keyboard.press("Enter")
    tab_to(page, "Continue")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Settings").wait_for()

    someone = live.cloud.site.add_user("someone@example.com")
    admin.expect_http_error(403)
    admin.expect_http_error(403)
    page.goto(f"{live.page_url}&account_id={someone.account_id}")
    page.get_by_text("Only site administrators can manage the sync").wait_for()
    admin.check("not-admin")


def test_connect_host_loads_all_js_and_calls_with_its_context_token(live, admin):
    page = admin.page
    token = context_token(live, live.cloud.admin_account_id)
    page.route(CONNECT_ALL_JS, lambda route: route.fulfill(
        body=connect_all_js(token), content_type="application/javascript"))
    # The iframe URL Jira opens for adminPages: /admin with the context token in the query.
    page.goto(f"{live.app_url}/admin?jwt={token}&xdm_e={live.cloud.base_url}")
    page.get_by_role("heading", name="Connect your identity provider").wait_for()
    assert page.evaluate("() => window.__tokenCalls") >= 2  # /me and /overview each asked
    admin.check("connect-host")


def test_connection_tabs_scim_tokens_and_write_access_screens(live, admin):
    page = admin.page
    cid = live.connection(directory([("u0", "user0@example.com", True)], {"eng": ["u0"]}))
    with extensions.db.session() as session:
        scim = create_connection(session, client_key=live.client_key, kind="scim_push", name="Okta push",
                                 settings={}, encrypt=extensions.secrets.encrypt)
        scim_id = scim.id
        session.commit()

    page.goto(f"{live.page_url}#/connection/{cid}")
    page.get_by_role("heading", name="HR file").wait_for()
    page.get_by_label("Connection name").wait_for()
    admin.check("connection-settings")
    page.get_by_role("tab", name="Groups").click()
    page.get_by_label("Mode", exact=True).wait_for()
    admin.check("connection-groups")
    page.get_by_role("tab", name="Schedule & policy").click()
    page.get_by_label("When a user leaves the IdP").wait_for()
    admin.check("connection-schedule-policy")
    # A guard threshold the API refuses comes back beside its field.
    page.get_by_label("More than this % of members would be removed").fill("250")
    admin.expect_http_error(400)
    page.get_by_role("button", name="Save policy").click()
    page.locator("#guard-percent").locator("xpath=ancestor::div[1]/..").get_by_text(
        re.compile("less than or equal to 100|between|100")).first.wait_for()
    admin.check("connection-policy-error")

    page.goto(f"{live.page_url}#/connection/{scim_id}")
    page.get_by_role("tab", name="SCIM").click()
    page.get_by_role("button", name="Create token").click()
    once = page.get_by_text("Copy this token now: it is not shown again")
    once.wait_for()
    admin.check("connection-scim-tokens")

    page.get_by_role("button", name="Write access").click()
    page.get_by_role("heading", name="Write access").wait_for()
    page.get_by_text("api token", exact=True).wait_for()
    admin.check("write-access")


def test_webhook_tab_reveals_copies_and_rotates_the_secret(live, admin):
    from datetime import UTC, datetime, timedelta

    from app.models.webhook import IdpSubscription
    from sandbox.idps.directory import Directory
    from sandbox.idps.google import ADMIN, Workspace
    from sandbox.idps.hooks_standard import SignedSender

    page = admin.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    cid = live.connection(directory([("u0", "user0@example.com", True)], {"eng": ["u0"]}))
    page.goto(f"{live.page_url}#/connection/{cid}")
    page.get_by_role("tab", name="Webhook").click()
    url_field = page.get_by_role("textbox", name="Webhook URL")
    secret_field = page.get_by_role("textbox", name="Secret", exact=True)
    url_field.wait_for()
    old_url, shown = url_field.input_value(), secret_field.input_value()
    assert old_url.startswith(f"{live.app_url}/webhooks/")
    assert shown.startswith("whsec_•")
    steps = page.locator(".setup-steps li")
    assert old_url in steps.first.inner_text()
    assert "whsec_•" in steps.nth(1).inner_text()  # the signing-secret step is masked too
    admin.check("connection-webhook")

    page.get_by_role("button", name="Reveal secret").click()
    old_secret = secret_field.input_value()
    assert old_secret.startswith("whsec_") and "•" not in old_secret
    assert old_secret in steps.nth(1).inner_text()
    page.get_by_role("button", name="Copy secret").click()
    page.get_by_role("status").filter(has_text="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == old_secret
    # the secret is the one the live endpoint checks: a delivery signed with it is accepted
    assert SignedSender(old_url, old_secret).standard("user.updated", {"user": {"id": "u0"}}) == 200

    page.get_by_role("button", name="Rotate URL and secret…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("stop working at once").wait_for()
    admin.check("connection-webhook-rotate")
    dialog.get_by_role("button", name="Rotate now").click()
    page.get_by_text("New URL and secret").wait_for()
    dialog.wait_for(state="detached")
    new_url, new_secret = url_field.input_value(), secret_field.input_value()
    assert new_url != old_url and new_secret != old_secret and new_secret.startswith("whsec_")
    # real POSTs to the live endpoint: the old secret is refused at once, the new one works
    assert SignedSender(new_url, old_secret).standard("user.updated", {"user": {"id": "u0"}}) == 401
    assert SignedSender(old_url, old_secret).standard("user.updated", {"user": {"id": "u0"}}) == 404
    assert SignedSender(new_url, new_secret).standard("user.updated", {"user": {"id": "u0"}}) == 200

    # Google: the channels held at the IdP and their state
    with extensions.db.session() as session:
        google = create_connection(
            session, client_key=live.client_key, kind="google", name="Workspace",
            settings={"service_account_key": Workspace(Directory(), set()).key_file(
                "https://oauth2.googleapis.com/token"), "admin_email": ADMIN},
            encrypt=extensions.secrets.encrypt)
        session.flush()
        session.add(IdpSubscription(connection_id=google.id, provider="google",
                                    resource="admin-activity", external_id="chan-1",
                                    resource_id="r1", expires_at=datetime.now(UTC) + timedelta(days=5)))
        google_id = google.id
        session.commit()
    page.goto(f"{live.page_url}#/connection/{google_id}")
    page.get_by_role("tab", name="Webhook").click()
    table = page.get_by_role("table", name="Push subscriptions")
    table.get_by_text("Group membership (Reports API admin activity)").wait_for()
    table.get_by_text("Active", exact=True).wait_for()
    assert "admin.reports.audit.readonly" in page.locator(".setup-steps").inner_text()
    admin.check("connection-webhook-google")
