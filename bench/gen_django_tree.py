#!/usr/bin/env python3
"""Generate a large, deterministic, synthetic Django project for benchmarking ixray.

The tree looks like a big, long-lived Django monolith: ``manage.py``, a
``site/`` settings package, and N apps, each with models, migrations, views,
services, forms, serializers, admin, urls and tests, plus a few HTML
templates and static JS files so that the file walker sees non-Python files
too.

Only the Python 3.11 standard library is used.  Output depends only on the
command-line arguments (same ``--seed`` -> byte-identical tree).

Usage::

    python3 bench/gen_django_tree.py target/bench/django-tree
    python3 bench/gen_django_tree.py --apps 50 --models-per-app 5 /tmp/small-tree

The output directory is wiped and re-created, but only if it is empty or was
created by this script (it carries a ``.ixray-bench-tree`` marker file).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Bump when the shape of the generated tree changes, so that bench/run knows
# to regenerate an existing tree.
GENERATOR_VERSION = 1
MARKER = ".ixray-bench-tree"

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

DOMAINS = [
    "billing", "catalog", "orders", "inventory", "shipping", "payments", "crm",
    "support", "analytics", "notifications", "reviews", "loyalty", "pricing",
    "warehouse", "procurement", "payroll", "scheduling", "bookings", "content",
    "media", "search", "messaging", "subscriptions", "invoicing", "tax",
    "compliance", "audit", "reporting", "marketing", "campaigns", "referrals",
    "partners", "vendors", "fleet", "logistics", "returns", "claims", "ledger",
    "forecasting", "projects", "tasks", "documents", "contracts", "assets",
    "maintenance", "surveys", "events", "ticketing", "learning", "courses",
    "forum", "wiki", "integrations", "webhooks", "exports", "imports",
    "onboarding", "identity", "teams", "quotes",
]

NOUNS = [
    "Customer", "Invoice", "InvoiceLine", "Payment", "Refund", "Order",
    "OrderItem", "Product", "Category", "Supplier", "Shipment", "Parcel",
    "Warehouse", "StorageBin", "StockMove", "Address", "Contact", "Note",
    "Attachment", "Tag", "Comment", "Review", "Rating", "Coupon", "Discount",
    "PriceList", "PriceRule", "Subscription", "Plan", "Feature", "Ticket",
    "Message", "Thread", "Event", "Venue", "Booking", "TimeSlot", "Resource",
    "Team", "Membership", "Role", "Project", "Task", "Milestone", "Document",
    "Revision", "Contract", "Clause", "Asset", "WorkOrder", "Inspection",
    "Survey", "Question", "Answer", "Campaign", "Lead", "Opportunity", "Quote",
    "Vendor", "PurchaseOrder", "Receipt", "LedgerEntry", "Journal", "TaxRate",
    "Region", "Store", "Device", "AuditLog", "Notification", "Webhook",
    "Delivery", "Route", "Driver", "Vehicle", "Course", "Lesson", "Enrollment",
    "Certificate", "Report", "Schedule", "Forecast", "Batch", "Job", "Export",
    "ImportRun", "Snapshot", "Preference", "Profile", "Badge", "Reward",
    "Referral", "Claim", "Policy", "ReturnRequest", "Carrier", "Zone",
    "Channel", "Segment", "Account",
]

CORE_MODELS = ["Organization", "Workspace", "Country", "Currency", "Locale",
               "FeatureFlag", "Site", "Setting", "Holiday", "Timezone"]
ACCOUNTS_MODELS = ["User", "Profile", "Team", "Membership", "Invitation",
                   "ApiKey", "LoginAttempt", "Device", "Preference", "Role"]

STATUSES = [
    ["draft", "active", "archived"],
    ["pending", "processing", "done", "failed"],
    ["new", "open", "closed"],
    ["requested", "approved", "rejected", "cancelled"],
]

USER_FK_NAMES = ["created_by", "assigned_to", "owner", "approved_by", "reviewer"]


def snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def plural(word: str) -> str:
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy")):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def q(s: str) -> str:
    return '"' + s + '"'


def kw(items: list[tuple[str, str]], sort: bool = False) -> str:
    if sort:
        items = sorted(items)
    return ", ".join(f"{k}={v}" for k, v in items)


# ---------------------------------------------------------------------------
# Specs
# ---------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    cls: str                       # models.XField
    model_args: list[str]          # positional args in models.py
    kwargs: list[tuple[str, str]]  # kwargs in models.py order
    mig_kwargs: list[tuple[str, str]] | None = None  # defaults to kwargs
    target: tuple[str, str] | None = None  # (app_label, ModelName) or ("@user", "")
    db_index_false: bool = False
    choices: list[str] | None = None

    @property
    def column(self) -> str:
        if self.cls in ("ForeignKey", "OneToOneField"):
            return self.name + "_id"
        return self.name

    def model_src(self) -> str:
        parts = list(self.model_args) + [f"{k}={v}" for k, v in self.kwargs]
        return f"models.{self.cls}({', '.join(parts)})"

    def migration_src(self) -> str:
        items = list(self.mig_kwargs if self.mig_kwargs is not None else self.kwargs)
        return f"models.{self.cls}({kw(items, sort=True)})"


@dataclass
class Index:
    fields: list[str]
    name: str
    condition: str | None = None
    deferred: bool = False  # added by 0002 instead of 0001

    def src(self) -> str:
        items = [("fields", "[" + ", ".join(q(f) for f in self.fields) + "]"),
                 ("name", q(self.name))]
        if self.condition:
            items.insert(1, ("condition", self.condition))
        return f"models.Index({kw(items)})"


@dataclass
class Abstract:
    name: str
    module: str            # where it is defined ("core" or the app label)
    fields: list[Field]
    parent: "Abstract | None" = None

    def all_fields(self) -> list[Field]:
        base = self.parent.all_fields() if self.parent else []
        return base + self.fields


@dataclass
class Model:
    app: "App"
    name: str
    fields: list[Field] = field(default_factory=list)
    base: Abstract | None = None
    base_expr: str = "models.Model"
    ordering: list[str] | None = None
    indexes: list[Index] = field(default_factory=list)
    unique_together: list[tuple[str, ...]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    db_table: str | None = None
    verbose_name_plural: str | None = None
    special: str | None = None  # "user" for the custom user model
    has_str: bool = True

    @property
    def snake(self) -> str:
        return snake(self.name)

    @property
    def table(self) -> str:
        return self.db_table or f"{self.app.label}_{self.name.lower()}"

    def all_fields(self) -> list[Field]:
        base = self.base.all_fields() if self.base else []
        return base + self.fields

    def relations(self) -> list[Field]:
        return [f for f in self.all_fields() if f.cls in ("ForeignKey", "OneToOneField")]


@dataclass
class App:
    index: int
    label: str
    domain: str
    models: list[Model] = field(default_factory=list)
    local_abstract: Abstract | None = None
    imports: dict[str, str] = field(default_factory=dict)  # alias -> "label.Model"
    uses_settings: bool = False  # models.py mentions settings.AUTH_USER_MODEL

    @property
    def short(self) -> str:
        return f"a{self.index:04d}"


# ---------------------------------------------------------------------------
# Model graph construction
# ---------------------------------------------------------------------------


class Builder:
    def __init__(self, seed: int, n_apps: int, per_app: int):
        self.seed = seed
        self.n_apps = n_apps
        self.per_app = per_app
        self.apps: list[App] = []
        self.related_names: dict[tuple[str, str], set[str]] = {}
        self.timestamped = Abstract("TimeStampedModel", "core", [
            Field("created_at", "DateTimeField", [], [("auto_now_add", "True")]),
            Field("updated_at", "DateTimeField", [], [("auto_now", "True")]),
        ])
        self.owned = Abstract("OwnedModel", "core", [
            Field("owner", "ForeignKey", ["settings.AUTH_USER_MODEL"],
                  [("on_delete", "models.CASCADE"),
                   ("related_name", q("%(app_label)s_%(class)s_owned"))],
                  mig_kwargs=[("on_delete", "django.db.models.deletion.CASCADE"),
                              ("related_name", q("%(app_label)s_%(class)s_owned")),
                              ("to", "settings.AUTH_USER_MODEL")],
                  target=("@user", "")),
        ], parent=self.timestamped)

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def build(self) -> list[App]:
        for i in range(self.n_apps):
            if i == 0:
                label, domain = "core", "core"
            elif i == 1:
                label, domain = "accounts", "accounts"
            else:
                domain = DOMAINS[(i - 2) % len(DOMAINS)]
                label = f"{domain}_{i:04d}"
            self.apps.append(App(i, label, domain))
        for app in self.apps:
            self.build_app(app)
        return self.apps

    def unique_related(self, target: tuple[str, str], want: str) -> str:
        used = self.related_names.setdefault(target, set())
        name, n = want, 2
        while name in used:
            name = f"{want}_{n}"
            n += 1
        used.add(name)
        return name

    def build_app(self, app: App) -> None:
        r = self.rng("app", app.index)
        if app.label == "core":
            names = CORE_MODELS[: self.per_app]
            while len(names) < self.per_app:
                names.append(f"CoreThing{len(names)}")
        elif app.label == "accounts":
            names = ACCOUNTS_MODELS[: self.per_app]
            while len(names) < self.per_app:
                names.append(f"AccountThing{len(names)}")
        else:
            pool = NOUNS if self.per_app <= len(NOUNS) else NOUNS + [
                f"{n}Entry" for n in NOUNS]
            names = r.sample(pool, min(self.per_app, len(pool)))
            while len(names) < self.per_app:
                names.append(f"Record{len(names)}")

        # Some apps define their own abstract base with a foreign key, which
        # is then inherited by several concrete models.
        if app.index >= 2 and r.random() < 0.2:
            base_name = f"{app.domain.title().replace('_', '')}Base"
            dbi = r.random() < 0.4
            fk_kwargs = [("on_delete", "models.CASCADE"),
                         ("related_name", q("%(app_label)s_%(class)s_set"))]
            mig = [("on_delete", "django.db.models.deletion.CASCADE"),
                   ("related_name", q("%(app_label)s_%(class)s_set")),
                   ("to", q("core.organization"))]
            if dbi:
                fk_kwargs.append(("db_index", "False"))
                mig.append(("db_index", "False"))
            app.local_abstract = Abstract(base_name, app.label, [
                Field("organization", "ForeignKey", [q("core.Organization")], fk_kwargs,
                      mig_kwargs=mig, target=("core", "Organization"), db_index_false=dbi),
                Field("is_archived", "BooleanField", [], [("default", "False")]),
            ], parent=self.timestamped)

        for j, name in enumerate(names):
            m = Model(app, name)
            app.models.append(m)
            self.build_model(app, m, j, r)

    # -- fields ---------------------------------------------------------------

    def plain_fields(self, r: random.Random, m: Model, has_timestamps: bool, scale: float) -> list[Field]:
        out: list[Field] = []

        def pick(p: float) -> bool:
            return r.random() < p * scale

        out.append(Field(r.choice(["name", "title", "label"]), "CharField", [],
                         [("max_length", str(r.choice([64, 120, 200, 255])))]))
        if pick(0.35):
            kwargs = [("max_length", str(r.choice([50, 80, 120])))]
            kwargs.append(("unique", "True") if r.random() < 0.5 else ("db_index", "True"))
            out.append(Field("slug", "SlugField", [], kwargs))
        if pick(0.55):
            st = r.choice(STATUSES)
            choices = "[" + ", ".join(f"({q(s)}, {q(s.title())})" for s in st) + "]"
            out.append(Field("status", "CharField", [],
                             [("max_length", "20"), ("choices", choices), ("default", q(st[0]))],
                             choices=st))
        if pick(0.35):
            digits = r.choice([10, 12, 14])
            out.append(Field(r.choice(["amount", "total", "price", "balance"]), "DecimalField", [],
                             [("max_digits", str(digits)), ("decimal_places", "2"),
                              ("default", "0")] if r.random() < 0.5 else
                             [("max_digits", str(digits)), ("decimal_places", "2")]))
        if pick(0.2):
            out.append(Field(r.choice(["metadata", "payload", "extra"]), "JSONField", [],
                             [("default", "dict"), ("blank", "True")]))
        if pick(0.4):
            out.append(Field(r.choice(["is_active", "is_public", "is_locked"]), "BooleanField", [],
                             [("default", r.choice(["True", "False"]))]))
        if pick(0.15):
            out.append(Field("external_id", "CharField", [],
                             [("max_length", "64"), ("unique", "True"), ("null", "True"), ("blank", "True")]))
        if pick(0.15):
            out.append(Field(r.choice(["description", "notes", "body"]), "TextField", [],
                             [("blank", "True")]))
        if pick(0.15):
            out.append(Field(r.choice(["quantity", "position", "attempts"]), "PositiveIntegerField", [],
                             [("default", "0")]))
        if pick(0.2):
            out.append(Field(r.choice(["due_at", "starts_at", "expires_at", "published_at"]),
                             "DateTimeField", [], [("null", "True"), ("blank", "True")]))
        if not has_timestamps:
            out.append(Field("created_at", "DateTimeField", [], [("auto_now_add", "True")]))
        return out

    def relation(self, r: random.Random, app: App, m: Model, cls: str, fname: str,
                 target: tuple[str, str], ref_mode: str, used: set[str]) -> Field:
        """Build a ForeignKey/OneToOneField/ManyToManyField."""
        t_app, t_model = target
        if t_app == "@user":
            model_arg = "settings.AUTH_USER_MODEL"
            mig_to = "settings.AUTH_USER_MODEL"
            app.uses_settings = True
            rel_key = ("accounts", "User")
        else:
            rel_key = target
            mig_to = q(f"{t_app}.{t_model.lower()}")
            if t_app == app.label:
                model_arg = t_model if ref_mode == "class" else q(t_model)
                if t_model == m.name:
                    model_arg = q("self")
            elif ref_mode == "class":
                alias = f"{t_app.title().replace('_', '')}{t_model}"
                app.imports[alias] = f"{t_app}.{t_model}"
                model_arg = alias
            else:
                model_arg = q(f"{t_app}.{t_model}")

        kwargs: list[tuple[str, str]] = []
        mig: list[tuple[str, str]] = []
        if cls != "ManyToManyField":
            on_delete = r.choice(["CASCADE", "CASCADE", "PROTECT", "SET_NULL"])
            kwargs.append(("on_delete", f"models.{on_delete}"))
            mig.append(("on_delete", f"django.db.models.deletion.{on_delete}"))
            if on_delete == "SET_NULL":
                kwargs += [("null", "True"), ("blank", "True")]
                mig += [("null", "True"), ("blank", "True")]
        else:
            kwargs.append(("blank", "True"))
            mig.append(("blank", "True"))
        base_rel = plural(m.snake) if t_app == app.label else f"{app.label}_{plural(m.snake)}"
        if fname not in (snake(t_model), "parent"):
            base_rel += f"_as_{fname}"
        if fname == "parent":
            base_rel = "children"
        related = self.unique_related(rel_key, base_rel)
        kwargs.append(("related_name", q(related)))
        mig.append(("related_name", q(related)))
        dbi = False
        if cls == "ForeignKey" and r.random() < 0.15:
            dbi = True
            kwargs.append(("db_index", "False"))
            mig.append(("db_index", "False"))
        mig.append(("to", mig_to))
        used.add(fname)
        return Field(fname, cls, [model_arg], kwargs, mig_kwargs=mig, target=target,
                     db_index_false=dbi)

    def build_model(self, app: App, m: Model, j: int, r: random.Random) -> None:
        # Base class.
        roll = r.random()
        if app.label == "accounts" and j == 0:
            m.special = "user"
            m.base_expr = "AbstractUser"
            m.fields = [Field("email_verified", "BooleanField", [], [("default", "False")]),
                        Field("timezone", "CharField", [], [("max_length", "64"), ("default", q("UTC"))])]
            return
        # Real projects have many small lookup/through models, and a few big ones.
        size = r.choices(["tiny", "medium", "large"], weights=[50, 40, 10])[0]
        scale = {"tiny": 0.2, "medium": 1.0, "large": 1.7}[size]
        if size == "tiny" and roll < 0.7:
            pass
        elif app.local_abstract is not None and roll < 0.5:
            m.base = app.local_abstract
            m.base_expr = app.local_abstract.name
        elif roll < 0.55:
            m.base = self.timestamped
            m.base_expr = "TimeStampedModel"
        elif roll < 0.65 and app.label != "core":
            m.base = self.owned
            m.base_expr = "OwnedModel"
        has_ts = m.base is not None
        used = {f.name for f in (m.base.all_fields() if m.base else [])}
        own: list[Field] = []

        for f in self.plain_fields(r, m, has_ts, scale):
            if f.name not in used:
                used.add(f.name)
                own.append(f)

        # Foreign keys: to earlier models of the same app, to self, to
        # models of lower-numbered apps, and to the user model.
        earlier = app.models[:-1]
        n_fk = r.choice({"tiny": [0, 1, 1], "medium": [1, 1, 2, 2, 3], "large": [2, 3, 3, 4]}[size])
        for _ in range(n_fk):
            kind = r.random()
            if earlier and kind < 0.45:
                tgt = r.choice(earlier)
                target = (app.label, tgt.name)
            elif kind < 0.55 and app.label != "core":
                target = ("@user", "")
            elif kind < 0.6:
                target = (app.label, m.name)
            elif app.index > 0:
                # Only lower-numbered apps, so migrations never form cycles.
                other = self.apps[r.randrange(0, app.index)]
                cands = [x.name for x in other.models if x.special != "user"]
                target = (other.label, r.choice(cands))
            else:
                continue
            if target[0] == "@user":
                fname = r.choice([n for n in USER_FK_NAMES if n not in used] or USER_FK_NAMES)
            elif target == (app.label, m.name):
                fname = "parent"
            else:
                fname = snake(target[1])
            if fname in used:
                fname = f"{fname}_{len(used)}" if fname == "parent" else f"source_{fname}"
            if fname in used:
                continue
            cls = "OneToOneField" if (r.random() < 0.05 and fname != "parent") else "ForeignKey"
            own.append(self.relation(r, app, m, cls, fname, target,
                                     r.choice(["str", "class"]), used))
        if r.random() < 0.15 * scale:
            if earlier:
                tgt = r.choice(earlier)
                fname = plural(snake(tgt.name))
                if fname not in used:
                    own.append(self.relation(r, app, m, "ManyToManyField", fname,
                                             (app.label, tgt.name), "str", used))
            elif app.label != "core":
                fname = "watchers"
                if fname not in used:
                    own.append(self.relation(r, app, m, "ManyToManyField", fname,
                                             ("@user", ""), "str", used))
        m.fields = own

        m.has_str = r.random() < 0.5

        # Meta.
        all_f = m.all_fields()
        names = [f.name for f in all_f]
        fks = [f for f in all_f if f.cls == "ForeignKey"]
        has_created = "created_at" in names
        if size == "tiny":
            if r.random() < 0.3:
                m.ordering = [names[0]]
            return
        if r.random() < 0.35:
            m.ordering = [r.choice(["-created_at", "-created_at", names[0]])] if has_created else [names[0]]
        n_idx = r.choice([0, 0, 0, 1, 1, 2])
        for k in range(n_idx):
            if fks and r.random() < 0.6:
                # Mostly composite (fk, -created_at) indexes.  A single-column
                # index on a foreign key usually goes with db_index=False;
                # now and then it duplicates Django's implicit FK index.
                lead_f = r.choice(fks)
                lead = lead_f.name
                if has_created and r.random() < 0.85:
                    cols = [lead, "-created_at"]
                    if "status" in names and r.random() < 0.3:
                        cols.insert(1, "status")
                elif lead_f.db_index_false or r.random() < 0.3:
                    cols = [lead]
                else:
                    continue
            else:
                # slug/external_id are already indexed (unique or db_index):
                # indexing them again is an occasional mistake, not the norm.
                always = [n for n in ("status", "created_at", "is_active") if n in names]
                again = [n for n in ("slug", "external_id") if n in names and r.random() < 0.15]
                cand = always + again
                if not cand:
                    continue
                cols = [r.choice(cand)]
            name = f"{app.short}_{m.name.lower()[:8]}_{cols[0][:6]}_{k}_idx"
            if any(i.fields == cols for i in m.indexes):
                continue
            cond = None
            if "is_active" in names and r.random() < 0.15:
                cond = "models.Q(is_active=True)"
            m.indexes.append(Index(cols, name, cond))
        if fks and r.random() < 0.15:
            other = [n for n in ("slug", "name", "title", "label", "external_id") if n in names]
            if other:
                m.unique_together.append((r.choice(fks).name, other[0]))
        if r.random() < 0.15:
            lead = r.choice(fks).name if fks else None
            second = next((n for n in ("slug", "name", "title", "label") if n in names), None)
            if lead and second and (lead, second) not in m.unique_together:
                cname = f"{app.short}_{m.name.lower()[:10]}_uniq_{lead[:10]}"
                cond = ", condition=models.Q(is_active=True)" if "is_active" in names and r.random() < 0.3 else ""
                m.constraints.append(
                    f"models.UniqueConstraint(fields=[{q(lead)}, {q(second)}], name={q(cname)}{cond})")
        if r.random() < 0.05:
            m.db_table = f"{app.domain}_{plural(m.snake)}_{app.index}"
        if r.random() < 0.1:
            m.verbose_name_plural = q(plural(m.snake.replace("_", " ")))


# ---------------------------------------------------------------------------
# Rendering: models.py
# ---------------------------------------------------------------------------


def render_abstract(a: Abstract, parent_expr: str) -> list[str]:
    out = [f"class {a.name}({parent_expr}):"]
    out.append(f'    """Common fields shared by {a.module} models."""')
    out.append("")
    for f in a.fields:
        out.append(f"    {f.name} = {f.model_src()}")
    out += ["", "    class Meta:", "        abstract = True", "", ""]
    return out


def render_models(app: App, core_abstracts: tuple[Abstract, Abstract] | None) -> str:
    out = []
    if app.uses_settings or app.label == "core":
        out.append("from django.conf import settings")
    if app.label == "accounts":
        out.append("from django.contrib.auth.models import AbstractUser")
    out.append("from django.db import models")
    out.append("")
    bases = {m.base_expr for m in app.models}
    if app.local_abstract:
        bases.add("TimeStampedModel")
    by_module: dict[str, list[str]] = {}
    core_imports = sorted(b for b in bases if b in ("TimeStampedModel", "OwnedModel"))
    if core_imports and app.label != "core":
        by_module["core"] = core_imports
    for alias, ref in sorted(app.imports.items()):
        label, name = ref.split(".")
        by_module.setdefault(label, []).append(f"{name} as {alias}")
    for label, names in sorted(by_module.items()):
        out.append(f"from {label}.models import {', '.join(names)}")
    while out[-1] == "":
        out.pop()
    out += ["", ""]
    if app.label == "core" and core_abstracts:
        ts, owned = core_abstracts
        out += render_abstract(ts, "models.Model")
        out += render_abstract(owned, "TimeStampedModel")
    if app.local_abstract:
        out += render_abstract(app.local_abstract, "TimeStampedModel")
    for m in app.models:
        out.append(f"class {m.name}({m.base_expr}):")
        for f in m.fields:
            out.append(f"    {f.name} = {f.model_src()}")
        meta: list[str] = []
        if m.db_table:
            meta.append(f"        db_table = {q(m.db_table)}")
        if m.ordering:
            meta.append(f"        ordering = [{', '.join(q(o) for o in m.ordering)}]")
        if m.verbose_name_plural:
            meta.append(f"        verbose_name_plural = {m.verbose_name_plural}")
        if m.unique_together:
            ut = ", ".join("(" + ", ".join(q(c) for c in t) + ")" for t in m.unique_together)
            meta.append(f"        unique_together = [{ut}]")
        if m.indexes:
            meta.append("        indexes = [")
            for i in m.indexes:
                meta.append(f"            {i.src()},")
            meta.append("        ]")
        if m.constraints:
            meta.append("        constraints = [")
            for c in m.constraints:
                meta.append(f"            {c},")
            meta.append("        ]")
        if meta:
            out += ["", "    class Meta:"] + meta
        if m.has_str:
            label_field = next((f.name for f in m.all_fields() if f.name in ("name", "title", "label")), None)
            out.append("")
            out.append("    def __str__(self):")
            out.append(f"        return self.{label_field}" if label_field else "        return self.username")
        out += ["", ""]
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------
# Rendering: migrations
# ---------------------------------------------------------------------------

USER_MIGRATION_FIELDS = [
    '("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))',
    '("password", models.CharField(max_length=128, verbose_name="password"))',
    '("last_login", models.DateTimeField(blank=True, null=True, verbose_name="last login"))',
    '("is_superuser", models.BooleanField(default=False, help_text="Designates that this user has all permissions without explicitly assigning them.", verbose_name="superuser status"))',
    '("username", models.CharField(error_messages={"unique": "A user with that username already exists."}, help_text="Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.", max_length=150, unique=True, validators=[django.contrib.auth.validators.UnicodeUsernameValidator()], verbose_name="username"))',
    '("first_name", models.CharField(blank=True, max_length=150, verbose_name="first name"))',
    '("last_name", models.CharField(blank=True, max_length=150, verbose_name="last name"))',
    '("email", models.EmailField(blank=True, max_length=254, verbose_name="email address"))',
    '("is_staff", models.BooleanField(default=False, help_text="Designates whether the user can log into this admin site.", verbose_name="staff status"))',
    '("is_active", models.BooleanField(default=True, help_text="Designates whether this user should be treated as active. Unselect this instead of deleting accounts.", verbose_name="active"))',
    '("date_joined", models.DateTimeField(default=django.utils.timezone.now, verbose_name="date joined"))',
]
USER_MIGRATION_M2M = [
    '("groups", models.ManyToManyField(blank=True, help_text="The groups this user belongs to. A user will get all permissions granted to each of their groups.", related_name="user_set", related_query_name="user", to="auth.group", verbose_name="groups"))',
    '("user_permissions", models.ManyToManyField(blank=True, help_text="Specific permissions for this user.", related_name="user_set", related_query_name="user", to="auth.permission", verbose_name="user permissions"))',
]


def migration_header(imports: list[str]) -> list[str]:
    out = ["# Generated by Django 5.0.6 on 2024-05-14 09:12", ""]
    out += imports
    out += ["", "", "class Migration(migrations.Migration):"]
    return out


def render_initial(app: App) -> str:
    deps: set[str] = set()
    swappable = False
    uses_user = False
    needs_deletion = False
    for m in app.models:
        for f in m.all_fields():
            if not f.target:
                continue
            if f.cls != "ManyToManyField":
                needs_deletion = True
            t_app = f.target[0]
            if t_app == "@user":
                uses_user = True
                if app.label != "accounts":
                    swappable = True
            elif t_app != app.label:
                deps.add(t_app)
    imports = []
    if app.label == "accounts":
        imports += ["import django.contrib.auth.models", "import django.contrib.auth.validators"]
    if needs_deletion:
        imports.append("import django.db.models.deletion")
    if app.label == "accounts":
        imports.append("import django.utils.timezone")
    if uses_user:
        imports.append("from django.conf import settings")
    imports.append("from django.db import migrations, models")
    out = migration_header(imports)
    out += ["", "    initial = True", "", "    dependencies = ["]
    if app.label == "accounts":
        out.append('        ("auth", "0012_alter_user_first_name_max_length"),')
    for d in sorted(deps):
        out.append(f'        ("{d}", "0001_initial"),')
    if swappable:
        out.append("        migrations.swappable_dependency(settings.AUTH_USER_MODEL),")
    out += ["    ]", "", "    operations = ["]
    inline_options = app.index % 2 == 0  # newer apps: indexes/constraints in options
    trailing: list[str] = []
    for m in app.models:
        out += ["        migrations.CreateModel(", f"            name={q(m.name)},", "            fields=["]
        if m.special == "user":
            fields = [f"                {x}," for x in USER_MIGRATION_FIELDS]
            fields += [f"                ({q(f.name)}, {f.migration_src()})," for f in m.fields]
            fields += [f"                {x}," for x in USER_MIGRATION_M2M]
            out += fields
        else:
            out.append('                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),')
            for f in m.all_fields():
                # Django interpolates %(app_label)s/%(class)s before the
                # autodetector sees inherited related names.
                src = f.migration_src().replace("%(app_label)s", app.label).replace("%(class)s", m.name.lower())
                out.append(f"                ({q(f.name)}, {src}),")
        out.append("            ],")
        opts: list[str] = []
        if m.special == "user":
            opts += ['"verbose_name": "user"', '"verbose_name_plural": "users"', '"abstract": False']
        elif m.base is not None:
            opts.append('"abstract": False')
        if m.db_table:
            opts.append(f'"db_table": {q(m.db_table)}')
        if m.ordering:
            opts.append(f'"ordering": [{", ".join(q(o) for o in m.ordering)}]')
        if m.verbose_name_plural:
            opts.append(f'"verbose_name_plural": {m.verbose_name_plural}')
        if m.unique_together:
            ut = ", ".join("(" + ", ".join(q(c) for c in t) + ")" for t in m.unique_together)
            opts.append(f'"unique_together": {{{ut}}}')
        initial_idx = [i for i in m.indexes if not i.deferred]
        if inline_options:
            if initial_idx:
                opts.append('"indexes": [' + ", ".join(i.src() for i in initial_idx) + "]")
            if m.constraints:
                opts.append('"constraints": [' + ", ".join(m.constraints) + "]")
        else:
            for i in initial_idx:
                trailing += ["        migrations.AddIndex(", f"            model_name={q(m.name.lower())},",
                             f"            index={i.src()},", "        ),"]
            for c in m.constraints:
                trailing += ["        migrations.AddConstraint(", f"            model_name={q(m.name.lower())},",
                             f"            constraint={c},", "        ),"]
        if opts:
            out.append("            options={")
            out += [f"                {o}," for o in opts]
            out.append("            },")
        if m.special == "user":
            out += ["            managers=[", '                ("objects", django.contrib.auth.models.UserManager()),',
                    "            ],"]
        out.append("        ),")
    out += trailing
    out.append("    ]")
    return "\n".join(out) + "\n"


def render_add_indexes(app: App, deferred: list[tuple[Model, Index]]) -> tuple[str, str]:
    first_m, first_i = deferred[0]
    name = f"0002_{first_m.name.lower()}_{first_i.name}"
    if len(deferred) > 1:
        name += "_and_more"
    out = migration_header(["from django.db import migrations, models"])
    out += ["", "    dependencies = [", f'        ("{app.label}", "0001_initial"),', "    ]", "",
            "    operations = ["]
    for m, i in deferred:
        out += ["        migrations.AddIndex(", f"            model_name={q(m.name.lower())},",
                f"            index={i.src()},", "        ),"]
    out.append("    ]")
    return name, "\n".join(out) + "\n"


def render_runsql(app: App, prev: str, items: list[tuple[Model, Field]]) -> str:
    out = ["# Hand-written: indexes built concurrently outside of Django's model state.", "",
           "from django.db import migrations", "", "",
           "class Migration(migrations.Migration):", "", "    atomic = False", "",
           "    dependencies = [", f'        ("{app.label}", "{prev}"),', "    ]", "", "    operations = ["]
    for m, f in items:
        idx = f"{m.table}_{f.column}_sql_idx"[:63]
        has_created = any(x.name == "created_at" for x in m.all_fields())
        cols = f"{f.column}, created_at DESC" if has_created else f.column
        out += ["        migrations.RunSQL(",
                f'            sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS {idx} ON {m.table} ({cols});",',
                f'            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS {idx};",',
                "        ),"]
    out.append("    ]")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Rendering: non-model code (views, services, forms, serializers, admin,
# urls, tests).  Most files of a real project look like this.
# ---------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def import_block(body: list[str], spec: list[tuple[str, list[str]]]) -> list[str]:
    """Import lines for those names in ``spec`` that ``body`` uses.

    ``spec`` is ``[(module, [names])]``; module ``""`` means ``import name``.
    Groups (stdlib, django, local) are separated by ``None`` entries.
    """
    used = set(_WORD.findall("\n".join(body)))
    out: list[str] = []
    group: list[str] = []
    for module, names in spec:
        if module is None:
            if group:
                out += group + [""]
                group = []
            continue
        keep = [n for n in names if n.split(" as ")[-1] in used]
        if not keep:
            continue
        if module == "":
            group += [f"import {n}" for n in keep]
        elif len(keep) > 4:
            group.append(f"from {module} import (")
            group += [f"    {n}," for n in keep]
            group.append(")")
        else:
            group.append(f"from {module} import {', '.join(keep)}")
    if group:
        out += group + [""]
    return out


def assemble(imports: list[str], body: list[str]) -> str:
    """Imports, two blank lines, then the body (PEP 8 / isort layout)."""
    while imports and imports[-1] == "":
        imports = imports[:-1]
    while body and body[0] == "":
        body = body[1:]
    return "\n".join(imports + ["", ""] + body).rstrip() + "\n"


def label_of(m: Model) -> str:
    return next((f.name for f in m.all_fields() if f.name in ("name", "title", "label")), "username")


def status_of(m: Model) -> list[str] | None:
    return next((f.choices for f in m.all_fields() if f.name == "status" and f.choices), None)


def decimal_of(m: Model) -> str | None:
    return next((f.name for f in m.all_fields() if f.cls == "DecimalField"), None)


def bool_of(m: Model) -> str | None:
    return next((f.name for f in m.all_fields() if f.cls == "BooleanField" and f.name.startswith("is_")), None)


def fk_of(m: Model) -> list[Field]:
    return [f for f in m.all_fields() if f.cls == "ForeignKey"]


def m2m_of(m: Model) -> list[Field]:
    return [f for f in m.all_fields() if f.cls == "ManyToManyField"]


def date_field(m: Model) -> str:
    return "created_at" if any(f.name == "created_at" for f in m.all_fields()) else "date_joined"


def has_field(m: Model, name: str) -> bool:
    return any(f.name == name for f in m.all_fields())


def concrete(app: App) -> list[Model]:
    return [m for m in app.models if m.special != "user"]


def words(s: str) -> str:
    return s.replace("_", " ")


# -- views ------------------------------------------------------------------


def view_list(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt, st = m.snake, date_field(m), status_of(m)
    fk = r.choice(fk_of(m))
    out = [
        "",
        "@login_required",
        f"def {s}_list(request, {fk.name}_id):",
        f'    """List {plural(words(s))} for one {words(fk.name)}, newest first."""',
        "    queryset = (",
        f"        {m.name}.objects.filter({fk.name}_id={fk.name}_id)",
        f'        .select_related("{fk.name}")',
        f'        .order_by("-{dt}")',
        "    )",
    ]
    if st:
        out += ['    status = request.GET.get("status")', "    if status:",
                "        queryset = queryset.filter(status=status)"]
    out += [
        "    paginator = Paginator(queryset, PAGE_SIZE)",
        '    page = paginator.get_page(request.GET.get("page"))',
        f'    return render(request, "{app.label}/{s}_list.html", {{"page": page, "{fk.name}_id": {fk.name}_id}})',
        "",
    ]
    return out


def view_detail(app: App, m: Model, r: random.Random) -> list[str]:
    sel = [f.name for f in fk_of(m)][:2]
    pre = [f.name for f in m2m_of(m)]
    out = ["", f"class {m.name}DetailView(LoginRequiredMixin, DetailView):", f"    model = {m.name}",
           f'    context_object_name = "{m.snake}"', "", "    def get_queryset(self):",
           "        queryset = super().get_queryset()"]
    if sel:
        out.append(f"        queryset = queryset.select_related({', '.join(q(x) for x in sel)})")
    if pre:
        out.append(f"        queryset = queryset.prefetch_related({', '.join(q(x) for x in pre)})")
    out += ["        return queryset", ""]
    return out


def view_search(app: App, m: Model, r: random.Random) -> list[str]:
    s, lbl, st, b = m.snake, label_of(m), status_of(m), bool_of(m)
    cond = f"Q({lbl}__icontains=term)"
    if has_field(m, "slug"):
        cond += " | Q(slug__startswith=term.lower())"
    out = ["", f"def {s}_search(request):", '    term = request.GET.get("q", "").strip()',
           "    if len(term) < 2:", '        return JsonResponse({"results": []})',
           f"    queryset = {m.name}.objects.filter({cond})"]
    if st:
        out.append(f'    queryset = queryset.exclude(status="{st[-1]}")')
    if b:
        out.append(f"    queryset = queryset.filter({b}=True)")
    out += [f'    results = list(queryset.order_by("{lbl}").values("id", "{lbl}")[:20])',
            f'    logger.debug("{s} search %r -> %d results", term, len(results))',
            '    return JsonResponse({"results": results})', ""]
    return out


def view_dashboard(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt = m.snake, date_field(m)
    return ["", "@login_required", f"def {s}_dashboard(request):",
            '    since = timezone.now() - timedelta(days=int(request.GET.get("days", 30)))',
            "    counts = (", f"        {m.name}.objects.filter({dt}__gte=since)", '        .values("status")',
            '        .annotate(total=Count("id"))', '        .order_by("status")', "    )",
            f'    return render(request, "{app.label}/{s}_dashboard.html", {{"counts": list(counts), "since": since}})',
            ""]


def view_listview(app: App, m: Model, r: random.Random) -> list[str]:
    fk = r.choice(fk_of(m))
    return ["", f"class {m.name}ListView(LoginRequiredMixin, ListView):", f"    model = {m.name}",
            "    paginate_by = PAGE_SIZE", "", "    def get_queryset(self):",
            f"        queryset = {m.name}.objects.select_related({q(fk.name)})",
            f'        {fk.name}_id = self.request.GET.get("{fk.name}")', f"        if {fk.name}_id:",
            f"            queryset = queryset.filter({fk.name}_id={fk.name}_id)",
            f'        return queryset.order_by("-{date_field(m)}")', ""]


def view_json(app: App, m: Model, r: random.Random) -> list[str]:
    fk = r.choice(fk_of(m))
    s = m.snake
    return ["", f"def {s}_detail_json(request, pk):", "    try:",
            f"        obj = {m.name}.objects.select_related({q(fk.name)}).get(pk=pk)",
            f"    except {m.name}.DoesNotExist:", f'        raise Http404("{m.name} not found")',
            f'    return JsonResponse({{"id": obj.pk, "{fk.name}": obj.{fk.name}_id, "label": str(obj)}})', "",
            "", f"def {s}_for_{fk.name}(request, {fk.name}_id):",
            f"    {fk.name} = get_object_or_404({m.name}._meta.get_field({q(fk.name)}).related_model, pk={fk.name}_id)",
            f"    items = {m.name}.objects.filter({fk.name}={fk.name}).exclude(pk__in=request.GET.getlist(\"skip\"))",
            f'    items = items.order_by("-{date_field(m)}")[:100]',
            f'    return render(request, "{app.label}/{s}_list.html", {{"items": items, "parent": {fk.name}}})', ""]


VIEWS_IMPORTS = [
    ("", ["logging"]), ("datetime", ["timedelta"]), (None, []),
    ("django.contrib.auth.decorators", ["login_required"]),
    ("django.contrib.auth.mixins", ["LoginRequiredMixin"]),
    ("django.core.paginator", ["Paginator"]),
    ("django.db.models", ["Count", "Q"]),
    ("django.http", ["Http404", "JsonResponse"]),
    ("django.shortcuts", ["get_object_or_404", "render"]),
    ("django.utils", ["timezone"]),
    ("django.views.generic", ["DetailView", "ListView"]),
    (None, []),
]


def render_views(app: App, r: random.Random, picks: list[Model]) -> str:
    body = ["logger = logging.getLogger(__name__)", "", "PAGE_SIZE = 50", ""]
    for m in picks:
        options = [view_detail, view_search]
        if fk_of(m):
            options += [view_list, view_list, view_listview, view_json]
        if status_of(m):
            options.append(view_dashboard)
        chosen = r.sample(options, min(len(options), r.choice([1, 1, 2])))
        for fn in dict.fromkeys(chosen):
            body += fn(app, m, r)
    spec = VIEWS_IMPORTS + [(".models", sorted({m.name for m in picks}))]
    return assemble(import_block(body, spec), body)


# -- services -----------------------------------------------------------------


def svc_queries(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt, st, lbl = m.snake, date_field(m), status_of(m), label_of(m)
    fks = fk_of(m)
    fk, other = r.choice(fks), fks[-1]
    out = ["", f"def recent_{plural(s)}_for_{fk.name}({fk.name}_id, limit=20):", "    return list(",
           f"        {m.name}.objects.filter({fk.name}_id={fk.name}_id)", f'        .order_by("-{dt}")[:limit]',
           "    )", ""]
    if other is not fk:
        out += ["", f"def {plural(s)}_by_{other.name}({other.name}, include_archived=False):",
                f"    queryset = {m.name}.objects.filter({other.name}={other.name})",
                "    if not include_archived:"]
        if st:
            out.append(f'        queryset = queryset.exclude(status="{st[-1]}")')
        else:
            out.append(f'        queryset = queryset.exclude({lbl}="")')
        out += [f'    return queryset.select_related("{fk.name}", "{other.name}")', ""]
    return out


def svc_lifecycle(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt, st = m.snake, date_field(m), status_of(m)
    first, mid, last = st[0], st[1], st[-1]
    return [
        "", f"def transition_{s}({s}, new_status, *, actor=None):",
        f'    """Move a {words(s)} through its lifecycle, enforcing allowed transitions."""',
        "    allowed = {", f'        "{first}": {{"{mid}", "{last}"}},', f'        "{mid}": {{"{last}"}},',
        f'        "{last}": set(),', "    }", f"    current = {s}.status", "    if new_status == current:",
        f"        return {s}", "    if new_status not in allowed.get(current, set()):",
        f'        raise ServiceError(f"cannot move {m.name} {{{s}.pk}} from {{current}} to {{new_status}}")',
        "    with transaction.atomic():", f"        locked = {m.name}.objects.select_for_update().get(pk={s}.pk)",
        "        locked.status = new_status", '        locked.save(update_fields=["status"])',
        f'    logger.info("%s moved %s %s -> %s", actor or "system", "{m.name}", locked.pk, new_status)',
        "    return locked", "", "",
        f"def expire_stale_{plural(s)}(now=None):", "    now = now or timezone.now()",
        "    cutoff = now - STALE_AFTER", "    outcome = Outcome()",
        f'    stale = {m.name}.objects.filter(status="{first}", {dt}__lt=cutoff).order_by("pk")',
        "    batch = []", "    for obj in stale.iterator(chunk_size=BATCH_SIZE):", f'        obj.status = "{last}"',
        "        batch.append(obj)", "        if len(batch) >= BATCH_SIZE:",
        f'            {m.name}.objects.bulk_update(batch, ["status"])', "            outcome.processed += len(batch)",
        "            batch.clear()", "    if batch:", f'        {m.name}.objects.bulk_update(batch, ["status"])',
        "        outcome.processed += len(batch)", "    return outcome", "",
    ]


def svc_money(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt, dec = m.snake, date_field(m), decimal_of(m)
    fks = fk_of(m)
    grp = fks[0].name if fks else None
    out = ["", f"def {s}_{dec}_summary(start, end{', ' + grp + '_id=None' if grp else ''}):",
           f'    """Aggregate {dec} over a period, rounded to cents."""',
           f"    queryset = {m.name}.objects.filter({dt}__range=(start, end))"]
    if grp:
        out += [f"    if {grp}_id is not None:", f"        queryset = queryset.filter({grp}_id={grp}_id)"]
    out += [
        f'    totals = queryset.aggregate(total=Sum("{dec}"), count=Count("id"), latest=Max("{dt}"))',
        '    total = totals["total"] or Decimal("0")', '    count = totals["count"] or 0',
        '    average = (total / count).quantize(CENT, rounding=ROUND_HALF_UP) if count else Decimal("0")',
        "    return {", '        "total": total.quantize(CENT, rounding=ROUND_HALF_UP),', '        "count": count,',
        '        "average": average,', '        "latest": totals["latest"],', "    }", "", "",
        f"def apply_adjustment_to_{plural(s)}(ids, percent):", "    if not -100 < percent < 100:",
        '        raise ServiceError("adjustment out of range")',
        "    factor = (Decimal(100) + Decimal(percent)) / Decimal(100)", "    with transaction.atomic():",
        f'        updated = {m.name}.objects.filter(pk__in=ids).update({dec}=F("{dec}") * factor)',
        f'    logger.info("adjusted %d {plural(s)} by %s%%", updated, percent)', "    return updated", "",
    ]
    return out


def svc_dedupe(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt, lbl, b = m.snake, date_field(m), label_of(m), bool_of(m)
    cond = f"Q({b}=True)" if b else f'~Q({lbl}="")'
    return [
        "", f"def dedupe_{plural(s)}(dry_run=True):",
        f'    """Find {plural(words(s))} sharing a {lbl} and keep the oldest one."""', "    dupes = (",
        f"        {m.name}.objects.filter({cond})", f'        .values("{lbl}")', '        .annotate(n=Count("id"))',
        "        .filter(n__gt=1)", "    )", "    removed = 0", "    for row in dupes:",
        f'        ids = list({m.name}.objects.filter({lbl}=row["{lbl}"]).order_by("{dt}").values_list("pk", flat=True))',
        "        extra = ids[1:]", "        if not dry_run:", f"            {m.name}.objects.filter(pk__in=extra).delete()",
        "        removed += len(extra)",
        f'    logger.info("dedupe_{plural(s)}: %d duplicates%s", removed, " (dry run)" if dry_run else "")',
        "    return removed", "",
    ]


def svc_export(app: App, m: Model, r: random.Random) -> list[str]:
    s = m.snake
    cols = [f.name for f in m.all_fields()
            if f.cls in ("CharField", "SlugField", "DecimalField", "BooleanField", "DateTimeField")][:5]
    # Now and then an old-style None comparison survives review (ruff E711).
    none_check = "queryset == None" if r.random() < 0.05 else "queryset is None"
    out = ["", f"def export_{plural(s)}_rows(queryset=None):", f"    if {none_check}:",
           f"        queryset = {m.name}.objects.all()", "    rows = []",
           '    for obj in queryset.order_by("pk").iterator(chunk_size=BATCH_SIZE):', "        rows.append({",
           '            "id": obj.pk,']
    out += [f'            "{c}": obj.{c},' for c in cols]
    out += [f'            "{f.name}_id": obj.{f.name}_id,' for f in fk_of(m)[:2]]
    out += ["        })", "    return rows", ""]
    return out


def svc_report(app: App, m: Model, r: random.Random) -> list[str]:
    s, dt, st = m.snake, date_field(m), status_of(m)
    fks = fk_of(m)
    key = fks[0].name + "_id" if fks else "status" if st else None
    out = ["", f"def weekly_{s}_report(weeks=4, now=None):",
           f'    """Per-week counts of new {plural(words(s))}{", split by " + words(key) if key else ""}."""',
           "    now = now or timezone.now()", "    start = now - timedelta(weeks=weeks)",
           "    buckets = {}",
           f"    queryset = {m.name}.objects.filter({dt}__gte=start)"]
    if key:
        out.append(f'    for created, group in queryset.values_list("{dt}", "{key}").iterator():')
    else:
        out.append(f'    for created in queryset.values_list("{dt}", flat=True).iterator():')
        out.append("        group = None")
    out += [
        "        week = (created - start).days // 7",
        "        bucket = buckets.setdefault(week, {})",
        "        bucket[group] = bucket.get(group, 0) + 1",
        "    report = []",
        "    for week in range(weeks):",
        "        counts = buckets.get(week, {})",
        "        report.append({",
        '            "week_start": (start + timedelta(weeks=week)).date().isoformat(),',
        '            "total": sum(counts.values()),',
        '            "groups": dict(sorted(counts.items(), key=lambda item: -item[1])[:10]),',
        "        })",
        "    return report",
        "",
    ]
    return out


SERVICES_IMPORTS = [
    ("", ["logging"]), ("dataclasses", ["dataclass", "field"]), ("datetime", ["timedelta"]),
    ("decimal", ["ROUND_HALF_UP", "Decimal"]), (None, []),
    ("django.db", ["transaction"]), ("django.db.models", ["Count", "F", "Max", "Q", "Sum"]),
    ("django.utils", ["timezone"]), (None, []),
]


def render_services(app: App, r: random.Random, chosen: list[Model]) -> tuple[str, dict[str, set[str]]]:
    body = [
        "logger = logging.getLogger(__name__)", "", "BATCH_SIZE = 500",
        f"STALE_AFTER = timedelta(days={r.choice([7, 14, 30, 90])})", 'CENT = Decimal("0.01")', "", "",
        "class ServiceError(Exception):", '    """Raised when a business rule is violated."""', "", "",
        "@dataclass", "class Outcome:", "    processed: int = 0", "    skipped: int = 0",
        "    errors: list[str] = field(default_factory=list)", "", "    def merge(self, other):",
        "        self.processed += other.processed", "        self.skipped += other.skipped",
        "        self.errors.extend(other.errors)", "        return self", "",
    ]
    groups: dict[str, set[str]] = {}
    for m in chosen:
        options = ["dedupe", "export", "report"]
        if fk_of(m):
            options += ["queries", "queries"]
        if status_of(m):
            options += ["lifecycle", "lifecycle"]
        if decimal_of(m):
            options += ["money", "money"]
        picked = set(r.sample(options, min(len(options), r.choice([1, 1, 2]))))
        groups[m.name] = picked
        for g in ("queries", "lifecycle", "money", "dedupe", "export", "report"):
            if g in picked:
                body += SERVICE_GROUPS[g](app, m, r)
    spec = SERVICES_IMPORTS + [(".models", sorted({m.name for m in chosen}))]
    head = ['"""Business logic for the ' + words(app.domain) + ' domain.', "",
            "Views, tasks and management commands call into this module; it owns",
            "transactions and side effects.", '"""', ""]
    return assemble(head + import_block(body, spec), body), groups


