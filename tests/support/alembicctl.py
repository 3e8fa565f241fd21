#!/usr/bin/env python3
"""Drive a real Alembic project on a throwaway database for ixray's end-to-end tests.

Usage (with the test venv's python, $IXRAY_PYTHON):

    python tests/support/alembicctl.py catalog   PROJECT_DIR --db sqlite|postgres
    python tests/support/alembicctl.py upgrade   PROJECT_DIR --db sqlite|postgres
    python tests/support/alembicctl.py check     PROJECT_DIR --db sqlite|postgres
    python tests/support/alembicctl.py downgrade PROJECT_DIR --db sqlite|postgres
    python tests/support/alembicctl.py heads     PROJECT_DIR
    python tests/support/alembicctl.py revision  PROJECT_DIR --db sqlite|postgres -m MESSAGE [--rev-id ID]

Options: --db (default sqlite), --target REV (downgrade target, default -1),
-m/--message and --rev-id (for `revision`),
--keep (keep the temporary database and directory, print where they are),
-v (echo Alembic's output to stderr for `catalog` too).

PROJECT_DIR holds alembic.ini. The project is never edited and nothing is
written into it, except by `revision`, which writes the one revision file
Alembic generates. Alembic runs in ONE `python -c <driver>` subprocess per
command, with PROJECT_DIR as cwd, PROJECT_DIR first on PYTHONPATH and
PYTHONDONTWRITEBYTECODE=1. The driver does what the `alembic` console script
does (alembic.config.CommandLine parses the same arguments, a Config is built
from PROJECT_DIR/alembic.ini [and pyproject.toml], so `%(here)s`,
`script_location`, `prepend_sys_path`, `version_locations` all resolve as
usual) with one change: before each command the in-memory Config gets
`sqlalchemy.url` set to a fresh database. The project's env.py is expected to
read `config.get_main_option("sqlalchemy.url")`, as the stock template does;
it needs no environment variables. The database is a SQLite file in a temp
dir, or a PostgreSQL database named ixray_<pid>_<random>
(postgresql+psycopg://USER@HOST:PORT/NAME on IXRAY_PG_HOST / IXRAY_PG_PORT /
IXRAY_PG_USER [/ IXRAY_PG_PASSWORD], defaults 127.0.0.1 / 54329 / postgres)
that is dropped at the end, even on failure.

Commands and exit codes:

  catalog    `alembic upgrade head`, then print ONE JSON object on stdout,
             exactly as `djangoctl.py catalog` does (shape, sorting, the
             "<rowid>" pseudo-index on SQLite, the coverage rule for
             "indexed": see tests/support/catalog.py), for every table except
             Alembic's own `alembic_version`.
             0 = printed; 1 = upgrade failed (Alembic's output on stderr).
  upgrade    `alembic upgrade head` on a fresh database; output passed
             through. 0 = succeeded; 1 = failed.
  check      `alembic upgrade head`, then `alembic check`; output passed
             through. 0 = "No new upgrade operations detected."; 1 = check
             found differences ("New upgrade operations detected: [...]");
             3 = anything else failed (the upgrade, a model import error, ...).
  downgrade  `alembic upgrade head`, `alembic downgrade -1` (or --target),
             `alembic upgrade head` again; output passed through.
             0 = all three succeeded; 1 = one failed.
  heads      `alembic heads` (no database is created); output passed
             through; the exit code is Alembic's (0, 255 for an Alembic
             error such as a broken revision chain, 1 for an exception).

  revision   `alembic revision --autogenerate -m MESSAGE [--rev-id ID]`
             against a fresh database that has the current head applied
             (`alembic upgrade head` first), so the new revision holds what
             the models add to the history. Alembic writes it into the
             project's versions directory; output passed through.
             0 = written; 1 = failed.

  Any command: 2 = bad usage; 3 = environment error (Alembic, SQLAlchemy or
  psycopg not importable, PostgreSQL unreachable, no alembic.ini).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

# catalog.py lives next to this file; no __pycache__ in the checkout.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog import (  # noqa: E402
    Database,
    EnvError,
    build_catalog,
    eprint,
    pg_params,
    read_catalog,
    show,
    show_on_stderr,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ENV = 3

PROG = "alembicctl"
VERSION_TABLE = "alembic_version"

# Exit codes of the driver subprocess.
DRV_OK = 0
DRV_EXCEPTION = 1  # an uncaught exception; traceback on stderr
DRV_NO_ALEMBIC = 3  # alembic not importable
DRV_DIFFS = 254  # `alembic check` found differences ("FAILED: New upgrade ...")
DRV_COMMAND_ERROR = 255  # any other alembic CommandError ("FAILED: ...")

# Runs in the subprocess: argv = [ini, url or "", status file, steps as JSON].
# Each step is an `alembic` argument list; the first failing step stops the
# run and its index and code are written to the status file.
DRIVER = r"""
import json, sys, traceback
ini, url, status_file, steps = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])

