#!/usr/bin/env python3
"""Two-command entry: `python3 dev.py run` (the product) and `python3 dev.py test` (the tests);
`python3 dev.py build` only builds the admin page (the production build step), and
`python3 dev.py lint` runs `ruff check .` and the import contract (`lint-imports`).

Needs Python 3.11+ and Node.js 20: it creates `.venv`, installs the project into it when
pyproject.toml changed, builds the admin page (`npm ci`, `npm run build` in app/admin/ui)
when its sources or lockfile changed, then runs `usersync run` or `pytest` inside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
UI = ROOT / "app" / "admin" / "ui"
UI_DIST = UI / "dist"
UI_STAMP = UI_DIST / ".sources-sha256"
NODE_STAMP = UI / "node_modules" / ".lockfile-sha256"
UI_SOURCES = ("package.json", "package-lock.json", "index.html", "vite.config.js", "src")


def ensure_env() -> None:
    # dev.py runs under whatever python3 the machine has, before any venv exists.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing dependencies into .venv ...", flush=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def admin_page_hash() -> str:
    """One hash over the admin page's sources and lockfile: the bundle is rebuilt when it changes."""
    digest = hashlib.sha256()
    for name in UI_SOURCES:
        path = UI / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(UI).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_admin_page() -> None:
    """Build app/admin/ui/dist with npm when the sources changed since the last build."""
    if os.environ.get("USERSYNC_SKIP_UI_BUILD") == "1":
        return
    wanted = admin_page_hash()
    if UI_STAMP.exists() and UI_STAMP.read_text() == wanted:
        return
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        sys.exit("Node.js 20 (with npm) is needed to build the admin page; install it, "
                 "or set USERSYNC_SKIP_UI_BUILD=1 to go without the page.")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major, minor = (int(x) for x in version.lstrip("v").split(".")[:2])
    if (major, minor) < (20, 19) or major == 21 or (major == 22 and minor < 12):
        sys.exit(f"The admin page's build (Vite) needs Node.js 20.19+ or 22.12+; this is {version}.")
    lock = hashlib.sha256((UI / "package-lock.json").read_bytes()).hexdigest()
    if not (NODE_STAMP.exists() and NODE_STAMP.read_text() == lock):
        print("installing the admin page's packages (npm ci) ...", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=UI, check=True)
        NODE_STAMP.write_text(lock)
    print("building the admin page (npm run build) ...", flush=True)
    subprocess.run([npm, "run", "build", "--silent"], cwd=UI, check=True)
    UI_STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "build", "lint"):
        print(__doc__)
        return 2
    if argv[0] == "build":
        os.environ.pop("USERSYNC_SKIP_UI_BUILD", None)
        ensure_admin_page()
        return 0
    ensure_env()
    os.chdir(ROOT)
    if argv[0] == "lint":
        ruff = subprocess.run([str(BIN / "ruff"), "check", "."])
        imports = subprocess.run([str(BIN / "lint-imports"), "--no-cache"])
        return ruff.returncode or imports.returncode
    ensure_admin_page()
    if argv[0] == "run":
        cmd = [str(BIN / "usersync"), "run", *argv[1:]]
    else:
        cmd = [str(BIN / "python"), "-m", "pytest", *argv[1:]]
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