SERVICE_GROUPS = {"queries": svc_queries, "lifecycle": svc_lifecycle, "money": svc_money,
                  "dedupe": svc_dedupe, "export": svc_export, "report": svc_report}


# -- tests --------------------------------------------------------------------

TESTS_IMPORTS = [
    ("datetime", ["timedelta"]), ("decimal", ["Decimal"]), (None, []),
    ("django.contrib.auth", ["get_user_model"]), ("django.test", ["TestCase"]),
    ("django.urls", ["reverse"]), ("django.utils", ["timezone"]), (None, []),
    (".", ["services"]),
]


def render_tests(app: App, r: random.Random, groups: dict[str, set[str]], views_src: str) -> str:
    by_name = {m.name: m for m in app.models}
    body: list[str] = []
    for name, picked in groups.items():
        m = by_name[name]
        s, lbl, st, dec, dt = m.snake, label_of(m), status_of(m), decimal_of(m), date_field(m)
        body += [
            "", f"class {m.name}Tests(TestCase):", "    @classmethod", "    def setUpTestData(cls):",
            '        cls.user = get_user_model().objects.create_user("tester", password="not-used")',
            f'        cls.{s} = cls.make_{s}({lbl}="alpha")', "", "    @classmethod",
            f"    def make_{s}(cls, **overrides):", f'        values = {{"{lbl}": "item"}}',
            "        values.update(overrides)", f"        return {m.name}(**values)", "",
        ]
        if m.has_str:
            body += [f"    def test_str_uses_{lbl}(self):", f'        self.assertEqual(str(self.{s}), "alpha")', ""]
        body += [
            f"    def test_{lbl}_is_required(self):", f'        field = {m.name}._meta.get_field("{lbl}")',
            "        self.assertFalse(field.blank)", "        self.assertGreater(field.max_length, 10)", "",
        ]
        if "lifecycle" in picked:
            first, last = st[0], st[-1]
            body += [
                "    def test_transition_to_same_status_is_a_no_op(self):",
                f'        obj = self.make_{s}({lbl}="beta", status="{first}")',
                "        with self.assertNumQueries(0):", f'            result = services.transition_{s}(obj, "{first}")',
                "        self.assertIs(result, obj)", "",
                f"    def test_transition_from_{last}_is_rejected(self):", f'        obj = self.make_{s}(status="{last}")',
                "        with self.assertRaises(services.ServiceError):",
                f'            services.transition_{s}(obj, "{first}")', "",
                f"    def test_expire_stale_{plural(s)}_with_nothing_to_do(self):",
                f"        outcome = services.expire_stale_{plural(s)}(now=timezone.now() - timedelta(days=3650))",
                "        self.assertEqual(outcome.processed, 0)", "        self.assertEqual(outcome.errors, [])", "",
            ]
        if "money" in picked:
            body += [
                f"    def test_{dec}_summary_empty_period(self):", "        now = timezone.now()",
                f"        summary = services.{s}_{dec}_summary(now - timedelta(days=1), now)",
                '        self.assertEqual(summary["count"], 0)',
                '        self.assertEqual(summary["total"], Decimal("0.00"))',
                '        self.assertEqual(summary["average"], Decimal("0"))', "",
                "    def test_adjustment_rejects_out_of_range(self):",
                "        with self.assertRaises(services.ServiceError):",
                f"            services.apply_adjustment_to_{plural(s)}([], 150)", "",
            ]
        if "report" in picked:
            body += [
                "    def test_weekly_report_has_one_row_per_week(self):",
                f"        report = services.weekly_{s}_report(weeks=3)",
                "        self.assertEqual(len(report), 3)",
                '        self.assertTrue(all(row["total"] == 0 for row in report))', "",
            ]
        if "dedupe" in picked:
            body += [
                "    def test_dedupe_dry_run_removes_nothing(self):",
                f"        self.assertEqual(services.dedupe_{plural(s)}(dry_run=True), 0)", "",
            ]
        body += [f"    def test_default_ordering_uses_{dt}(self):",
                 f"        ordering = {m.name}._meta.ordering",
                 "        self.assertIsInstance(ordering, (list, tuple))", ""]
        if f"def {s}_search(" in views_src:
            body += [
                "    def test_search_short_term_returns_nothing(self):", "        self.client.force_login(self.user)",
                f'        url = reverse("{app.label}:{s}_search")', '        response = self.client.get(url, {"q": "a"})',
                '        self.assertEqual(response.json(), {"results": []})', "",
            ]
    spec = TESTS_IMPORTS + [(".models", sorted(groups))]
    return assemble(import_block(body, spec), body)


