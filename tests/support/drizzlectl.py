#!/usr/bin/env python3
"""Drive a real Drizzle project (drizzle-kit 0.x) for ixray's end-to-end tests.

Usage (with the test venv's python, $IXRAY_PYTHON):

    python tests/support/drizzlectl.py catalog        PROJECT_DIR --db sqlite|postgres
    python tests/support/drizzlectl.py migrate        PROJECT_DIR --db sqlite|postgres
    python tests/support/drizzlectl.py check          PROJECT_DIR --db sqlite|postgres
    python tests/support/drizzlectl.py generate       PROJECT_DIR
    python tests/support/drizzlectl.py generate-check PROJECT_DIR
    python tests/support/drizzlectl.py tsc            PROJECT_DIR

Options: --db (default: from the `dialect: "..."` written in the config,
postgresql -> postgres, sqlite/turso -> sqlite; a --db that contradicts it is
bad usage), --keep (keep the temporary database and directory, print where
they are), -v (echo drizzle-kit's output to stderr for `catalog` too).

PROJECT_DIR holds drizzle.config.ts (or .js/.mjs/.cjs/.mts/.cts); `tsc` needs
PROJECT_DIR/tsconfig.json instead. drizzle-kit and tsc come from the Node
modules in $IXRAY_NODE_MODULES, else <repo>/node_modules (both made by
scripts/test with `npm ci`), and run as `node <modules>/drizzle-kit/bin.cjs
...` / `node <modules>/typescript/bin/tsc ...` with PROJECT_DIR as cwd and
stdin from /dev/null (drizzle-kit cannot prompt, e.g. about renames: it
prints an error instead). The project's config must read its URL from
DATABASE_URL (`url: process.env.DATABASE_URL ?? "..."`); the harness sets it
to a fresh database: `file:<tmp>/db.sqlite3` (libsql), or
postgres://USER@HOST:PORT/ixray_<pid>_<random> on IXRAY_PG_HOST /
IXRAY_PG_PORT / IXRAY_PG_USER [/ IXRAY_PG_PASSWORD] (defaults 127.0.0.1 /
54329 / postgres), dropped at the end, even on failure.

Node resolves "drizzle-orm" / "drizzle-kit" (and tsc its types) by walking up
from the project. When that walk would not reach the modules above (a copy of
a fixture in /tmp, say), PROJECT_DIR/node_modules is made a symlink to them
for the duration of the command and removed afterwards, so the project tree
is the same after every command; an existing PROJECT_DIR/node_modules is
used as it is and never removed. Concurrent commands on one PROJECT_DIR
share the symlink (flock on PROJECT_DIR and its parent counts them; no lock
files). Nothing else is written into PROJECT_DIR (except by `generate`, whose
job it is): `generate-check` works on a temporary copy.

Commands and exit codes:

  catalog         `drizzle-kit migrate` on a fresh database, then print ONE
                  JSON object on stdout, exactly as `alembicctl.py catalog`
                  does (shape, sorting, the "<rowid>" pseudo-index on SQLite,
                  the coverage rule for "indexed": see
                  tests/support/catalog.py), for every table except
                  drizzle-kit's own `__drizzle_migrations` (on PostgreSQL the
                  whole `drizzle` schema it lives in is left out). On
                  PostgreSQL every user schema is read: a table outside
                  `public` is named "schema.table" ("billing.invoices"),
                  a `public` one by its bare name.
                  0 = printed; 1 = migrate failed (drizzle-kit's output on
                  stderr).
  migrate         `drizzle-kit migrate` on a fresh database; output passed
                  through. 0 = succeeded; 1 = failed.
  generate        `drizzle-kit generate` in PROJECT_DIR itself, to make a
                  project's migration history (the config's `out` folder);
                  no database. Output passed through. 0 = it wrote a
                  migration; 1 = it reported "No schema changes, nothing to
                  migrate"; 3 = anything else (as for generate-check).
  generate-check  copy PROJECT_DIR (without node_modules) to a temp dir and
                  run `drizzle-kit generate` there; no database. drizzle-kit's
                  output goes to stderr; stdout gets only the SQL files the
                  run created, each after a line `-- new file: <path>`.
                  0 = "No schema changes, nothing to migrate"; 1 = it wrote a
                  new migration (schema and migrations disagree); 3 =
                  anything else (a schema that does not load, a rename that
                  would need a prompt, ...; drizzle-kit exits 0 for some of
                  these, so its exit code is not trusted).
  check           `migrate`, then `generate-check`. 0 = both fine; 1 =
                  generate wrote a migration (SQL on stdout, as above); 3 =
                  migrate or generate failed otherwise.
  tsc             `tsc --noEmit -p PROJECT_DIR --pretty false`; output passed
                  through. 0 = no errors; 1 = errors.

  Any command: 2 = bad usage; 3 = environment error (node, drizzle-kit,
  typescript or psycopg missing, PostgreSQL unreachable, no drizzle config /
  tsconfig.json, a database command on a mysql project, a timeout).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
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
EXIT_USAGE = 2
EXIT_ENV = 3

PROG = "drizzlectl"
REPO = Path(__file__).resolve().parents[2]
MIGRATIONS_TABLE = "__drizzle_migrations"
MIGRATIONS_SCHEMA = "drizzle"  # drizzle-kit's default on PostgreSQL
CONFIG_NAMES = [
    f"drizzle.config.{ext}" for ext in ("ts", "js", "mjs", "cjs", "mts", "cts", "json")
]
NO_CHANGES = "No schema changes, nothing to migrate"
TIMEOUT = 300  # seconds, per drizzle-kit / tsc run


# --------------------------------------------------------------------------
# Node modules
# --------------------------------------------------------------------------


def node_modules() -> Path:
    env = os.environ.get("IXRAY_NODE_MODULES")
    nm = Path(env) if env else REPO / "node_modules"
    if not nm.is_dir():
        raise EnvError(
            f"no Node modules at {nm} "
            f"({'IXRAY_NODE_MODULES' if env else 'run scripts/test, which runs npm ci'})"
        )
    return nm.resolve()


def node_exe() -> str:
    node = shutil.which("node")
    if node is None:
        raise EnvError("node is not on PATH (scripts/test installs Node.js)")
    return node


def tool(nm: Path, rel: str) -> Path:
    path = nm / rel
    if not path.is_file():
        raise EnvError(f"{path} not found (run scripts/test, which runs npm ci)")
    return path


def first_node_modules_above(directory: Path) -> Path | None:
    """The node_modules directory Node's upward walk from `directory` meets
    first, not counting `directory` itself."""
    for d in directory.parents:
        candidate = d / "node_modules"
        if candidate.is_dir():
            return candidate.resolve()
    return None


class ModulesLink:
    """PROJECT_DIR/node_modules -> the Node modules, while the command runs.

    Not made when the project has no node_modules of its own and the first
    node_modules above it is ours (the fixtures inside the checkout). Else
    an existing entry is used as it is; a missing one is created, and the
    last of the concurrent commands on this project removes it again.

    Nothing but the link is ever written: the link's target, "<modules>/.",
    marks it as the harness's, and the bookkeeping is done with flock(2) on
    directories: every command holds a shared lock on PROJECT_DIR while it
    runs, and checks / creates / removes the link under an exclusive lock on
    PROJECT_DIR's parent. Whoever leaves and then gets PROJECT_DIR's lock
    exclusively (without waiting) is the last one out.
    """

    def __init__(self, project: Path, nm: Path):
        self.project = project
        self.link = project / "node_modules"
        self.target = os.path.join(str(nm), ".")
        self.needed = not (
            not os.path.lexists(self.link) and first_node_modules_above(project) == nm
        )
        self.users = -1  # fd of PROJECT_DIR, shared lock held while in use
        self.mutex = -1  # fd of the parent directory

    def ours(self) -> bool:
        return self.link.is_symlink() and os.readlink(self.link) == self.target

    def __enter__(self) -> "ModulesLink":
        if not self.needed:
            return self
        self.mutex = os.open(self.project.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(self.mutex, fcntl.LOCK_EX)
            self.users = os.open(self.project, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self.users, fcntl.LOCK_SH)
            if not os.path.lexists(self.link):
                os.symlink(self.target, self.link, target_is_directory=True)
        except OSError as e:
            self.close()
            raise EnvError(f"cannot create {self.link} -> {self.target}: {e}") from e
        fcntl.flock(self.mutex, fcntl.LOCK_UN)
        return self

    def __exit__(self, *exc) -> None:
        if self.users < 0:
            return
        try:
            fcntl.flock(self.mutex, fcntl.LOCK_EX)
            fcntl.flock(self.users, fcntl.LOCK_UN)
            try:
                fcntl.flock(self.users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another command still uses the link
            if self.ours():
                self.link.unlink()
        finally:
            self.close()

    def close(self) -> None:
        for fd in (self.users, self.mutex):
            if fd >= 0:
                os.close(fd)  # releases its locks
        self.users = self.mutex = -1


# --------------------------------------------------------------------------
# Running drizzle-kit and tsc
# --------------------------------------------------------------------------


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code = code
        self.out = out
        self.err = err

    def passthrough(self) -> None:
        show(self.out, self.err)

    def to_stderr(self) -> None:
        show_on_stderr(self.out, self.err)


def run(argv: list[str], cwd: Path, env: dict, what: str) -> Run:
    # Own process group: a timeout or Ctrl-C also stops esbuild's service.
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except BaseException as e:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        if isinstance(e, subprocess.TimeoutExpired):
            Run(proc.returncode, out, err).to_stderr()
            raise EnvError(f"{what} did not finish within {TIMEOUT} s") from e
        raise
    return Run(proc.returncode, out, err)


def kit_env(url: str | None) -> dict:
    env = dict(os.environ)
    env.pop("TEST_CONFIG_PATH_PREFIX", None)  # drizzle-kit prefixes schema globs with it
    env["FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"
    if url is not None:
        env["DATABASE_URL"] = url
    return env


class Kit:
    def __init__(self, project: Path, nm: Path):
        self.project = project
        self.nm = nm
        self.node = node_exe()
        self.bin = tool(nm, "drizzle-kit/bin.cjs")

    def __call__(self, *args: str, url: str | None = None, cwd: Path | None = None) -> Run:
        return run(
            [self.node, str(self.bin), *args],
            cwd or self.project,
            kit_env(url),
            f"drizzle-kit {' '.join(args)}",
        )


def database_url(db: Database) -> str:
    if db.kind == "sqlite":
        return "file:" + db.name
    p = pg_params()
    auth = quote(p["user"], safe="")
    if p["password"]:
        auth += ":" + quote(p["password"], safe="")
    return f"postgres://{auth}@{p['host']}:{p['port']}/{quote(db.name, safe='')}"


def find_config(project: Path) -> Path:
    for name in CONFIG_NAMES:
        if (project / name).is_file():
            return project / name
    raise EnvError(f"no drizzle.config.ts (or .js, ...) in {project}: not a drizzle-kit project")


DIALECT_RE = re.compile(r"""\bdialect\s*:\s*["'`]([a-z]+)["'`]""")
DB_OF_DIALECT = {"postgresql": "postgres", "sqlite": "sqlite", "turso": "sqlite"}


def config_dialect(config: Path) -> str | None:
    """The `dialect: "..."` literal written in the config, if there is one."""
    m = DIALECT_RE.search(config.read_text(encoding="utf-8", errors="replace"))
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def migrate(kit: Kit, db: Database) -> Run:
    return kit("migrate", url=database_url(db))


def is_own_table(table: str) -> bool:
    return table.rsplit(".", 1)[-1] == MIGRATIONS_TABLE


def cmd_catalog(kit: Kit, db: Database, verbose: bool) -> int:
    res = migrate(kit, db)
    if res.code != 0:
        res.to_stderr()
        eprint(f"{PROG}: drizzle-kit migrate failed (exit {res.code})")
        return EXIT_FAILED
    if verbose:
        res.to_stderr()
    fks, indexes = read_catalog(db.kind, db.name, pg_exclude_schemas=[MIGRATIONS_SCHEMA])
    fks = [f for f in fks if not is_own_table(f["table"])]
    indexes = [i for i in indexes if not is_own_table(i["table"])]
    json.dump(build_catalog(db.kind, fks, indexes), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_migrate(kit: Kit, db: Database) -> int:
    res = migrate(kit, db)
    res.passthrough()
    if res.code != 0:
        eprint(f"{PROG}: drizzle-kit migrate failed (exit {res.code})")
        return EXIT_FAILED
    return EXIT_OK


def tree_files(root: Path) -> set[Path]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "node_modules"]
        for f in filenames:
            out.add(Path(dirpath, f).relative_to(root))
    return out


def cmd_generate_check(kit: Kit, tmp: Path) -> int:
    copy = tmp / "project"
    shutil.copytree(
        kit.project,
        copy,
        symlinks=True,
        ignore=shutil.ignore_patterns("node_modules"),
    )
    before = tree_files(copy)
    # The copy is ours alone and goes away with tmp: a plain symlink will do.
    (copy / "node_modules").symlink_to(kit.nm, target_is_directory=True)
    res = kit("generate", cwd=copy)
    res.to_stderr()
    new_sql = sorted(p for p in tree_files(copy) - before if p.suffix == ".sql")
    if res.code == 0 and new_sql:
        for rel in new_sql:
            sys.stdout.write(f"-- new file: {rel}\n")
            text = (copy / rel).read_text(encoding="utf-8")
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        eprint(f"{PROG}: drizzle-kit generate wrote {len(new_sql)} new migration file(s)")
        return EXIT_FAILED
    if res.code == 0 and NO_CHANGES in res.out:
        return EXIT_OK
    eprint(
        f"{PROG}: drizzle-kit generate (exit {res.code}) neither reported "
        f'"{NO_CHANGES}" nor wrote a migration'
    )
    return EXIT_ENV


def cmd_generate(kit: Kit) -> int:
    before = tree_files(kit.project)
    res = kit("generate")
    res.passthrough()
    new_sql = [p for p in tree_files(kit.project) - before if p.suffix == ".sql"]
    if res.code == 0 and new_sql:
        return EXIT_OK
    if res.code == 0 and NO_CHANGES in res.out:
        return EXIT_FAILED
    eprint(
        f"{PROG}: drizzle-kit generate (exit {res.code}) neither wrote a migration nor "
        f'reported "{NO_CHANGES}"'
    )
    return EXIT_ENV


def cmd_check(kit: Kit, db: Database, tmp: Path) -> int:
    res = migrate(kit, db)
    res.passthrough()
    if res.code != 0:
        eprint(f"{PROG}: drizzle-kit migrate failed (exit {res.code})")
        return EXIT_ENV
    return cmd_generate_check(kit, tmp)


def cmd_tsc(project: Path, nm: Path) -> int:
    if not (project / "tsconfig.json").is_file():
        raise EnvError(f"no tsconfig.json in {project}")
    tsc = tool(nm, "typescript/bin/tsc")
    res = run(
        [node_exe(), str(tsc), "--noEmit", "-p", ".", "--pretty", "false"],
        project,
        dict(os.environ),
        "tsc",
    )
    res.passthrough()
    return EXIT_OK if res.code == 0 else EXIT_FAILED


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="drizzlectl.py",
        description="Run a Drizzle project's drizzle-kit migrations on a throwaway database "
        "and report what the database ends up with.",
    )
    parser.add_argument(
        "command", choices=["catalog", "migrate", "check", "generate", "generate-check", "tsc"]
    )
    parser.add_argument("project_dir", type=Path)
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres"],
        help="default: from the config's dialect (postgresql: postgres, sqlite/turso: sqlite)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp DB and directory")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)  # exits 2 on bad usage

    # Let SIGTERM unwind like Ctrl-C so the database still gets dropped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    try:
        project = args.project_dir.resolve()
        if not project.is_dir():
            eprint(f"{PROG}: error: {args.project_dir} is not a directory")
            return EXIT_USAGE
        nm = node_modules()
        if args.command == "tsc":
            with ModulesLink(project, nm):
                return cmd_tsc(project, nm)
        dialect = config_dialect(find_config(project))
        if args.command not in ("generate", "generate-check"):
            want = DB_OF_DIALECT.get(dialect or "")
            if dialect is not None and want is None:
                raise EnvError(
                    f"dialect {dialect!r}: the harness has no {dialect} server "
                    "(only generate-check and tsc work for this project)"
                )
            if args.db is None:
                args.db = want or "sqlite"
            elif want is not None and args.db != want:
                eprint(f"{PROG}: error: --db {args.db} does not fit the dialect {dialect!r}")
                return EXIT_USAGE
        kit = Kit(project, nm)
        if args.command == "generate":
            with ModulesLink(project, nm):
                return cmd_generate(kit)
        tmp = Path(tempfile.mkdtemp(prefix="ixray-drizzlectl-"))
        try:
            if args.command == "generate-check":
                return cmd_generate_check(kit, tmp)
            with Database(args.db, tmp, args.keep, PROG) as db, ModulesLink(project, nm):
                if args.command == "catalog":
                    return cmd_catalog(kit, db, args.verbose)
                if args.command == "migrate":
                    return cmd_migrate(kit, db)
                return cmd_check(kit, db, tmp)
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
