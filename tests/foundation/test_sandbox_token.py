"""`usersync run` hands the sandbox site its admin token in a form argparse cannot misread."""

from __future__ import annotations

import shlex

import pytest

from app import devserver
from sandbox.atlassian import __main__ as sandbox_main


def sandbox_argv(token: str) -> list[str]:
    command = devserver.commands(8080, "redis://x", 18090, ("admin@example.com", token))
    argv = shlex.split(command["sandbox"])
    return argv[argv.index("sandbox.atlassian") + 1:]


@pytest.mark.parametrize("token", ["-Ab3_9xYz", "--help", "plain_Token-1"])
def test_the_sandbox_reads_any_url_safe_token(token, monkeypatch, capsys):
    monkeypatch.setattr(sandbox_main, "run_simple", lambda *a, **k: None)  # parse, do not serve
    sandbox_main.main(sandbox_argv(token))
    assert f"Site admin (Basic): admin@example.com / {token}\n" in capsys.readouterr().out


def test_generated_tokens_never_start_with_a_dash(monkeypatch, tmp_path):
    drawn = iter(["-first", "-second", "third-ok"])
    monkeypatch.setattr(devserver.secrets, "token_urlsafe", lambda _n: next(drawn))
    assert devserver.sandbox_admin(str(tmp_path)) == ("admin@example.com", "third-ok")
    assert devserver.sandbox_admin(str(tmp_path))[1] == "third-ok"  # kept across restarts


def test_real_tokens_never_start_with_a_dash():
    # one in 64 plain token_urlsafe values starts with "-": 1,000 draws would hit it often
    assert not any(devserver.new_token().startswith("-") for _ in range(1000))