# -- forms, serializers, admin, urls ---------------------------------------------


def render_forms(app: App, r: random.Random) -> str:
    ms = concrete(app)
    pick = [m for m in ms if r.random() < 0.15] or ms[:1]
    body: list[str] = []
    for m in pick:
        editable = [f.name for f in m.fields if f.cls != "ManyToManyField" and "auto_now" not in str(f.kwargs)][:6]
        body += ["", f"class {m.name}Form(forms.ModelForm):", "    class Meta:", f"        model = {m.name}",
                 f"        fields = [{', '.join(q(x) for x in editable)}]", ""]
        lbl, dec = label_of(m), decimal_of(m)
        if lbl in editable:
            body += [f"    def clean_{lbl}(self):", f'        value = self.cleaned_data["{lbl}"].strip()',
                     "        if len(value) < 2:", f'            raise ValidationError("{lbl.title()} is too short.")',
                     "        return value", ""]
        if dec and dec in editable:
            body += [f"    def clean_{dec}(self):", f'        value = self.cleaned_data["{dec}"]',
                     "        if value is not None and value < 0:",
                     '            raise ValidationError("Must not be negative.")', "        return value", ""]
    spec = [("django", ["forms"]), ("django.core.exceptions", ["ValidationError"]), (None, []),
            (".models", sorted({m.name for m in pick}))]
    return assemble(import_block(body, spec), body)


