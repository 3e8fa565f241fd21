#!/usr/bin/env python3
"""Drive a real Django project on a throwaway database for ixray's end-to-end tests.

Usage (with the test venv's python, $IXRAY_PYTHON):

    python tests/support/djangoctl.py catalog PROJECT_DIR --db sqlite|postgres
    python tests/support/djangoctl.py check   PROJECT_DIR [--db sqlite|postgres]
    python tests/support/djangoctl.py migrate PROJECT_DIR --db sqlite|postgres
    python tests/support/djangoctl.py makemigrations PROJECT_DIR
    python tests/support/djangoctl.py sqlmigrate PROJECT_DIR --db sqlite|postgres APP MIGRATION

Options: --settings MODULE (default: read from manage.py), --keep (keep the
temporary database and settings, print where they are), -v (echo Django's
output to stderr for `catalog` too).

PROJECT_DIR holds manage.py. The project is never edited (except by
`makemigrations`, which exists to write its migrations): a generated
settings module `ixray_test_settings` in a temporary directory does
`from <project settings> import *` and points DATABASES["default"] at a fresh
SQLite file or a fresh PostgreSQL database (named ixray_<pid>_<random>, on
IXRAY_PG_HOST / IXRAY_PG_PORT / IXRAY_PG_USER [/ IXRAY_PG_PASSWORD], defaults
127.0.0.1 / 54329 / postgres), which is dropped at the end, even on failure.
Django runs as `python manage.py ...` subprocesses with the project dir as cwd,
the temp dir on PYTHONPATH and DJANGO_SETTINGS_MODULE=ixray_test_settings.

Commands and exit codes:

  catalog  migrate (all apps), then print ONE JSON object on stdout:
             {"db": "sqlite"|"postgres",
              "foreign_keys": [{"table", "columns": [..], "ref_table",
                                "ref_columns": [..], "indexed": bool,
                                "index": name|null}, ...],
              "indexes": [{"table", "name", "columns": [..], "include": [..],
                           "unique": bool, "primary": bool, "partial": bool,
                           "predicate": str|null, "method": "btree"|...}, ...]}
           both lists sorted by table, then columns (then ref_table / name).
           All tables are listed, Django's own included. In "columns" an
           expression key column is null. On SQLite a table whose primary key
           is a single INTEGER column (a rowid alias, which has no entry in
           index_list) gets a pseudo-index named "<rowid>" (unique, primary).
           0 = printed; 1 = migrate failed (its output on stderr).
  check    manage.py makemigrations --check --dry-run --noinput; Django's
           output is passed through. 0 = no changes; 1 = changes would be
           made; 3 = Django failed some other way (e.g. a model import error).
  migrate  manage.py migrate --noinput on a fresh database, then
           manage.py check --database default (system checks). Output passed
           through. 0 = both succeeded; 1 = either failed.

  makemigrations
           manage.py makemigrations --noinput: writes the migrations the
           models need into the project (tests use it to make a generated
           project's history). Output passed through. 0 = written (or none
           needed); 1 = Django failed.

  sqlmigrate
           manage.py sqlmigrate APP MIGRATION on a fresh database: the SQL
           the migration runs (nothing is migrated). Output passed through.
           0 = printed; 1 = Django failed.

  Any command: 2 = bad usage; 3 = environment error (Django or psycopg not
  importable, PostgreSQL unreachable, no manage.py / settings module).

The coverage rule ("indexed", in catalog.py), from the catalog alone: a foreign
key on the n columns C of table T is indexed when some index I on T has
  1. access method btree (or hash when n == 1);
  2. first n key columns that are plain columns (not expressions) whose set
     equals C (order within that prefix does not matter; INCLUDE columns are
     not key columns);
  3. no predicate, or a predicate made only of `<col> IS NOT NULL` conjuncts
     on columns of C.
PRIMARY KEY and UNIQUE constraint indexes count. "index" is the name of the
first covering index in name order, or null.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

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

# --------------------------------------------------------------------------
# Project and settings
# --------------------------------------------------------------------------

SETTINGS_RE = re.compile(
    r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z_][\w.]*)['"]"""
)


def settings_module_of(project: Path) -> str:
    manage = project / "manage.py"
    if not manage.is_file():
        raise EnvError(f"{manage} not found: not a Django project root")
    m = SETTINGS_RE.search(manage.read_text(encoding="utf-8"))
    if not m:
        raise EnvError(
            f"{manage}: no DJANGO_SETTINGS_MODULE default found; pass --settings"
        )
    return m.group(1)


def write_settings(tmp: Path, base_module: str, database: dict) -> None:
    text = (
        "# Generated by ixray's tests/support/djangoctl.py; not part of the project.\n"
        f"from {base_module} import *  # noqa: F401,F403\n"
        f"import {base_module} as _ixray_base\n"
        "\n"
        "DATABASES = dict(getattr(_ixray_base, 'DATABASES', {}))\n"
        f"DATABASES['default'] = {database!r}\n"
    )
    (tmp / "ixray_test_settings.py").write_text(text, encoding="utf-8")


