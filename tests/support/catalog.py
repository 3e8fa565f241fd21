"""Shared by ixray's database test harnesses (djangoctl.py, alembicctl.py,
drizzlectl.py).

Throwaway databases (a SQLite file in a temp dir, or a PostgreSQL database
named ixray_<pid>_<random> on IXRAY_PG_HOST / IXRAY_PG_PORT / IXRAY_PG_USER
[/ IXRAY_PG_PASSWORD], defaults 127.0.0.1 / 54329 / postgres, dropped at the
end even on failure), the catalog readers and the coverage rule.

The catalog is ONE JSON object:

    {"db": "sqlite"|"postgres",
     "foreign_keys": [{"table", "columns": [..], "ref_table",
                       "ref_columns": [..], "indexed": bool,
                       "index": name|null}, ...],
     "indexes": [{"table", "name", "columns": [..], "include": [..],
                  "unique": bool, "primary": bool, "partial": bool,
                  "predicate": str|null, "method": "btree"|...}, ...]}

both lists sorted by table, then columns (then ref_table / name). In
"columns" an expression key column is null. On PostgreSQL only the `public`
schema is read unless the caller asks for every schema (drizzlectl: all but
the system schemas and the ones it excludes); then "table" and "ref_table"
of a table outside `public` are qualified, "billing.invoices", and those of
a `public` table stay bare, so the output for a public-only database is the
same either way. On SQLite a table whose primary
key is a single INTEGER column (a rowid alias, which has no entry in
index_list) gets a pseudo-index named "<rowid>" (unique, primary).

The coverage rule ("indexed"): a foreign key on the n columns C of table T is
indexed when some index I on T has
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

import os
import re
import secrets
import sqlite3
import sys
from pathlib import Path

ROWID_INDEX = "<rowid>"


class EnvError(Exception):
    """The harness cannot do its job (exit code 3)."""


def eprint(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def show(out: str, err: str) -> None:
    """Pass a finished command's output through, each stream to its own."""
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()


def show_on_stderr(out: str, err: str) -> None:
    """A finished command's output, both streams on stderr (diagnostics)."""
    if out:
        sys.stderr.write(out)
    if err:
        sys.stderr.write(err)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Throwaway databases
# --------------------------------------------------------------------------

def pg_params() -> dict:
    return {
        "host": os.environ.get("IXRAY_PG_HOST") or "127.0.0.1",
        "port": int(os.environ.get("IXRAY_PG_PORT") or "54329"),
        "user": os.environ.get("IXRAY_PG_USER") or "postgres",
        "password": os.environ.get("IXRAY_PG_PASSWORD") or "",
    }


def import_psycopg():
    try:
        import psycopg  # noqa: PLC0415
    except ImportError as e:
        raise EnvError(
            f"psycopg is not importable with {sys.executable}: {e} "
            "(run scripts/test to build the venv)"
        ) from e
    return psycopg


def pg_connect(dbname: str):
    psycopg = import_psycopg()
    p = pg_params()
    try:
        return psycopg.connect(
            host=p["host"],
            port=p["port"],
            user=p["user"],
            password=p["password"] or None,
            dbname=dbname,
            connect_timeout=10,
            autocommit=True,
        )
    except psycopg.OperationalError as e:
        raise EnvError(
            f"cannot connect to PostgreSQL at {p['host']}:{p['port']} as {p['user']}: "
            f"{str(e).strip()} (scripts/test starts the test server)"
        ) from e


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Database:
    """A throwaway database: created on enter, dropped on exit.

    `name` is the SQLite file path or the PostgreSQL database name; `prog`
    prefixes the harness's messages on stderr.
    """

    def __init__(self, kind: str, tmp: Path, keep: bool, prog: str):
        self.kind = kind
        self.tmp = tmp
        self.keep = keep
        self.prog = prog
        self.name = ""
        self.created = False

    def __enter__(self) -> "Database":
        if self.kind == "sqlite":
            self.name = str(self.tmp / "db.sqlite3")
            return self
        self.name = f"ixray_{os.getpid()}_{secrets.token_hex(4)}"
        with pg_connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {quote_ident(self.name)}")
        self.created = True
        return self

    def __exit__(self, *exc) -> None:
        if not self.created:
            return
        if self.keep:
            eprint(f"{self.prog}: kept PostgreSQL database {self.name}")
            return
        try:
            with pg_connect("postgres") as conn:
                conn.execute(
                    f"DROP DATABASE IF EXISTS {quote_ident(self.name)} WITH (FORCE)"
                )
        except Exception as e:  # never mask the real error
            eprint(f"{self.prog}: warning: could not drop database {self.name}: {e}")