def render_serializers(app: App, r: random.Random) -> str:
    ms = [m for m in concrete(app) if r.random() < 0.2] or concrete(app)[:1]
    body: list[str] = []
    for m in ms:
        cols = ["id"] + [f.name for f in m.all_fields() if f.cls != "ManyToManyField"][:7]
        ro = [c for c in ("created_at", "updated_at") if c in cols]
        body += ["", f"class {m.name}Serializer(serializers.ModelSerializer):", "    class Meta:",
                 f"        model = {m.name}", f"        fields = [{', '.join(q(c) for c in cols)}]"]
        if ro:
            body.append(f"        read_only_fields = [{', '.join(q(c) for c in ro)}]")
        body.append("")
    spec = [("rest_framework", ["serializers"]), (None, []), (".models", sorted({m.name for m in ms}))]
    return assemble(import_block(body, spec), body)


def render_admin(app: App, r: random.Random) -> str:
    body: list[str] = []
    plain: list[str] = []
    for m in concrete(app):
        if r.random() < 0.75:
            plain.append(m.name)
            continue
        lbl = label_of(m)
        fks = [f.name for f in fk_of(m)]
        display = [lbl] + [x for x in ("status", "is_active", "created_at") if has_field(m, x)]
        body += ["", f"@admin.register({m.name})", f"class {m.name}Admin(admin.ModelAdmin):",
                 f"    list_display = [{', '.join(q(x) for x in display)}]", f"    search_fields = [{q(lbl)}]"]
        filters = [x for x in display[1:] if x != "created_at"]
        if filters:
            body.append(f"    list_filter = [{', '.join(q(x) for x in filters)}]")
        if fks:
            body.append(f"    raw_id_fields = [{', '.join(q(x) for x in fks)}]")
            body.append(f"    list_select_related = [{', '.join(q(x) for x in fks)}]")
        body.append("")
    if len(plain) == 1:
        body += ["", f"admin.site.register({plain[0]})"]
    elif plain:
        body += ["", f"admin.site.register([{', '.join(plain)}])"]
    spec = [("django.contrib", ["admin"]), (None, []), (".models", sorted(m.name for m in concrete(app)))]
    return assemble(import_block(body, spec), body)


