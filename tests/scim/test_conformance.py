"""The public conformance checker scim2-tester (through scim2-cli) against our live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.scim.conftest import ScimClient

SCIM2 = Path(sys.executable).parent / "scim2"


def test_every_check_of_scim2_tester_passes(scim: ScimClient) -> None:
    # The token goes through the environment, not argv, where other users could read it.
    env = {**os.environ, "SCIM_CLI_HEADERS": f"Authorization: Bearer {scim.token}"}
    run = subprocess.run([str(SCIM2), "--url", scim.base_url, "test"], env=env,
                         capture_output=True, text=True, timeout=240)
    statuses = [line.split()[0] for line in run.stdout.splitlines()
                if line and not line.startswith((" ", "Performing"))]
    failures = [line for line in run.stdout.splitlines()
                if line.startswith(("ERROR", "SKIPPED", "CRITICAL"))]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert not failures
    # Discovery, CRUD and PATCH on every attribute of both resource types: well over 100 checks.
    assert statuses.count("SUCCESS") >= 100, run.stdout[-2000:]