def done(step, code):
    with open(status_file, "w") as f:
        json.dump({"step": step, "code": code}, f)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)

try:
    from alembic import util
    from alembic.config import CommandLine, Config
except ImportError as e:
    print(f"alembic is not importable with {sys.executable}: {e}", file=sys.stderr)
    done(0, 3)

for i, argv in enumerate(steps):
    try:
        cl = CommandLine(prog="alembic")
        options = cl.parser.parse_args(["-c", ini, *argv])
        cfg = Config(
            file_=ini, toml_file="pyproject.toml", ini_section=options.name, cmd_opts=options
        )
        if url:
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        fn, positional, kwarg = options.cmd
        fn(
            cfg,
            *[getattr(options, k, None) for k in positional],
            **{k: getattr(options, k, None) for k in kwarg},
        )
    except util.CommandError as e:
        code = 254 if isinstance(e, util.AutogenerateDiffsDetected) else 255
        try:
            util.err(str(e), **cfg.messaging_opts)  # alembic's own "FAILED: ..."
        except SystemExit:
            pass
        done(i, code)
    except SystemExit as e:
        done(i, e.code if isinstance(e.code, int) and e.code else 1)
    except BaseException:
        traceback.print_exc()
        done(i, 1)
done(len(steps), 0)
"""


def sqlalchemy_url(db: Database) -> str:
    if db.kind == "sqlite":
        return "sqlite:///" + db.name
    p = pg_params()
    auth = quote(p["user"], safe="")
    if p["password"]:
        auth += ":" + quote(p["password"], safe="")
    return f"postgresql+psycopg://{auth}@{p['host']}:{p['port']}/{quote(db.name, safe='')}"


class Run:
    """What the driver did: exit code, failing step (or len(steps)), output."""

    def __init__(self, code: int, step: int, out: str, err: str):
        self.code = code
        self.step = step
        self.out = out
        self.err = err

    def passthrough(self) -> None:
        show(self.out, self.err)

    def to_stderr(self) -> None:
        show_on_stderr(self.out, self.err)


class Runner:
    def __init__(self, project: Path, tmp: Path, url: str):
        self.project = project
        self.tmp = tmp
        self.url = url
        self.ini = str(project / "alembic.ini")
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(project), os.environ.get("PYTHONPATH", "")] if p
        )
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.pop("ALEMBIC_CONFIG", None)

    def run(self, *steps: list[str]) -> Run:
        status_file = self.tmp / "status.json"
        status_file.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                DRIVER,
                self.ini,
                self.url,
                str(status_file),
                json.dumps(list(steps)),
            ],
            cwd=self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = proc.communicate()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        try:
            status = json.loads(status_file.read_text(encoding="utf-8"))
            step = status["step"]
        except (OSError, ValueError, KeyError):
            step = 0  # died before reporting (e.g. killed): blame the first step
        code = proc.returncode
        if code == DRV_NO_ALEMBIC:
            sys.stderr.write(err)
            raise EnvError("the Alembic driver could not import alembic")
        return Run(code, step, out, err)


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def cmd_catalog(runner: Runner, db: Database, verbose: bool) -> int:
    res = runner.run(["upgrade", "head"])
    if res.code != DRV_OK:
        res.to_stderr()
        eprint(f"{PROG}: alembic upgrade head failed (exit {res.code})")
        return EXIT_FAILED
    if verbose:
        res.to_stderr()
    # Every user schema: projects keep tables outside `public` too.
    fks, indexes = read_catalog(db.kind, db.name, pg_exclude_schemas=[])
    fks = [f for f in fks if f["table"] != VERSION_TABLE]
    indexes = [i for i in indexes if i["table"] != VERSION_TABLE]
    json.dump(build_catalog(db.kind, fks, indexes), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_upgrade(runner: Runner) -> int:
    res = runner.run(["upgrade", "head"])
    res.passthrough()
    if res.code != DRV_OK:
        eprint(f"{PROG}: alembic upgrade head failed (exit {res.code})")
        return EXIT_FAILED
    return EXIT_OK


def cmd_check(runner: Runner) -> int:
    res = runner.run(["upgrade", "head"], ["check"])
    res.passthrough()
    if res.code == DRV_OK:
        return EXIT_OK
    if res.step == 1 and res.code == DRV_DIFFS:
        return EXIT_FAILED
    what = "alembic upgrade head" if res.step == 0 else "alembic check"
    eprint(f"{PROG}: {what} failed (exit {res.code}) without reporting differences")
    return EXIT_ENV


def cmd_downgrade(runner: Runner, target: str) -> int:
    steps = [["upgrade", "head"], ["downgrade", target], ["upgrade", "head"]]
    res = runner.run(*steps)
    res.passthrough()
    if res.code != DRV_OK:
        what = " ".join(["alembic", *steps[min(res.step, len(steps) - 1)]])
        eprint(f"{PROG}: {what} failed (exit {res.code})")
        return EXIT_FAILED
    return EXIT_OK


def cmd_heads(runner: Runner) -> int:
    res = runner.run(["heads"])
    res.passthrough()
    return res.code


def cmd_revision(runner: Runner, message: str, rev_id: str | None) -> int:
    revision = ["revision", "--autogenerate", "-m", message]
    if rev_id:
        revision += ["--rev-id", rev_id]
    res = runner.run(["upgrade", "head"], revision)
    res.passthrough()
    if res.code != DRV_OK:
        what = "alembic upgrade head" if res.step == 0 else "alembic revision --autogenerate"
        eprint(f"{PROG}: {what} failed (exit {res.code})")
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="alembicctl.py",
        description="Run an Alembic project's migrations on a throwaway database "
        "and report what the database ends up with.",
    )
    parser.add_argument(
        "command", choices=["catalog", "upgrade", "check", "downgrade", "heads", "revision"]
    )
    parser.add_argument("project_dir", type=Path)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--target", default="-1", help="downgrade target (default -1)")
    parser.add_argument("-m", "--message", default="autogenerated", help="revision message")
    parser.add_argument("--rev-id", help="revision id (default: Alembic's random one)")
    parser.add_argument("--keep", action="store_true", help="keep the temp DB and directory")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    # Let SIGTERM unwind like Ctrl-C so the database still gets dropped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    try:
        for module in ("alembic", "sqlalchemy"):
            if importlib.util.find_spec(module) is None:
                raise EnvError(
                    f"{module} is not importable with {sys.executable} "
                    "(run scripts/test to build the venv)"
                )
        project = args.project_dir.resolve()
        if not (project / "alembic.ini").is_file():
            raise EnvError(f"{project / 'alembic.ini'} not found: not an Alembic project root")
        # `heads` reads only the scripts: no database.
        kind = "sqlite" if args.command == "heads" else args.db
        tmp = Path(tempfile.mkdtemp(prefix="ixray-alembicctl-"))
        try:
            with Database(kind, tmp, args.keep, PROG) as db:
                runner = Runner(project, tmp, sqlalchemy_url(db))
                if args.command == "catalog":
                    return cmd_catalog(runner, db, args.verbose)
                if args.command == "upgrade":
                    return cmd_upgrade(runner)
                if args.command == "check":
                    return cmd_check(runner)
                if args.command == "downgrade":
                    return cmd_downgrade(runner, args.target)
                if args.command == "revision":
                    return cmd_revision(runner, args.message, args.rev_id)
                return cmd_heads(runner)
        finally:
            if args.keep:
                eprint(f"{PROG}: kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    except EnvError as e:
        eprint(f"{PROG}: error: {e}")
        return EXIT_ENV
    except KeyboardInterrupt:
        eprint(f"{PROG}: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