def render_urls(app: App, views_src: str) -> str:
    out = ["from django.urls import path", "", "from . import views", "", f'app_name = "{app.label}"', "",
           "urlpatterns = ["]
    for line in views_src.splitlines():
        if line.startswith("def "):
            fn = line[4:line.index("(")]
            args = line[line.index("(") + 1: line.index(")")].split(", ")
            conv = "".join(f"<int:{a}>/" for a in args[1:] if a.endswith("_id") or a == "pk")
            out.append(f'    path("{fn.replace("_", "-")}/{conv}", views.{fn}, name="{fn}"),')
        elif line.startswith("class ") and "View(" in line:
            cls = line[6:line.index("(")]
            route = snake(cls).replace("_", "-")
            pk = "<int:pk>/" if "Detail" in cls else ""
            out.append(f'    path("{route}/{pk}", views.{cls}.as_view(), name="{snake(cls)}"),')
    out.append("]")
    return "\n".join(out) + "\n"


def render_apps(app: App) -> str:
    cls = "".join(p.title() for p in app.label.split("_")) + "Config"
    verbose = app.label.replace("_", " ").title()
    return (f"from django.apps import AppConfig\n\n\nclass {cls}(AppConfig):\n"
            f'    default_auto_field = "django.db.models.BigAutoField"\n'
            f'    name = "{app.label}"\n    verbose_name = "{verbose}"\n')