# --------------------------------------------------------------------------
# Catalog readers
# --------------------------------------------------------------------------

# {where} is a condition on n.nspname (the table's schema), PUBLIC_ONLY or
# ALL_USER_SCHEMAS (a psycopg query with parameters: % doubled); both queries
# return the schema names next to the table names.
PG_FOREIGN_KEYS = """
SELECT n.nspname,
       t.relname,
       ARRAY(SELECT a.attname
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord)::text[],
       rn.nspname,
       rt.relname,
       ARRAY(SELECT a.attname
               FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord)::text[]
  FROM pg_constraint con
  JOIN pg_class t ON t.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_class rt ON rt.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rt.relnamespace
 WHERE con.contype = 'f' AND {where}
"""

PG_INDEXES = """
SELECT n.nspname,
       t.relname,
       i.relname,
       ARRAY(SELECT CASE WHEN k.attnum = 0 THEN NULL ELSE a.attname::text END
               FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
              ORDER BY k.ord)::text[],
       ix.indnkeyatts,
       ix.indisunique,
       ix.indisprimary,
       am.amname,
       pg_get_expr(ix.indpred, ix.indrelid)
  FROM pg_index ix
  JOIN pg_class i ON i.oid = ix.indexrelid
  JOIN pg_class t ON t.oid = ix.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_am am ON am.oid = i.relam
 WHERE {where}
"""

PUBLIC_ONLY = "n.nspname = 'public'"
# Every user schema: not pg_catalog, information_schema, pg_toast, pg_temp_N...
ALL_USER_SCHEMAS = (
    "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'"
    " AND NOT (n.nspname = ANY(%(exclude)s))"
)


def pg_table_name(schema: str, table: str) -> str:
    """`table` in `public`, `schema.table` elsewhere."""
    return table if schema == "public" else f"{schema}.{table}"


def catalog_postgres(
    dbname: str, exclude_schemas: list[str] | None = None
) -> tuple[list[dict], list[dict]]:
    """Read the `public` schema, or with `exclude_schemas` (a list, possibly
    empty) every user schema except those."""
    if exclude_schemas is None:
        where, params = PUBLIC_ONLY, None
    else:
        where, params = ALL_USER_SCHEMAS, {"exclude": list(exclude_schemas)}
    with pg_connect(dbname) as conn:
        fks = [
            {
                "table": pg_table_name(schema, table),
                "columns": list(cols),
                "ref_table": pg_table_name(ref_schema, ref_table),
                "ref_columns": list(ref_cols),
            }
            for schema, table, cols, ref_schema, ref_table, ref_cols in conn.execute(
                PG_FOREIGN_KEYS.format(where=where), params
            )
        ]
        indexes = []
        for schema, table, name, cols, nkey, unique, primary, method, pred in conn.execute(
            PG_INDEXES.format(where=where), params
        ):
            cols = list(cols)
            indexes.append(
                {
                    "table": pg_table_name(schema, table),
                    "name": name,
                    "columns": cols[:nkey],
                    "include": cols[nkey:],
                    "unique": bool(unique),
                    "primary": bool(primary),
                    "partial": pred is not None,
                    "predicate": pred,
                    "method": method,
                }
            )
    return fks, indexes


WHERE_RE = re.compile(r"\bWHERE\b(.*)\Z", re.IGNORECASE | re.DOTALL)