def django_database(db: Database) -> dict:
    if db.kind == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": db.name}
    p = pg_params()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db.name,
        "USER": p["user"],
        "PASSWORD": p["password"],
        "HOST": p["host"],
        "PORT": str(p["port"]),
    }


# --------------------------------------------------------------------------
# Running manage.py
# --------------------------------------------------------------------------


class Runner:
    def __init__(self, project: Path, tmp: Path):
        self.project = project
        self.env = dict(os.environ)
        self.env["DJANGO_SETTINGS_MODULE"] = "ixray_test_settings"
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(tmp), str(project), os.environ.get("PYTHONPATH", "")] if p
        )
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env["PYTHONUNBUFFERED"] = "1"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
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
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def passthrough(res: subprocess.CompletedProcess) -> None:
    show(res.stdout, res.stderr)


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def cmd_catalog(runner: Runner, db: Database, verbose: bool) -> int:
    res = runner.run("migrate", "--noinput")
    if res.returncode != 0:
        passthrough_to_stderr(res)
        eprint(f"djangoctl: migrate failed (exit {res.returncode})")
        return EXIT_FAILED
    if verbose:
        passthrough_to_stderr(res)
    fks, indexes = read_catalog(db.kind, db.name)
    json.dump(build_catalog(db.kind, fks, indexes), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def passthrough_to_stderr(res: subprocess.CompletedProcess) -> None:
    show_on_stderr(res.stdout, res.stderr)


def cmd_check(runner: Runner) -> int:
    res = runner.run("makemigrations", "--check", "--dry-run", "--noinput")
    passthrough(res)
    if res.returncode == 0:
        return EXIT_OK
    if res.returncode == 1 and "Migrations for " in res.stdout and "Traceback" not in res.stderr:
        return EXIT_FAILED
    eprint(f"djangoctl: makemigrations failed (exit {res.returncode}) without reporting changes")
    return EXIT_ENV


def cmd_migrate(runner: Runner) -> int:
    res = runner.run("migrate", "--noinput")
    passthrough(res)
    if res.returncode != 0:
        eprint(f"djangoctl: migrate failed (exit {res.returncode})")
        return EXIT_FAILED
    res = runner.run("check", "--database", "default")
    passthrough(res)
    if res.returncode != 0:
        eprint(f"djangoctl: manage.py check failed (exit {res.returncode})")
        return EXIT_FAILED
    return EXIT_OK


def cmd_makemigrations(runner: Runner) -> int:
    res = runner.run("makemigrations", "--noinput")
    passthrough(res)
    if res.returncode != 0:
        eprint(f"djangoctl: makemigrations failed (exit {res.returncode})")
        return EXIT_FAILED
    return EXIT_OK


def cmd_sqlmigrate(runner: Runner, app: str, migration: str) -> int:
    res = runner.run("sqlmigrate", app, migration)
    passthrough(res)
    if res.returncode != 0:
        eprint(f"djangoctl: sqlmigrate failed (exit {res.returncode})")
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="djangoctl.py",
        description="Run a Django project's migrations on a throwaway database "
        "and report what the database ends up with.",
    )
    parser.add_argument(
        "command", choices=["catalog", "check", "migrate", "makemigrations", "sqlmigrate"]
    )
    parser.add_argument("project_dir", type=Path)
    parser.add_argument("app", nargs="?", help="sqlmigrate: the app label")
    parser.add_argument("migration", nargs="?", help="sqlmigrate: the migration name")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--settings", help="settings module (default: from manage.py)")
    parser.add_argument("--keep", action="store_true", help="keep the temp DB and settings")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "sqlmigrate" and not (args.app and args.migration):
        parser.error("sqlmigrate needs APP and MIGRATION")

    # Let SIGTERM unwind like Ctrl-C so the database still gets dropped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    try:
        try:
            import django  # noqa: F401, PLC0415
        except ImportError as e:
            raise EnvError(
                f"Django is not importable with {sys.executable}: {e} "
                "(run scripts/test to build the venv)"
            ) from e
        project = args.project_dir.resolve()
        base = args.settings or settings_module_of(project)
        tmp = Path(tempfile.mkdtemp(prefix="ixray-djangoctl-"))
        try:
            with Database(args.db, tmp, args.keep, "djangoctl") as db:
                write_settings(tmp, base, django_database(db))
                runner = Runner(project, tmp)
                if args.command == "catalog":
                    return cmd_catalog(runner, db, args.verbose)
                if args.command == "check":
                    return cmd_check(runner)
                if args.command == "makemigrations":
                    return cmd_makemigrations(runner)
                if args.command == "sqlmigrate":
                    return cmd_sqlmigrate(runner, args.app, args.migration)
                return cmd_migrate(runner)
        finally:
            if args.keep:
                eprint(f"djangoctl: kept {tmp} (settings module ixray_test_settings)")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    except EnvError as e:
        eprint(f"djangoctl: error: {e}")
        return EXIT_ENV
    except KeyboardInterrupt:
        eprint("djangoctl: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