def render_template(app: App, m: Model) -> str:
    lbl = label_of(m)
    return f"""{{% extends "base.html" %}}
{{% block title %}}{m.name} list{{% endblock %}}
{{% block content %}}
<h1>{plural(m.name)}</h1>
<table class="table">
  <thead><tr><th>{lbl.title()}</th><th>Created</th></tr></thead>
  <tbody>
  {{% for obj in page %}}
    <tr><td><a href="{{% url '{app.label}:{m.snake}_detail_view' obj.pk %}}">{{{{ obj.{lbl} }}}}</a></td>
        <td>{{{{ obj.created_at|date:"Y-m-d" }}}}</td></tr>
  {{% empty %}}
    <tr><td colspan="2">No {plural(m.snake.replace("_", " "))} yet.</td></tr>
  {{% endfor %}}
  </tbody>
</table>
{{% include "pagination.html" %}}
{{% endblock %}}
"""


def render_js(app: App) -> str:
    return f"""// {app.label}: progressive enhancement for list pages.
(function () {{
  "use strict";
  const ROOT = "/{app.label}/";

  function debounce(fn, ms) {{
    let timer = null;
    return function (...args) {{
      clearTimeout(timer);
      timer = setTimeout(() => fn.apply(this, args), ms);
    }};
  }}

  async function search(term) {{
    const url = new URL(ROOT + "search/", window.location.origin);
    url.searchParams.set("q", term);
    const response = await fetch(url, {{ credentials: "same-origin" }});
    if (!response.ok) {{
      throw new Error("search failed: " + response.status);
    }}
    return (await response.json()).results;
  }}

  document.addEventListener("DOMContentLoaded", () => {{
    const input = document.querySelector("[data-{app.label}-search]");
    if (!input) return;
    input.addEventListener("input", debounce(async (event) => {{
      const results = await search(event.target.value);
      const list = document.querySelector("[data-{app.label}-results]");
      list.replaceChildren(...results.map((r) => {{
        const li = document.createElement("li");
        li.textContent = r.name || r.title || r.label || String(r.id);
        return li;
      }}));
    }}, 200));
  }});
}})();
"""