def catalog_sqlite(path: str) -> tuple[list[dict], list[dict]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        index_sql = dict(
            conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            ).fetchall()
        )
        fks: list[dict] = []
        indexes: list[dict] = []
        for table in tables:
            # cid, name, type, notnull, dflt_value, pk
            info = conn.execute("SELECT * FROM pragma_table_info(?)", (table,)).fetchall()
            pk_cols = [r for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]

            # id, seq, table, from, to, on_update, on_delete, match
            groups: dict[int, list] = {}
            for row in conn.execute(
                "SELECT * FROM pragma_foreign_key_list(?)", (table,)
            ).fetchall():
                groups.setdefault(row[0], []).append(row)
            for rows in groups.values():
                rows.sort(key=lambda r: r[1])
                ref_table = rows[0][2]
                ref_cols = [r[4] for r in rows]
                if any(c is None for c in ref_cols):  # implicit: the parent's PK
                    parent = conn.execute(
                        "SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
                        (ref_table,),
                    ).fetchall()
                    ref_cols = [r[0] for r in parent]
                fks.append(
                    {
                        "table": table,
                        "columns": [r[3] for r in rows],
                        "ref_table": ref_table,
                        "ref_columns": ref_cols,
                    }
                )

            if len(pk_cols) == 1 and pk_cols[0][2].strip().lower() == "integer":
                indexes.append(
                    {
                        "table": table,
                        "name": ROWID_INDEX,
                        "columns": [pk_cols[0][1]],
                        "include": [],
                        "unique": True,
                        "primary": True,
                        "partial": False,
                        "predicate": None,
                        "method": "btree",
                    }
                )

            # seq, name, unique, origin, partial
            for _, name, unique, origin, partial in conn.execute(
                "SELECT * FROM pragma_index_list(?)", (table,)
            ).fetchall():
                # seqno, cid, name, desc, coll, key
                xinfo = conn.execute(
                    "SELECT * FROM pragma_index_xinfo(?) ORDER BY seqno", (name,)
                ).fetchall()
                cols = [None if r[1] == -2 else r[2] for r in xinfo if r[5] == 1]
                predicate = None
                if partial:
                    m = WHERE_RE.search(index_sql.get(name) or "")
                    predicate = m.group(1).strip() if m else ""
                indexes.append(
                    {
                        "table": table,
                        "name": name,
                        "columns": cols,
                        "include": [],
                        "unique": bool(unique),
                        "primary": origin == "pk",
                        "partial": bool(partial),
                        "predicate": predicate,
                        "method": "btree",
                    }
                )
    finally:
        conn.close()
    return fks, indexes


# --------------------------------------------------------------------------
# The coverage rule
# --------------------------------------------------------------------------

IS_NOT_NULL_RE = re.compile(r"^(?:[a-z_][a-z0-9_$]*\.)?([a-z_][a-z0-9_$]*) is not null$")


def predicate_only_not_null_on(predicate: str, columns: set[str]) -> bool:
    """True when the predicate is a conjunction of `<col> IS NOT NULL` on `columns`."""
    text = predicate.lower()
    text = re.sub(r'["`\[\]()]', " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r" ?\. ?", ".", text)
    if not text:
        return False
    for conjunct in re.split(r"\band\b", text):
        m = IS_NOT_NULL_RE.match(conjunct.strip())
        if not m or m.group(1) not in columns:
            return False
    return True


def covers(index: dict, fk_columns: list[str]) -> bool:
    n = len(fk_columns)
    method = index["method"]
    if not (method == "btree" or (method == "hash" and n == 1)):
        return False
    prefix = index["columns"][:n]
    if len(prefix) < n or any(c is None for c in prefix):
        return False
    if {c.lower() for c in prefix} != {c.lower() for c in fk_columns}:
        return False
    if index["predicate"] is not None and not predicate_only_not_null_on(
        index["predicate"], {c.lower() for c in fk_columns}
    ):
        return False
    return True


def build_catalog(kind: str, fks: list[dict], indexes: list[dict]) -> dict:
    by_table: dict[str, list[dict]] = {}
    for ix in indexes:
        by_table.setdefault(ix["table"], []).append(ix)
    out_fks = []
    for fk in fks:
        covering = sorted(
            ix["name"] for ix in by_table.get(fk["table"], []) if covers(ix, fk["columns"])
        )
        out_fks.append(
            {
                "table": fk["table"],
                "columns": fk["columns"],
                "ref_table": fk["ref_table"],
                "ref_columns": fk["ref_columns"],
                "indexed": bool(covering),
                "index": covering[0] if covering else None,
            }
        )
    out_fks.sort(key=lambda f: (f["table"], f["columns"], f["ref_table"]))
    indexes = sorted(
        indexes,
        key=lambda i: (i["table"], [c if c is not None else "" for c in i["columns"]], i["name"]),
    )
    return {"db": kind, "foreign_keys": out_fks, "indexes": indexes}


def read_catalog(
    kind: str, name: str, pg_exclude_schemas: list[str] | None = None
) -> tuple[list[dict], list[dict]]:
    """(foreign keys, indexes) of the SQLite file / PostgreSQL database `name`.

    PostgreSQL: only the `public` schema by default; with `pg_exclude_schemas`
    (a list, possibly empty) every user schema except those, tables outside
    `public` named `schema.table`.
    """
    if kind == "sqlite":
        return catalog_sqlite(name)
    return catalog_postgres(name, pg_exclude_schemas)
