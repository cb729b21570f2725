"""The `usersync` command answers operator mistakes with one clear line and exit 1 or 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from app import extensions
from app.cli import main
from app.connect import tenancy
from tests.connect.tokens import install_payload

KEY = Fernet.generate_key().decode()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def site(app, test_config, monkeypatch):
    with extensions.db.session() as s:
        tenancy.save_install(s, install_payload("client-c"), extensions.secrets.encrypt)
    monkeypatch.setenv("DATABASE_URL", test_config["DATABASE_URL"])
    monkeypatch.setenv("USERSYNC_INSTANCE_PATH", test_config["INSTANCE_PATH"])
    monkeypatch.setenv("USERSYNC_SECRET_KEYS", ",".join(test_config["SECRET_KEYS"]))
    return "client-c"


def one_line_error(args: list[str], env: dict[str, str] | None = None, codes=(1, 2)) -> str:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code in codes, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.output
    return lines[0]


def add(client_key: str, settings: str = '{"content": "{\\"users\\": []}"}',
        mapping: str | None = None) -> list[str]:
    args = ["connections", "add", "--client-key", client_key, "--kind", "directory_file",
            "--name", "HR", "--settings", settings]
    return args + (["--mapping", mapping] if mapping else [])


def test_missing_at_file(site, tmp_path):
    line = one_line_error(add(site, settings=f"@{tmp_path / 'nope.json'}"))
    assert "--settings: cannot read" in line and "No such file or directory" in line


@pytest.mark.parametrize("schedule", ['"sometimes"', "5", '["hour"]', '"0 0 31 2 *"'])
def test_bad_schedule(site, schedule):
    line = one_line_error(add(site, mapping=f'{{"schedule": {schedule}}}'))
    assert "schedule" in line or "cron" in line


@pytest.mark.parametrize("name", ["USERSYNC_JWT_LEEWAY", "USERSYNC_SYNC_LOCK_TTL",
                                  "USERSYNC_ATLASSIAN_CONCURRENCY"])
def test_non_integer_setting(site, name):
    line = one_line_error(["connections", "list"], env={name: "ten"})
    assert line == f"Error: {name} must be a whole number, not 'ten'"


def test_non_integer_source_setting(site):
    line = one_line_error(["connections", "add", "--client-key", site, "--kind", "keycloak",
                           "--name", "KC", "--settings",
                           '{"base_url": "https://idp.example.com", "realm": "r", '
                           '"client_id": "c", "client_secret": "s", "workers": "many"}'])
    assert "invalid keycloak settings" in line and "workers" in line


@pytest.mark.parametrize("keys", ["not-a-key", f"{KEY},short"])
def test_bad_fernet_key(site, keys):
    line = one_line_error(["connections", "list"], env={"USERSYNC_SECRET_KEYS": keys})
    assert "USERSYNC_SECRET_KEYS" in line and "not a Fernet key" in line


def test_production_with_no_usable_key_refuses_to_start():
    env = {"USERSYNC_ENV": "production", "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://r",
           "USERSYNC_BASE_URL": "https://sync.example", "USERSYNC_SECRET_KEYS": " , "}
    line = one_line_error(["connections", "list"], env=env)
    assert "USERSYNC_SECRET_KEYS holds no usable key" in line


def test_unreachable_database(site):
    line = one_line_error(["connections", "list"],
                          env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert line.startswith("Error: cannot reach the database (DATABASE_URL):")


def test_a_real_process_prints_no_traceback(tmp_path):
    # the console entry point as an operator runs it, not only click's test runner
    run = subprocess.run([sys.executable, "-c", "from app.cli import main; main()", "connections",
                          "list"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "USERSYNC_JWT_LEEWAY": "soon",
                              "USERSYNC_INSTANCE_PATH": str(tmp_path)})
    assert run.returncode == 1
    assert run.stderr.strip() == "Error: USERSYNC_JWT_LEEWAY must be a whole number, not 'soon'"


def test_the_web_process_refuses_to_start_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "USERSYNC_ENV": "production", "DATABASE_URL": "postgresql://x/y",
           "REDIS_URL": "redis://r", "USERSYNC_BASE_URL": "https://sync.example",
           "USERSYNC_SECRET_KEYS": "not-a-fernet-key", "USERSYNC_INSTANCE_PATH": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", "import app.wsgi"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT, env=env)
    assert run.returncode == 3
    assert run.stderr.strip() == ("usersync refuses to start: USERSYNC_SECRET_KEYS: key 1 of 1 is "
                                  "not a Fernet key (32 url-safe base64 bytes); generate one with "
                                  "Fernet.generate_key()")