# ---------------------------------------------------------------------------
# Project-level files
# ---------------------------------------------------------------------------

MANAGE_PY = '''#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
'''

GITIGNORE = """__pycache__/
*.py[cod]
*.sqlite3
.env
.venv/
/media/
/staticfiles/
.coverage
htmlcov/
"""


def render_settings(apps: list[App]) -> str:
    installed = "\n".join(f'    "{a.label}",' for a in apps)
    return f'''"""Django settings for the synthetic benchmark project."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-benchmark-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
{installed}
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "site.urls"

TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {{
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        }},
    }},
]

WSGI_APPLICATION = "site.wsgi.application"

DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "bench",
        "USER": "bench",
        "PASSWORD": "",
        "HOST": "localhost",
        "PORT": "5432",
        "CONN_MAX_AGE": 60,
    }}
}}

AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {{
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}}
'''


def render_root_urls(apps: list[App]) -> str:
    lines = ["from django.contrib import admin", "from django.urls import include, path", "",
             "urlpatterns = [", '    path("admin/", admin.site.urls),']
    lines += [f'    path("{a.label}/", include("{a.label}.urls")),' for a in apps]
    lines.append("]")
    return "\n".join(lines) + "\n"


WSGI = '''import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site.settings")

application = get_wsgi_application()
'''

ASGI = WSGI.replace("wsgi", "asgi").replace("WSGI", "ASGI")


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


class Writer:
    def __init__(self, root: Path):
        self.root = root
        self.files = 0
        self.bytes = 0
        self.py_files = 0
        self.py_lines = 0
        self.made: set[Path] = set()

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        parent = path.parent
        if parent not in self.made:
            parent.mkdir(parents=True, exist_ok=True)
            self.made.add(parent)
        data = text.encode()
        path.write_bytes(data)
        self.files += 1
        self.bytes += len(data)
        if rel.endswith(".py"):
            self.py_files += 1
            self.py_lines += data.count(b"\n")


def prepare_output(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            sys.exit(f"error: {out} exists and is not a directory")
        if any(out.iterdir()) and not (out / MARKER).exists():
            sys.exit(f"error: {out} is not empty and was not made by this script "
                     f"(no {MARKER}); refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True)


def marker_text(args: argparse.Namespace) -> str:
    return (f"generator_version={GENERATOR_VERSION} seed={args.seed} apps={args.apps} "
            f"models_per_app={args.models_per_app} code_scale={args.code_scale}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output directory (wiped and re-created), e.g. target/bench/django-tree")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--apps", type=int, default=2000, help="number of Django apps (default 2000, min 2)")
    ap.add_argument("--models-per-app", type=int, default=10, help="concrete models per app (default 10)")
    ap.add_argument("--code-scale", type=float, default=1.0,
                    help="scale the amount of non-model code (views, services, tests) per app (default 1.0)")
    ap.add_argument("--print-marker", action="store_true",
                    help="print the marker line for these arguments and exit (used by bench/run)")
    args = ap.parse_args(argv)
    if args.print_marker:
        sys.stdout.write(marker_text(args))
        return 0
    if args.apps < 2 or args.models_per_app < 1:
        ap.error("need --apps >= 2 and --models-per-app >= 1")

    t0 = time.perf_counter()
    out: Path = args.out
    prepare_output(out)
    w = Writer(out)

    builder = Builder(args.seed, args.apps, args.models_per_app)
    apps = builder.build()

    w.write("manage.py", MANAGE_PY)
    w.write(".gitignore", GITIGNORE)
    w.write("requirements.txt", "Django>=5.0,<5.1\ndjangorestframework>=3.15\npsycopg[binary]>=3.1\n")
    w.write("site/__init__.py", "")
    w.write("site/settings.py", render_settings(apps))
    w.write("site/urls.py", render_root_urls(apps))
    w.write("site/wsgi.py", WSGI)
    w.write("site/asgi.py", ASGI)
    w.write("templates/base.html",
            "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
            "<title>{% block title %}{% endblock %}</title></head>\n"
            "<body>{% block content %}{% endblock %}</body>\n</html>\n")
    w.write("templates/pagination.html",
            "{% if page.has_other_pages %}<nav>{% if page.has_previous %}"
            "<a href=\"?page={{ page.previous_page_number }}\">prev</a>{% endif %}"
            " {{ page.number }} / {{ page.paginator.num_pages }} "
            "{% if page.has_next %}<a href=\"?page={{ page.next_page_number }}\">next</a>{% endif %}</nav>{% endif %}\n")

    n_models = 0
    for app in apps:
        r = builder.rng("render", app.index)
        n_models += len(app.models)
        base = app.label
        # Defer some Meta.indexes to 0002 (AddIndex), as happens when indexes
        # are added after the first release.
        deferred: list[tuple[Model, Index]] = []
        for m in app.models:
            for i in m.indexes:
                if r.random() < 0.35:
                    i.deferred = True
                    deferred.append((m, i))
        w.write(f"{base}/__init__.py", "")
        w.write(f"{base}/apps.py", render_apps(app))
        w.write(f"{base}/models.py",
                render_models(app, (builder.timestamped, builder.owned) if base == "core" else None))
        # How much view/service/test code an app has varies a lot between
        # apps in real projects; --code-scale scales all of it.
        ms = concrete(app)
        n_views = max(1, min(len(ms), round(args.code_scale * r.choice([1, 1, 2]))))
        n_svc = max(1, min(len(ms), round(args.code_scale * r.choice([1, 1, 1, 2]))))
        views = render_views(app, r, r.sample(ms, n_views))
        w.write(f"{base}/views.py", views)
        w.write(f"{base}/urls.py", render_urls(app, views))
        services, groups = render_services(app, r, r.sample(ms, n_svc))
        w.write(f"{base}/services.py", services)
        if r.random() < 0.35:
            w.write(f"{base}/forms.py", render_forms(app, r))
        w.write(f"{base}/serializers.py", render_serializers(app, r))
        w.write(f"{base}/admin.py", render_admin(app, r))
        w.write(f"{base}/tests.py", render_tests(app, r, groups, views))
        w.write(f"{base}/migrations/__init__.py", "")
        w.write(f"{base}/migrations/0001_initial.py", render_initial(app))
        last = "0001_initial"
        if deferred:
            name, src = render_add_indexes(app, deferred)
            w.write(f"{base}/migrations/{name}.py", src)
            last = name
        if r.random() < 0.1:
            # Prefer foreign keys declared with db_index=False: that is what
            # such hand-written migrations are usually for.
            cands = [(m, f) for m in app.models for f in m.relations()]
            unindexed = [(m, f) for m, f in cands if f.db_index_false]
            cands = unindexed if unindexed and r.random() < 0.8 else cands
            if cands:
                items = r.sample(cands, min(len(cands), r.choice([1, 2])))
                w.write(f"{base}/migrations/0003_concurrent_fk_indexes.py", render_runsql(app, last, items))
        listed = [m for m in app.models if m.special != "user" and fk_of(m)][:2]
        for m in listed:
            w.write(f"{base}/templates/{base}/{m.snake}_list.html", render_template(app, m))
        if r.random() < 0.3:
            w.write(f"{base}/static/{base}/{base}.js", render_js(app))

    w.write(MARKER, marker_text(args))
    dt = time.perf_counter() - t0
    print(f"generated {out}: {args.apps} apps, {n_models} models")
    print(f"  files:        {w.files}")
    print(f"  python files: {w.py_files}")
    print(f"  python lines: {w.py_lines}")
    print(f"  bytes:        {w.bytes} ({w.bytes / 1e6:.1f} MB)")
    print(f"  time:         {dt:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
