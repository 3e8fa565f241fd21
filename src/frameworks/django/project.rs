//! Resolves the facts of all Django files into tables: app labels, model
//! inheritance (abstract, proxy, multi-table), relation targets, the indexes
//! Django creates by itself, and indexes that only migrations create.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use rustc_hash::{FxHashMap, FxHashSet};

use super::history::{self, AppHistory, ModelState, StateIndex};
use super::migrations::{FieldSpec, GraphNode, MigrationFile};
use super::models::{
    ClassDecl, Condition, FieldDecl, GenericForeignKeyDecl, IndexDecl, IndexList, MetaDecl,
    ModelsFile, Target,
};
use super::settings::{AppConfigFacts, SettingsFacts};
use crate::InputError;
use crate::schema::{
    Column, Conjunct, Dialect, ForeignKey, Framework, GenericForeignKey, Index, IndexKey,
    IndexMethod, IndexOrigin, IndexPart, Predicate, Table, TypeFamily,
};
use crate::source::Span;

/// Everything ixray knows about a Django project after resolution.
#[derive(Debug, Default)]
pub struct DjangoProject {
    pub files: Vec<ModelsFile>,
    pub migrations: Vec<MigrationFile>,
    pub dialect: Dialect,
    /// New migrations build indexes concurrently on PostgreSQL (the
    /// configuration's `concurrent-indexes`; off when false).
    pub plain_indexes: bool,
    pub models: Vec<Model>,
    pub tables: Vec<Table>,
    /// Concrete, non-proxy model by SQL table name.
    pub by_table: FxHashMap<String, usize>,
    /// Every migration module's place in the graph, as read.
    pub graph: Vec<GraphNode>,
    /// Model indices by class name.
    pub by_name: FxHashMap<String, Vec<usize>>,
    /// Each app's migration history, replayed.
    pub histories: Vec<AppHistory>,
    /// The indexes `makemigrations` would drop, and what declares them.
    pub drift: Vec<Drift>,
    /// Tables only the migration history knows (no model ixray reads
    /// declares them): analysed, never edited.
    pub history_tables: Vec<String>,
    /// Tables a `RunSQL` creates, analysed with what its SQL says (an
    /// unmanaged model's, or no model's), by name, with the migration
    /// (`app.0003_x`): never edited.
    pub sql_tables: BTreeMap<String, String>,
}

/// An index of the migration state that the models no longer declare:
/// `makemigrations` would write the operation that drops it.
#[derive(Debug, Clone)]
pub struct Drift {
    pub table: String,
    /// Where the state got it (the index's `location`).
    pub location: crate::source::Location,
    /// Its SQL columns, to tell apart entries made by one operation.
    pub columns: Vec<String>,
    pub kind: DriftKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftKind {
    /// A `Meta.indexes` entry, as the migration writes it.
    Index { code: String },
    /// A `Meta.constraints` entry, as the migration writes it.
    Constraint { code: String },
    /// A `unique_together` entry (field names).
    UniqueTogether { fields: Vec<String> },
    /// A field's `db_index` (or `unique`) flag.
    Field { field: String, unique: bool },
}

/// What a model declares that `makemigrations` compares with the
/// migration state.
#[derive(Debug, Default)]
struct CodeState {
    /// Fields with a column, by attribute name (`None`: not readable).
    fields: Vec<(String, Option<FieldSpec>)>,
    /// `Meta.indexes` by name (generated names computed).
    indexes: Vec<(String, IndexDecl)>,
    constraint_names: Vec<String>,
    unique_together: Vec<Vec<String>>,
    meta_certain: bool,
}

/// A resolved model class.
#[derive(Debug, Clone)]
pub struct Model {
    pub app_label: String,
    /// The model belongs to an installed app: only then does Django make
    /// its table (abstract bases may live anywhere).
    pub installed: bool,
    pub app_dir: PathBuf,
    pub file: usize,
    pub class: usize,
    pub name: String,
    pub is_abstract: bool,
    pub proxy: bool,
    pub managed: bool,
    pub table: String,
    /// Model indices of the bases that are models.
    pub parents: Vec<usize>,
    /// The class whose `Meta` applies (own, or inherited from an abstract
    /// parent when the class has none): (file, class).
    pub meta_from: Option<(usize, usize)>,
    /// `Meta.ordering` (a multi-table child inherits its parent's): `None`
    /// when unset, `Some(None)` when ixray cannot read it.
    pub ordering: Option<Option<Vec<String>>>,
    /// `Meta.get_latest_by`, inherited the same way.
    pub get_latest_by: Option<Option<Vec<String>>>,
}

impl DjangoProject {
    pub fn class(&self, model: &Model) -> &ClassDecl {
        &self.files[model.file].classes[model.class]
    }

    pub fn model_for_table(&self, table: &str) -> Option<&Model> {
        self.by_table.get(table).map(|i| &self.models[*i])
    }
}

pub struct Inputs {
    pub models: Vec<ModelsFile>,
    pub migrations: Vec<MigrationFile>,
    /// Every migration module's place in the graph.
    pub graph: Vec<GraphNode>,
    pub settings: Vec<SettingsFacts>,
    pub apps: Vec<AppConfigFacts>,
    pub dialect: Option<Dialect>,
}

/// The settings file that decides: prefer one that is not a test settings.
fn main_settings(settings: &[SettingsFacts]) -> Option<&SettingsFacts> {
    let is_test = |s: &SettingsFacts| {
        s.path
            .to_string_lossy()
            .to_ascii_lowercase()
            .contains("test")
    };
    settings
        .iter()
        .filter(|s| s.engine.is_some())
        .min_by_key(|s| (is_test(s), s.path.clone()))
}

pub fn resolve(inputs: Inputs, errors: &mut Vec<InputError>) -> DjangoProject {
    let settings = main_settings(&inputs.settings);
    let dialect = inputs
        .dialect
        .or_else(|| settings.and_then(SettingsFacts::dialect))
        .unwrap_or_default();
    let auth_user_model = inputs
        .settings
        .iter()
        .find_map(|s| s.auth_user_model.clone())
        .unwrap_or_else(|| "auth.User".to_string());

    let labels: FxHashMap<PathBuf, String> = inputs
        .apps
        .iter()
        .filter_map(|a| Some((a.app_dir.clone(), a.label.clone()?)))
        .collect();
    let dir_label = |dir: &Path| -> String {
        labels.get(dir).cloned().unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    };
    let candidate_dirs: Vec<&Path> = inputs
        .models
        .iter()
        .map(|f| f.app_dir.as_path())
        .chain(inputs.migrations.iter().map(|m| m.app_dir.as_path()))
        .chain(inputs.apps.iter().map(|a| a.app_dir.as_path()))
        .collect();
    let installed = installed_apps(&inputs.settings, &inputs.apps, &candidate_dirs, &dir_label);
    // The app a models module belongs to: the nearest installed app at or
    // above its folder (a `models.py` in a plain sub-package belongs to the
    // app around it). Without a readable INSTALLED_APPS, every folder with
    // models is an app.
    let installed_by_dir: Option<FxHashMap<&Path, &String>> = installed.as_ref().map(|apps| {
        apps.iter()
            .map(|(dir, label)| (dir.as_path(), label))
            .collect()
    });
    // The nearest installed app at or above `dir`.
    let enclosing_app = |dir: &Path| -> Option<(PathBuf, String)> {
        let apps = installed_by_dir.as_ref()?;
        dir.ancestors()
            .find_map(|d| apps.get(d).map(|label| (d.to_path_buf(), (*label).clone())))
    };
    let label_of = |dir: &Path| -> Option<String> {
        match &installed {
            None => Some(dir_label(dir)),
            Some(_) => enclosing_app(dir).map(|(_, label)| label),
        }
    };
    let app_dir_of = |dir: &Path| -> Option<PathBuf> { enclosing_app(dir).map(|(d, _)| d) };
    // Migrations run only for an installed app's own `migrations/` folder.
    let migration_label = |dir: &Path| -> Option<String> {
        match &installed_by_dir {
            None => Some(dir_label(dir)),
            Some(apps) => apps.get(dir).map(|label| (*label).clone()),
        }
    };

    let mut project = DjangoProject {
        files: inputs.models,
        migrations: inputs.migrations,
        dialect,
        ..DjangoProject::default()
    };
    project
        .files
        .sort_by(|a, b| a.source.path.cmp(&b.source.path));
    // By the folder's bytes: comparing paths component by component cost
    // more than the rest of the sort on a project with 1,500 migrations.
    project.migrations.sort_by(|a, b| {
        (a.app_dir.as_os_str().as_encoded_bytes(), &a.name)
            .cmp(&(b.app_dir.as_os_str().as_encoded_bytes(), &b.name))
    });

    let mut resolver = Resolver::new(&project.files, &label_of);
    resolver.find_models();
    // A model of a plain sub-package lives in the app around it: its
    // migrations go to that app's `migrations/` folder.
    for model in &mut resolver.models {
        if let Some(dir) = app_dir_of(&model.app_dir) {
            model.app_dir = dir;
        }
    }
    project.models = resolver.models.clone();
    for (index, model) in project.models.iter().enumerate() {
        if !model.is_abstract && !model.proxy && model.installed {
            project.by_table.entry(model.table.clone()).or_insert(index);
        }
    }
    let builder = TableBuilder {
        project: &project,
        resolver: &resolver,
        dialect,
        auth_user_model: auth_user_model.clone(),
    };
    let (mut tables, code_states) = builder.build();
    let dialect_assumed =
        inputs.dialect.is_none() && settings.and_then(SettingsFacts::dialect).is_none();
    for table in &mut tables {
        table.dialect_assumed = dialect_assumed;
    }
    let broken = broken_apps(&inputs.graph, &migration_label, errors);
    let settings = history::Settings {
        dialect,
        dialect_assumed,
    };
    project.histories = replay_histories(&project, &migration_label, &broken, &settings);
    // Replayed: the operations are the histories' now (on a large project
    // they are most of what was read).
    for migration in &mut project.migrations {
        migration.operations = Vec::new();
    }
    project.drift = apply_histories(&project, &resolver, &code_states, dialect, &mut tables);
    let mut only_in_history =
        history_only_tables(&project, &resolver, &tables, &auth_user_model, dialect);
    for table in &mut only_in_history {
        table.dialect_assumed = dialect_assumed;
    }
    project.history_tables = only_in_history.iter().map(|t| t.name.clone()).collect();
    tables.extend(only_in_history);
    project.sql_tables = apply_sql_tables(&project, &mut tables, dialect);
    for table in tables
        .iter_mut()
        .filter(|t| project.sql_tables.contains_key(&t.name))
    {
        table.dialect_assumed = dialect_assumed;
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    project.tables = tables;
    project.graph = inputs.graph;
    for (i, model) in project.models.iter().enumerate() {
        project
            .by_name
            .entry(model.name.clone())
            .or_default()
            .push(i);
    }
    project
}

/// The project folders `INSTALLED_APPS` names, with their labels:
/// `"shop"` and `"pkg.shop"` by module path, `"shop.apps.ShopConfig"`
/// through that `AppConfig` (its `label`, else the last part of its
/// `name`). `None` when no settings assign `INSTALLED_APPS` or one of them
/// cannot be evaluated. Entries that are no folder of the project
/// (`django.contrib.auth`, installed packages) are left out.
fn installed_apps(
    settings: &[SettingsFacts],
    configs: &[AppConfigFacts],
    candidate_dirs: &[&Path],
    dir_label: &dyn Fn(&Path) -> String,
) -> Option<Vec<(PathBuf, String)>> {
    let mut entries: Vec<&String> = Vec::new();
    let mut assigned = false;
    for facts in settings {
        match &facts.installed_apps {
            None => {}
            Some(None) => return None,
            Some(Some(apps)) => {
                assigned = true;
                entries.extend(apps);
            }
        }
    }
    if !assigned {
        return None;
    }
    // Every folder that holds models or migrations, and the folders above,
    // by their last component.
    let mut dirs: Vec<&Path> = candidate_dirs
        .iter()
        .flat_map(|d| d.ancestors())
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut by_last: FxHashMap<&str, Vec<&Path>> = FxHashMap::default();
    for dir in &dirs {
        if let Some(last) = dir.file_name().and_then(|n| n.to_str()) {
            by_last.entry(last).or_default().push(dir);
        }
    }
    let mut configs_by_class: FxHashMap<&str, Vec<&AppConfigFacts>> = FxHashMap::default();
    for config in configs {
        configs_by_class
            .entry(config.class.as_str())
            .or_default()
            .push(config);
    }
    let ends_with = |dir: &Path, module: &[&str]| {
        let components = module_components(dir);
        components.len() >= module.len()
            && components[components.len() - module.len()..]
                .iter()
                .zip(module)
                .all(|(a, b)| a == b)
    };
    let mut apps: Vec<(PathBuf, String)> = Vec::new();
    for entry in entries {
        let parts: Vec<&str> = entry.split('.').collect();
        // `pkg.apps.ShopConfig`: a config class in `pkg/apps.py`.
        if let [module @ .., "apps", class] = parts.as_slice()
            && let Some(config) = configs_by_class
                .get(class)
                .into_iter()
                .flatten()
                .find(|c| ends_with(&c.app_dir, module))
        {
            let label = config
                .label
                .clone()
                .or_else(|| {
                    config
                        .name
                        .as_deref()
                        .map(|n| n.rsplit('.').next().unwrap_or(n).to_string())
                })
                .unwrap_or_else(|| dir_label(&config.app_dir));
            apps.push((config.app_dir.clone(), label));
            continue;
        }
        let module: Vec<&str> = match parts.as_slice() {
            [module @ .., "apps", class] if class.ends_with("Config") => module.to_vec(),
            _ => parts.clone(),
        };
        // The shallowest folder whose path ends with the module path.
        if let Some(dir) = module
            .last()
            .and_then(|last| by_last.get(last))
            .into_iter()
            .flatten()
            .filter(|d| ends_with(d, &module))
            .min_by_key(|d| d.components().count())
        {
            apps.push((dir.to_path_buf(), dir_label(dir)));
        }
    }
    Some(apps)
}

/// The models that ship with `django.contrib`: (app label, class name,
/// table). Most keep Django's default table name; these set `db_table`.
const CONTRIB_MODELS: &[(&str, &str, &str)] = &[
    ("auth", "User", "auth_user"),
    ("auth", "Group", "auth_group"),
    ("auth", "Permission", "auth_permission"),
    ("contenttypes", "ContentType", "django_content_type"),
    ("sites", "Site", "django_site"),
    ("admin", "LogEntry", "django_admin_log"),
    ("sessions", "Session", "django_session"),
    ("flatpages", "FlatPage", "django_flatpage"),
    ("redirects", "Redirect", "django_redirect"),
];

/// A model of `django.contrib` by app label and class name (any case):
/// (app label, class name, table).
pub fn contrib_model(app: &str, name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    CONTRIB_MODELS
        .iter()
        .find(|(a, n, _)| *a == app && n.eq_ignore_ascii_case(name))
        .copied()
}

/// A class a models module imports from `django.contrib.<app>...`.
pub fn imported_contrib_model(
    file: &ModelsFile,
    local: &str,
) -> Option<(&'static str, &'static str, &'static str)> {
    let (_, module, name) = file
        .imports
        .from_imports
        .iter()
        .find(|(l, _, _)| l == local)?;
    let app = module.strip_prefix("django.contrib.")?.split('.').next()?;
    contrib_model(app, name)
}

/// Finds which classes are models and how they inherit.
struct Resolver<'p> {
    files: &'p [ModelsFile],
    /// (file, class) → app label; `None` outside every installed app.
    labels: Vec<Vec<Option<String>>>,
    by_name: FxHashMap<&'p str, Vec<(usize, usize)>>,
    /// (app id, class name) → classes.
    by_app_name: FxHashMap<(usize, &'p str), Vec<(usize, usize)>>,
    /// Every dotted suffix of every file's module path → files.
    module_suffixes: FxHashMap<String, Vec<usize>>,
    file_app: Vec<usize>,
    file_modules: Vec<Vec<String>>,
    models: Vec<Model>,
    model_of: FxHashMap<(usize, usize), usize>,
    /// (app label, lowercased class name) → model.
    by_label: FxHashMap<(String, String), usize>,
}

/// A file's module path as components: `shop/models/order.py` →
/// `[shop, models, order]`; `__init__` is its package.
fn module_components(path: &Path) -> Vec<String> {
    let mut components: Vec<String> = path
        .with_extension("")
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if components.last().is_some_and(|l| l == "__init__") {
        components.pop();
    }
    components
}

/// Bases that make a class a model without being in the project. `Model`
/// is Django's only as the file names it: `models.Model` through its
/// `django.db.models` import, or `Model` imported from there; Flask-
/// SQLAlchemy's `db.Model` and a declarative `Model` are not.
fn is_django_model_base(base: &str, imports: &super::models::Imports) -> bool {
    let (prefix, last) = match base.rsplit_once('.') {
        Some((prefix, last)) => (Some(prefix), last),
        None => (None, base),
    };
    match last {
        "Model" => match prefix {
            Some(prefix) => {
                imports.models_module.as_deref() == Some(prefix) || prefix == "django.db.models"
            }
            None => imports
                .direct
                .iter()
                .any(|(name, local)| name == "Model" && local == "Model"),
        },
        // `from django.db.models import Model as DjangoModel`.
        _ if prefix.is_none()
            && imports
                .direct
                .iter()
                .any(|(name, local)| name == "Model" && local == base) =>
        {
            true
        }
        "AbstractUser" | "AbstractBaseUser" | "PermissionsMixin" | "PolymorphicModel" => {
            !base.starts_with("forms.")
        }
        _ => false,
    }
}

impl<'p> Resolver<'p> {
    fn new(files: &'p [ModelsFile], label_of: &dyn Fn(&Path) -> Option<String>) -> Self {
        let mut by_name: FxHashMap<&str, Vec<(usize, usize)>> = FxHashMap::default();
        let mut by_app_name: FxHashMap<(usize, &str), Vec<(usize, usize)>> = FxHashMap::default();
        let mut module_suffixes: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        let mut app_ids: FxHashMap<&Path, usize> = FxHashMap::default();
        let mut file_app = Vec::with_capacity(files.len());
        let mut file_modules = Vec::with_capacity(files.len());
        let mut labels = Vec::new();
        for (fi, file) in files.iter().enumerate() {
            let next_id = app_ids.len();
            let app = *app_ids.entry(file.app_dir.as_path()).or_insert(next_id);
            file_app.push(app);
            let module = module_components(&file.source.path);
            for start in 0..module.len() {
                module_suffixes
                    .entry(module[start..].join("."))
                    .or_default()
                    .push(fi);
            }
            file_modules.push(module);
            let dir_label = label_of(&file.app_dir);
            let mut file_labels = Vec::new();
            for (ci, class) in file.classes.iter().enumerate() {
                by_name
                    .entry(class.name.as_str())
                    .or_default()
                    .push((fi, ci));
                by_app_name
                    .entry((app, class.name.as_str()))
                    .or_default()
                    .push((fi, ci));
                let label = class
                    .meta
                    .as_ref()
                    .and_then(|m| m.app_label.clone())
                    .or_else(|| dir_label.clone());
                file_labels.push(label);
            }
            labels.push(file_labels);
        }
        Resolver {
            files,
            labels,
            by_name,
            by_app_name,
            module_suffixes,
            file_app,
            file_modules,
            models: Vec::new(),
            model_of: FxHashMap::default(),
            by_label: FxHashMap::default(),
        }
    }

    fn class(&self, at: (usize, usize)) -> &'p ClassDecl {
        &self.files[at.0].classes[at.1]
    }

    /// Resolve a class name as seen from `from`: same file, then same app,
    /// then the module it was imported from, then a unique match anywhere.
    /// Every step is a hash lookup: large projects repeat class names in
    /// hundreds of apps.
    fn lookup_class(&self, from: (usize, usize), name: &str) -> Option<(usize, usize)> {
        let simple = name.rsplit('.').next().unwrap_or(name);
        let named = |file: usize, class: &str| {
            self.files[file]
                .classes
                .iter()
                .position(|c| c.name == class)
                .map(|ci| (file, ci))
                .filter(|c| *c != from)
        };
        if let Some(found) = named(from.0, simple) {
            return Some(found);
        }
        if let Some(same_app) = self.by_app_name.get(&(self.file_app[from.0], simple)) {
            let others: Vec<_> = same_app.iter().filter(|c| **c != from).collect();
            if others.len() == 1 {
                return Some(*others[0]);
            }
        }
        // `from core.models import Timezone as CoreTimezone`: the class
        // is `Timezone`.
        let imported_from = self.files[from.0]
            .imports
            .from_imports
            .iter()
            .find(|(local, _, _)| local == simple)
            .map(|(_, module, imported)| (module.as_str(), imported.as_str()));
        if let Some((module, imported)) = imported_from {
            let key = self.absolute_module(from.0, module);
            if let Some(files) = self.module_suffixes.get(&key) {
                let matching: Vec<_> = files.iter().filter_map(|f| named(*f, imported)).collect();
                if matching.len() == 1 {
                    return Some(matching[0]);
                }
            }
        }
        let simple = imported_from.map_or(simple, |(_, imported)| imported);
        let candidates = self.by_name.get(simple)?;
        let others: Vec<_> = candidates.iter().filter(|c| **c != from).collect();
        (others.len() == 1).then(|| *others[0])
    }

    /// `.models` imported from `shop/views.py` is `shop.models`.
    fn absolute_module(&self, file: usize, module: &str) -> String {
        let dots = module.len() - module.trim_start_matches('.').len();
        let rest = &module[dots..];
        if dots == 0 {
            return rest.to_string();
        }
        let own = &self.file_modules[file];
        // The package of the importing module, then one level up per extra dot.
        let is_package = self.files[file]
            .source
            .path
            .file_stem()
            .is_some_and(|s| s == "__init__");
        let package_len = if is_package {
            own.len()
        } else {
            own.len().saturating_sub(1)
        };
        let base = &own[..package_len.saturating_sub(dots - 1)];
        let mut parts: Vec<&str> = base.iter().map(String::as_str).collect();
        if !rest.is_empty() {
            parts.extend(rest.split('.'));
        }
        parts.join(".")
    }

    fn find_models(&mut self) {
        let mut all = Vec::new();
        for (fi, file) in self.files.iter().enumerate() {
            for ci in 0..file.classes.len() {
                all.push((fi, ci));
            }
        }
        let mut memo: FxHashMap<(usize, usize), bool> = FxHashMap::default();
        for &at in &all {
            self.is_model(at, &mut memo, &mut FxHashSet::default());
        }
        for &at in &all {
            if memo.get(&at) == Some(&true) {
                let index = self.models.len();
                self.model_of.insert(at, index);
                let class = self.class(at);
                let label = self.labels[at.0][at.1].clone();
                let meta = class.meta.as_ref();
                self.models.push(Model {
                    installed: label.is_some(),
                    // Abstract bases need no app; a placeholder label keeps
                    // `%(app_label)s` and lookups working.
                    app_label: label.unwrap_or_else(|| {
                        self.files[at.0]
                            .app_dir
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    }),
                    app_dir: self.files[at.0].app_dir.clone(),
                    file: at.0,
                    class: at.1,
                    name: class.name.clone(),
                    is_abstract: meta.and_then(|m| m.is_abstract).unwrap_or(false),
                    proxy: meta.is_some_and(|m| m.proxy),
                    managed: true,
                    table: String::new(),
                    parents: Vec::new(),
                    meta_from: None,
                    ordering: None,
                    get_latest_by: None,
                });
            }
        }
        for index in 0..self.models.len() {
            let at = (self.models[index].file, self.models[index].class);
            let parents: Vec<usize> = self
                .class(at)
                .bases
                .iter()
                .filter_map(|b| self.lookup_class(at, b))
                .filter_map(|c| self.model_of.get(&c).copied())
                .collect();
            self.models[index].parents = parents;
        }
        for index in 0..self.models.len() {
            self.models[index].meta_from = self.meta_source(index, &mut FxHashSet::default());
            let managed = self.meta_option(index, |m| m.managed).unwrap_or(true);
            let db_table = self.meta_option(index, |m| m.db_table.clone());
            let ordering = self.meta_option(index, |m| m.ordering.clone());
            let get_latest_by = self.meta_option(index, |m| m.get_latest_by.clone());
            let model = &mut self.models[index];
            model.managed = managed;
            model.ordering = ordering;
            model.get_latest_by = get_latest_by;
            model.table = db_table.unwrap_or_else(|| {
                format!("{}_{}", model.app_label, model.name.to_ascii_lowercase())
            });
            let key = (model.app_label.clone(), model.name.to_ascii_lowercase());
            self.by_label.entry(key).or_insert(index);
        }
        // A multi-table child has its parent's ordering and
        // `get_latest_by` unless its own Meta sets them.
        for _ in 0..8 {
            for index in 0..self.models.len() {
                let Some(&parent) = self.models[index]
                    .parents
                    .iter()
                    .find(|&&p| !self.models[p].is_abstract)
                else {
                    continue;
                };
                if self.models[index].ordering.is_none() {
                    self.models[index].ordering = self.models[parent].ordering.clone();
                }
                if self.models[index].get_latest_by.is_none() {
                    self.models[index].get_latest_by = self.models[parent].get_latest_by.clone();
                }
            }
        }
    }

    fn is_model(
        &self,
        at: (usize, usize),
        memo: &mut FxHashMap<(usize, usize), bool>,
        visiting: &mut FxHashSet<(usize, usize)>,
    ) -> bool {
        if let Some(known) = memo.get(&at) {
            return *known;
        }
        if !visiting.insert(at) {
            return false;
        }
        let class = self.class(at);
        let result = class
            .bases
            .iter()
            .any(|base| match self.lookup_class(at, base) {
                Some(parent) => self.is_model(parent, memo, visiting),
                None => is_django_model_base(base, &self.files[at.0].imports),
            });
        memo.insert(at, result);
        result
    }

    /// The class whose Meta applies to a model (own, or an abstract parent's).
    fn meta_source(&self, model: usize, seen: &mut FxHashSet<usize>) -> Option<(usize, usize)> {
        if !seen.insert(model) {
            return None;
        }
        let m = &self.models[model];
        if self.class((m.file, m.class)).meta.is_some() {
            return Some((m.file, m.class));
        }
        m.parents
            .iter()
            .filter(|p| self.models[**p].is_abstract)
            .find_map(|p| self.meta_source(*p, seen))
    }

    /// An option from the applicable Meta, following `class Meta(Base.Meta)`.
    fn meta_option<T>(&self, model: usize, get: impl Fn(&'p MetaDecl) -> Option<T>) -> Option<T> {
        self.meta_value(self.models[model].meta_from?, get)
            .map(|(_, value)| value)
    }

    /// An option's value and the class whose Meta set it, starting at the
    /// Meta of class `at` and following `class Meta(Parent.Meta)`.
    fn meta_value<T>(
        &self,
        at: (usize, usize),
        get: impl Fn(&'p MetaDecl) -> Option<T>,
    ) -> Option<((usize, usize), T)> {
        let mut at = at;
        for _ in 0..32 {
            let meta = self.class(at).meta.as_ref()?;
            if let Some(value) = get(meta) {
                return Some((at, value));
            }
            at = meta
                .bases
                .iter()
                .filter_map(|b| b.strip_suffix(".Meta"))
                .find_map(|name| self.lookup_class(at, name))?;
        }
        None
    }

    /// Whether a class-body call of class `at` is a `GenericForeignKey`:
    /// Django's own, a project class deriving from it, or a class ixray
    /// cannot see whose name says it is one (`RestrictedGenericForeignKey`
    /// from an installed package).
    fn is_generic_foreign_key(&self, at: (usize, usize), decl: &GenericForeignKeyDecl) -> bool {
        decl.django || self.names_generic_foreign_key(at, &decl.callee, &mut FxHashSet::default())
    }

    /// Whether `name`, as class `at` refers to it, is `GenericForeignKey`
    /// or a subclass of it.
    fn names_generic_foreign_key(
        &self,
        at: (usize, usize),
        name: &str,
        seen: &mut FxHashSet<(usize, usize)>,
    ) -> bool {
        if self.files[at.0].imports.is_generic_foreign_key(name) {
            return true;
        }
        match self.lookup_class(at, name) {
            Some(class) => {
                seen.insert(class)
                    && self
                        .class(class)
                        .bases
                        .iter()
                        .any(|base| self.names_generic_foreign_key(class, base, seen))
            }
            None => crate::frameworks::python::last_segment(name).ends_with("GenericForeignKey"),
        }
    }

    fn model_at(&self, at: (usize, usize)) -> Option<usize> {
        self.model_of.get(&at).copied()
    }

    /// Find a model by `"app.Model"` label.
    fn model_by_label(&self, app: &str, name: &str) -> Option<usize> {
        self.by_label
            .get(&(app.to_string(), name.to_ascii_lowercase()))
            .copied()
    }
}

/// A field as it applies to a concrete model (possibly inherited).
struct EffectiveField<'p> {
    decl: &'p FieldDecl,
    /// The file that declares it (for locations).
    file: usize,
}

/// A `GenericForeignKey` as it applies to a concrete model (possibly
/// inherited from an abstract base).
struct EffectiveGeneric<'p> {
    decl: &'p GenericForeignKeyDecl,
    file: usize,
}

/// What a concrete model has from its own body and its abstract bases.
#[derive(Default)]
struct EffectiveMembers<'p> {
    fields: Vec<EffectiveField<'p>>,
    generic_foreign_keys: Vec<EffectiveGeneric<'p>>,
}

struct TableBuilder<'a> {
    project: &'a DjangoProject,
    resolver: &'a Resolver<'a>,
    dialect: Dialect,
    auth_user_model: String,
}

impl<'a> TableBuilder<'a> {
    /// The tables the models declare, and what each model declares as
    /// `makemigrations` sees it (by model index).
    fn build(&self) -> (Vec<Table>, FxHashMap<usize, CodeState>) {
        let mut tables = Vec::new();
        let mut states = FxHashMap::default();
        for (index, model) in self.resolver.models.iter().enumerate() {
            if model.is_abstract || model.proxy || !model.installed {
                continue;
            }
            self.build_model(index, &mut tables, &mut states);
        }
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        (tables, states)
    }

    fn location(&self, file: usize, span: Span) -> crate::source::Location {
        self.project.files[file].source.location(span)
    }

    /// Fields (and generic foreign keys) in the order Django adds them:
    /// abstract parents first.
    fn effective_members(&self, model: usize) -> EffectiveMembers<'a> {
        let mut out = EffectiveMembers::default();
        self.collect_members(model, &mut out, &mut FxHashSet::default());
        out
    }

    fn collect_members(
        &self,
        model: usize,
        out: &mut EffectiveMembers<'a>,
        seen: &mut FxHashSet<usize>,
    ) {
        if !seen.insert(model) {
            return;
        }
        let m = &self.resolver.models[model];
        for parent in &m.parents {
            if self.resolver.models[*parent].is_abstract {
                self.collect_members(*parent, out, seen);
            }
        }
        let at = (m.file, m.class);
        let class = self.resolver.class(at);
        // A child's attribute replaces the parent's of that name, whatever
        // each is; `None` removes it.
        let forget = |out: &mut EffectiveMembers, attr: &str| {
            out.fields.retain(|f| f.decl.attr != attr);
            out.generic_foreign_keys.retain(|g| g.decl.attr != attr);
        };
        for attr in &class.removed {
            forget(out, attr);
        }
        let generics: Vec<&GenericForeignKeyDecl> = class
            .generic_foreign_keys
            .iter()
            .filter(|g| self.resolver.is_generic_foreign_key(at, g))
            .collect();
        // A subclass named like a field (`RestrictedGenericForeignKey`)
        // was read as one too; it has no column.
        for field in class
            .fields
            .iter()
            .filter(|f| !generics.iter().any(|g| g.attr == f.attr))
        {
            forget(out, &field.attr);
            out.fields.push(EffectiveField {
                decl: field,
                file: m.file,
            });
        }
        for generic in generics {
            forget(out, &generic.attr);
            out.generic_foreign_keys.push(EffectiveGeneric {
                decl: generic,
                file: m.file,
            });
        }
    }

    /// Resolve a relation target to a model index, or a table name for
    /// models outside the project (`auth.User`).
    fn resolve_target(&self, model: usize, target: &Target) -> (Option<usize>, Option<String>) {
        let m = &self.resolver.models[model];
        let label = match target {
            Target::Label(label) if label == "self" => return (Some(model), Some(m.table.clone())),
            Target::Label(label) => label.clone(),
            Target::AuthUserModel => self.auth_user_model.clone(),
            Target::Class(name) => {
                let found = self
                    .resolver
                    .lookup_class((m.file, m.class), name)
                    .and_then(|c| self.resolver.model_at(c));
                return match found {
                    Some(t) => (Some(t), Some(self.resolver.models[t].table.clone())),
                    None => (
                        None,
                        imported_contrib_model(&self.project.files[m.file], name)
                            .map(|(_, _, table)| table.to_string()),
                    ),
                };
            }
            Target::Unknown => return (None, None),
        };
        let (app, name) = match label.split_once('.') {
            Some((app, name)) => (app.to_string(), name.to_string()),
            None => (m.app_label.clone(), label.clone()),
        };
        match self.resolver.model_by_label(&app, &name) {
            Some(t) => (Some(t), Some(self.resolver.models[t].table.clone())),
            // A model outside the project: django.contrib's own table, else
            // Django's default table name.
            None => (
                None,
                Some(contrib_model(&app, &name).map_or_else(
                    || format!("{app}_{}", name.to_ascii_lowercase()),
                    |(_, _, table)| table.to_string(),
                )),
            ),
        }
    }

    fn build_model(
        &self,
        index: usize,
        tables: &mut Vec<Table>,
        states: &mut FxHashMap<usize, CodeState>,
    ) {
        let model = &self.resolver.models[index];
        let class = self.resolver.class((model.file, model.class));
        let mut table = Table {
            name: model.table.clone(),
            model: model.name.clone(),
            framework: Framework::Django,
            dialect: self.dialect,
            managed: model.managed,
            unknown_indexes: None,
            dialect_assumed: false,
            location: Some(self.location(model.file, class.span)),
            columns: Vec::new(),
            foreign_keys: Vec::new(),
            generic_foreign_keys: Vec::new(),
            indexes: Vec::new(),
        };
        let members = self.effective_members(index);
        let fields = members.fields;
        let mut has_pk = false;
        // Multi-table inheritance: `<parent>_ptr` is the PK and an FK to the parent.
        let concrete_parent = model
            .parents
            .iter()
            .find(|p| !self.resolver.models[**p].is_abstract);
        let explicit_parent_link = fields.iter().any(|f| f.decl.parent_link);
        if let Some(parent) = concrete_parent
            && !explicit_parent_link
        {
            let parent = &self.resolver.models[*parent];
            let column = format!("{}_ptr_id", parent.name.to_ascii_lowercase());
            table.columns.push(Column {
                primary_key: true,
                location: table.location.clone(),
                ..Column::new(
                    column.clone(),
                    format!("{}_ptr", parent.name.to_ascii_lowercase()),
                )
            });
            table.foreign_keys.push(ForeignKey {
                columns: vec![column.clone()],
                ref_table: Some(parent.table.clone()),
                ref_columns: vec!["id".into()],
                enforced: true,
                relation_only: false,
                field: format!("{}_ptr", parent.name.to_ascii_lowercase()),
                location: table.location.clone(),
            });
            let mut pk = Index::new(vec![IndexPart::column(column)], IndexOrigin::PrimaryKey);
            pk.unique = true;
            table.indexes.push(pk);
            has_pk = true;
        }
        let mut attname_to_column: FxHashMap<String, String> = FxHashMap::default();
        for field in &fields {
            let decl = field.decl;
            if decl.is_many_to_many() {
                continue;
            }
            let is_fk = decl.is_relation();
            let column = decl.db_column.clone().unwrap_or_else(|| {
                if is_fk {
                    format!("{}_id", decl.attr)
                } else {
                    decl.attr.clone()
                }
            });
            attname_to_column.insert(decl.attr.clone(), column.clone());
            if is_fk {
                attname_to_column.insert(format!("{}_id", decl.attr), column.clone());
            }
            let primary_key = decl.primary_key;
            let location = self.location(field.file, decl.statement);
            table.columns.push(Column {
                primary_key,
                type_family: decl.type_family(),
                location: Some(location.clone()),
                ..Column::new(column.clone(), decl.attr.clone())
            });
            let make = |origin: IndexOrigin, unique: bool| {
                let mut index = Index::new(vec![IndexPart::column(column.clone())], origin);
                index.unique = unique;
                index.field = Some(decl.attr.clone());
                index.location = Some(location.clone());
                index
            };
            if primary_key {
                has_pk = true;
                table.indexes.push(make(IndexOrigin::PrimaryKey, true));
            } else if decl.unique || decl.is_one_to_one() {
                table.indexes.push(make(IndexOrigin::UniqueField, true));
            } else {
                // Django indexes a field when `db_index and not unique`; db_index
                // defaults to True for ForeignKey, OneToOneField and SlugField.
                let default = is_fk || decl.kind == "SlugField";
                let db_index = decl.db_index.unwrap_or(default);
                // MySQL: Django leaves FK indexes to InnoDB unless db_constraint=False.
                let left_to_innodb = is_fk && self.dialect == Dialect::Mysql && decl.db_constraint;
                if db_index && !left_to_innodb {
                    let origin = if is_fk && decl.db_index.is_none() {
                        IndexOrigin::FrameworkImplicit
                    } else {
                        IndexOrigin::FieldFlag
                    };
                    table.indexes.push(make(origin, false));
                }
            }
            if is_fk {
                let (_, ref_table) = decl
                    .target
                    .as_ref()
                    .map(|t| self.resolve_target(index, t))
                    .unwrap_or((None, None));
                table.foreign_keys.push(ForeignKey {
                    columns: vec![column.clone()],
                    ref_table,
                    ref_columns: vec![decl.to_field.clone().unwrap_or_else(|| "id".into())],
                    enforced: decl.db_constraint,
                    relation_only: false,
                    field: decl.attr.clone(),
                    location: Some(location.clone()),
                });
            }
        }
        if !has_pk {
            // The implicit key is `DEFAULT_AUTO_FIELD` (or the app's
            // `default_auto_field`), which Django requires to subclass
            // `AutoField`: an integer whatever the setting says.
            table.columns.insert(
                0,
                Column {
                    primary_key: true,
                    type_family: Some(TypeFamily::Integer),
                    ..Column::new("id", "id")
                },
            );
            let mut pk = Index::new(vec![IndexPart::column("id")], IndexOrigin::PrimaryKey);
            pk.unique = true;
            table.indexes.push(pk);
            // `Index(fields=["-id"])` names the implicit key too.
            attname_to_column
                .entry("id".into())
                .or_insert_with(|| "id".into());
        }
        attname_to_column.insert(
            "pk".into(),
            table
                .columns
                .iter()
                .find(|c| c.primary_key)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "id".into()),
        );
        // A GenericForeignKey is two real fields (Django resolves them
        // with `_meta.get_field`, which knows attnames too); when either is
        // not a column here, ixray says nothing of it.
        for generic in &members.generic_foreign_keys {
            let decl = generic.decl;
            let column = |name: &Option<String>| {
                name.as_ref()
                    .and_then(|n| attname_to_column.get(n))
                    .cloned()
            };
            if let (Some(type_column), Some(id_column)) =
                (column(&decl.ct_field), column(&decl.fk_field))
                && type_column != id_column
            {
                table.generic_foreign_keys.push(GenericForeignKey {
                    field: decl.attr.clone(),
                    type_column,
                    id_column,
                    location: Some(self.location(generic.file, decl.statement)),
                });
            }
        }
        self.add_meta_indexes(index, &attname_to_column, &mut table);
        // `Index(fields=["id"])` names the implicit primary key too.
        let mut code_columns = attname_to_column.clone();
        for column in &table.columns {
            code_columns
                .entry(column.field.clone())
                .or_insert_with(|| column.name.clone());
        }
        states.insert(
            index,
            self.code_state(index, &fields, &code_columns, &table.name),
        );
        tables.push(table);
        for field in fields.iter().filter(|f| f.decl.is_many_to_many()) {
            if let Some(through) = self.auto_through_table(index, field) {
                tables.push(through);
            }
        }
    }

    fn add_meta_indexes(
        &self,
        index: usize,
        columns: &FxHashMap<String, String>,
        table: &mut Table,
    ) {
        let model = &self.resolver.models[index];
        let Some(meta_at) = model.meta_from else {
            return;
        };
        let substitute = |name: &str| {
            name.replace("%(app_label)s", &model.app_label.to_ascii_lowercase())
                .replace("%(class)s", &model.name.to_ascii_lowercase())
        };
        let indexes = self.meta_list(meta_at, |m| m.indexes.as_ref());
        for (file, decl) in indexes {
            if let Some(mut built) =
                self.index_from_decl(decl, columns, &table.name, IndexOrigin::Declared)
            {
                built.name = built.name.map(|n| substitute(&n));
                built.location = Some(self.location(file, decl.span));
                table.indexes.push(built);
            }
        }
        let constraints = self.meta_list(meta_at, |m| m.constraints.as_ref());
        for (file, decl) in constraints {
            if decl.class != "UniqueConstraint" {
                continue;
            }
            if let Some(mut built) =
                self.index_from_decl(decl, columns, &table.name, IndexOrigin::UniqueConstraint)
            {
                built.unique = true;
                built.name = built.name.map(|n| substitute(&n));
                built.location = Some(self.location(file, decl.span));
                table.indexes.push(built);
            }
        }
        let meta_location = |at: (usize, usize)| {
            let class = self.resolver.class(at);
            class.meta.as_ref().map(|m| self.location(at.0, m.span))
        };
        if let Some((at, groups)) = self.meta_value(meta_at, |m| m.unique_together.clone()) {
            for group in groups {
                if let Some(parts) = group
                    .iter()
                    .map(|f| columns.get(f).cloned().map(IndexPart::column))
                    .collect::<Option<Vec<_>>>()
                {
                    let mut built = Index::new(parts, IndexOrigin::UniqueConstraint);
                    built.unique = true;
                    built.location = meta_location(at);
                    table.indexes.push(built);
                }
            }
        }
        if let Some((at, groups)) = self.meta_value(meta_at, |m| m.index_together.clone()) {
            for group in groups {
                if let Some(parts) = group
                    .iter()
                    .map(|f| columns.get(f).cloned().map(IndexPart::column))
                    .collect::<Option<Vec<_>>>()
                {
                    let mut built = Index::new(parts, IndexOrigin::Declared);
                    built.location = meta_location(at);
                    table.indexes.push(built);
                }
            }
        }
    }

    /// What the model declares, in the terms `makemigrations` compares
    /// with the migration state.
    fn code_state(
        &self,
        index: usize,
        fields: &[EffectiveField],
        columns: &FxHashMap<String, String>,
        table: &str,
    ) -> CodeState {
        let model = &self.resolver.models[index];
        let mut state = CodeState {
            fields: fields
                .iter()
                .filter(|f| !f.decl.is_many_to_many())
                .map(|f| {
                    let text = self.project.files[f.file].source.text.as_str();
                    (f.decl.attr.clone(), code_field_spec(f.decl, text))
                })
                .collect(),
            meta_certain: self.meta_certain(index),
            ..CodeState::default()
        };
        let Some(meta_at) = model.meta_from else {
            return state;
        };
        let substitute = |name: &str| {
            name.replace("%(app_label)s", &model.app_label.to_ascii_lowercase())
                .replace("%(class)s", &model.name.to_ascii_lowercase())
        };
        for (_, decl) in self.meta_list(meta_at, |m| m.indexes.as_ref()) {
            let name = match &decl.name {
                Some(name) => Some(substitute(name)),
                None => self
                    .index_from_decl(decl, columns, table, IndexOrigin::Declared)
                    .and_then(|i| i.name),
            };
            match name {
                Some(name) => state.indexes.push((name, decl.clone())),
                None => state.meta_certain = false,
            }
        }
        for (_, decl) in self.meta_list(meta_at, |m| m.constraints.as_ref()) {
            match &decl.name {
                Some(name) => state.constraint_names.push(substitute(name)),
                None => state.meta_certain = false,
            }
        }
        if let Some((_, groups)) = self.meta_value(meta_at, |m| m.unique_together.clone()) {
            state.unique_together = groups;
        }
        state
    }

    /// Whether ixray reads every Meta option of the model that
    /// `makemigrations` compares: the lists are literals, `class
    /// Meta(Base.Meta)` bases are project classes, and no class outside
    /// the project is among its ancestors (its Meta, or its metaclass, may
    /// add indexes: django-mptt's `MPTTModel` adds `(tree_id, lft)`).
    fn meta_certain(&self, index: usize) -> bool {
        let model = &self.resolver.models[index];
        let mut stack = vec![(model.file, model.class)];
        let mut seen = FxHashSet::default();
        while let Some(at) = stack.pop() {
            if !seen.insert(at) {
                continue;
            }
            let class = self.resolver.class(at);
            let imports = &self.project.files[at.0].imports;
            for base in &class.bases {
                match self.resolver.lookup_class(at, base) {
                    Some(parent) => stack.push(parent),
                    None if base == "object" || is_django_model_base(base, imports) => {}
                    // A plain class of the project (a mixin in a module
                    // that holds no model): it gives no Meta.
                    None if imports
                        .from_imports
                        .iter()
                        .find(|(local, _, _)| local == base)
                        .is_some_and(|(_, module, _)| {
                            crate::frameworks::python::module_file(
                                module,
                                &self.project.files[at.0].source.path,
                            )
                            .is_some()
                        }) => {}
                    None => return false,
                }
            }
        }
        let Some(mut at) = model.meta_from else {
            return true;
        };
        // Every Meta of the `class Meta(Base.Meta)` chain: its bases
        // resolve, its lists are literals, and options it assigns are read.
        for _ in 0..32 {
            let class = self.resolver.class(at);
            let Some(meta) = class.meta.as_ref() else {
                return true;
            };
            let text = &self.project.files[at.0].source.text[meta.span.start..meta.span.end];
            let lists_read = [&meta.indexes, &meta.constraints].iter().all(|list| {
                list.as_ref().is_none_or(|l| {
                    !l.partial
                        && l.inherited.iter().all(|name| {
                            name.rsplit_once(".Meta.").is_some_and(|(class, _)| {
                                self.resolver.lookup_class(at, class).is_some()
                            })
                        })
                })
            });
            let together_read = (meta.unique_together.is_some()
                || !text.contains("unique_together"))
                && (meta.index_together.is_some() || !text.contains("index_together"));
            if !lists_read || !together_read {
                return false;
            }
            let Some(base) = meta.bases.iter().find_map(|b| b.strip_suffix(".Meta")) else {
                return meta.bases.iter().all(|b| b == "object");
            };
            match self.resolver.lookup_class(at, base) {
                Some(next) => at = next,
                None => return false,
            }
        }
        false
    }

    /// An option's value and the class whose Meta set it, following
    /// `class Meta(Parent.Meta)`.
    fn meta_value<T>(
        &self,
        at: (usize, usize),
        get: impl Fn(&'a MetaDecl) -> Option<T>,
    ) -> Option<((usize, usize), T)> {
        self.resolver.meta_value(at, get)
    }

    /// The entries of `indexes`/`constraints` that apply, with inherited
    /// lists (`Base.Meta.indexes + [...]`) expanded.
    fn meta_list(
        &self,
        at: (usize, usize),
        get: impl Fn(&'a MetaDecl) -> Option<&'a IndexList> + Copy,
    ) -> Vec<(usize, &'a IndexDecl)> {
        let mut out = Vec::new();
        self.expand_list(at, get, &mut out, 0);
        out
    }

    fn expand_list(
        &self,
        at: (usize, usize),
        get: impl Fn(&'a MetaDecl) -> Option<&'a IndexList> + Copy,
        out: &mut Vec<(usize, &'a IndexDecl)>,
        depth: usize,
    ) {
        if depth > 16 {
            return;
        }
        let Some((owner, list)) = self.meta_value(at, get) else {
            return;
        };
        for inherited in &list.inherited {
            if let Some(class_name) = inherited
                .strip_suffix(".Meta.indexes")
                .or_else(|| inherited.strip_suffix(".Meta.constraints"))
                && let Some(parent) = self.resolver.lookup_class(owner, class_name)
            {
                self.expand_list(parent, get, out, depth + 1);
            }
        }
        for item in &list.items {
            out.push((owner.0, item));
        }
    }

    fn index_from_decl(
        &self,
        decl: &IndexDecl,
        columns: &FxHashMap<String, String>,
        table: &str,
        origin: IndexOrigin,
    ) -> Option<Index> {
        index_from_decl(decl, columns, table, origin, self.dialect)
    }

    /// The join table Django creates for a `ManyToManyField` without `through`.
    fn auto_through_table(&self, owner: usize, field: &EffectiveField) -> Option<Table> {
        let decl = field.decl;
        if decl.through.is_some() {
            return None;
        }
        let owner_model = &self.resolver.models[owner];
        let (target, target_table) = self.resolve_target(owner, decl.target.as_ref()?);
        let target_name = match target {
            Some(t) => self.resolver.models[t].name.to_ascii_lowercase(),
            None => match decl.target.as_ref()? {
                Target::Label(l) => l.rsplit('.').next()?.to_ascii_lowercase(),
                Target::AuthUserModel => self
                    .auth_user_model
                    .rsplit('.')
                    .next()?
                    .to_ascii_lowercase(),
                _ => return None,
            },
        };
        let owner_name = owner_model.name.to_ascii_lowercase();
        let (from, to) = if target == Some(owner) {
            (
                format!("from_{owner_name}_id"),
                format!("to_{owner_name}_id"),
            )
        } else {
            (format!("{owner_name}_id"), format!("{target_name}_id"))
        };
        let name = decl
            .db_table
            .clone()
            .unwrap_or_else(|| format!("{}_{}", owner_model.table, decl.attr));
        let location = self.location(field.file, decl.statement);
        let fk = |column: &str, ref_table: Option<String>| ForeignKey {
            columns: vec![column.to_string()],
            ref_table,
            ref_columns: vec!["id".into()],
            enforced: true,
            relation_only: false,
            field: decl.attr.clone(),
            location: Some(location.clone()),
        };
        let locked = |parts: Vec<IndexPart>, origin: IndexOrigin, unique: bool| {
            let mut index = Index::new(parts, origin);
            index.unique = unique;
            index.locked = true;
            index.location = Some(location.clone());
            index
        };
        let mut indexes = vec![
            locked(vec![IndexPart::column("id")], IndexOrigin::PrimaryKey, true),
            locked(
                vec![
                    IndexPart::column(from.clone()),
                    IndexPart::column(to.clone()),
                ],
                IndexOrigin::UniqueConstraint,
                true,
            ),
        ];
        if self.dialect != Dialect::Mysql {
            indexes.push(locked(
                vec![IndexPart::column(from.clone())],
                IndexOrigin::FrameworkImplicit,
                false,
            ));
            indexes.push(locked(
                vec![IndexPart::column(to.clone())],
                IndexOrigin::FrameworkImplicit,
                false,
            ));
        }
        Some(Table {
            name,
            model: format!("{}.{}", owner_model.name, decl.attr),
            framework: Framework::Django,
            dialect: self.dialect,
            managed: owner_model.managed,
            unknown_indexes: None,
            dialect_assumed: false,
            location: Some(location.clone()),
            columns: ["id", &from, &to]
                .iter()
                .map(|c| Column {
                    primary_key: *c == "id",
                    type_family: (*c == "id").then_some(TypeFamily::Integer),
                    ..Column::new(*c, *c)
                })
                .collect(),
            foreign_keys: vec![
                fk(&from, Some(owner_model.table.clone())),
                fk(&to, target_table),
            ],
            generic_foreign_keys: Vec::new(),
            indexes,
        })
    }
}

/// Build an index from a `Meta.indexes`/`constraints` entry or a migration's
/// `AddIndex`; `columns` maps field names and attnames to SQL columns.
fn index_from_decl(
    decl: &IndexDecl,
    columns: &FxHashMap<String, String>,
    table: &str,
    origin: IndexOrigin,
    dialect: Dialect,
) -> Option<Index> {
    let method = match decl.class.as_str() {
        "Index" | "BTreeIndex" | "UniqueConstraint" => IndexMethod::Btree,
        "GinIndex" => IndexMethod::Gin,
        "GistIndex" => IndexMethod::Gist,
        "BrinIndex" => IndexMethod::Brin,
        "HashIndex" => IndexMethod::Hash,
        "SpGistIndex" => IndexMethod::Spgist,
        "BloomIndex" => IndexMethod::Bloom,
        other => IndexMethod::Other(other.to_string()),
    };
    let predicate = match &decl.condition {
        None => None,
        // Django does not create partial indexes on MySQL at all.
        Some(_) if dialect == Dialect::Mysql => return None,
        Some(condition) => Some(condition_predicate(condition, columns)),
    };
    let mut parts = Vec::new();
    for (i, (field, desc)) in decl.fields.iter().enumerate() {
        let column = columns.get(field)?.clone();
        parts.push(IndexPart {
            key: IndexKey::Column(column),
            desc: *desc,
            opclass: decl.opclasses.get(i).cloned(),
        });
    }
    for expression in &decl.expressions {
        parts.push(IndexPart {
            key: IndexKey::Expression(expression.clone()),
            desc: false,
            opclass: None,
        });
    }
    if parts.is_empty() {
        return None;
    }
    let mut index = Index::new(parts, origin);
    index.method = method;
    index.predicate = predicate;
    index.include = decl
        .include
        .iter()
        .filter_map(|f| columns.get(f).cloned())
        .collect();
    index.name = decl.name.clone().or_else(|| {
        (decl.expressions.is_empty() && origin == IndexOrigin::Declared).then(|| {
            let cols: Vec<(String, bool)> = index
                .parts
                .iter()
                .filter_map(|p| Some((p.column_name()?.to_string(), p.desc)))
                .collect();
            auto_index_name(table, &cols)
        })
    });
    Some(index)
}

/// `Q(...)` lookups as a SQL predicate on columns.
fn condition_predicate(condition: &Condition, columns: &FxHashMap<String, String>) -> Predicate {
    let lookups = match condition {
        Condition::Raw(text) => return Predicate::new(vec![Conjunct::Other(text.clone())]),
        Condition::All(lookups) => lookups,
    };
    let conjuncts = lookups
        .iter()
        .map(|lookup| {
            let Some(column) = columns.get(&lookup.path) else {
                return Conjunct::Other(format!(
                    "{}__{} = {}",
                    lookup.path, lookup.lookup, lookup.value
                ));
            };
            let value = python_to_sql(&lookup.value);
            // Booleans as ixray's rules write predicates (`enabled`, `NOT
            // enabled`), so a partial index `fix` declared reads back as
            // the index it planned.
            let sql = match (lookup.lookup.as_str(), lookup.value.as_str()) {
                ("isnull", "False") => format!("{column} IS NOT NULL"),
                ("isnull", "True") | ("exact", "None") => format!("{column} IS NULL"),
                ("exact", "True") => column.clone(),
                ("exact", "False") => format!("NOT {column}"),
                ("exact", _) => format!("{column} = {value}"),
                ("gt", _) => format!("{column} > {value}"),
                ("gte", _) => format!("{column} >= {value}"),
                ("lt", _) => format!("{column} < {value}"),
                ("lte", _) => format!("{column} <= {value}"),
                (other, _) => format!("{column} {other} {value}"),
            };
            let sql = if lookup.negated {
                format!("NOT ({sql})")
            } else {
                sql
            };
            let mut read = crate::schema::sql::predicate(&sql).conjuncts;
            match (read.pop(), read.is_empty()) {
                (Some(conjunct), true) => conjunct,
                _ => Conjunct::Other(sql),
            }
        })
        .collect();
    Predicate::new(conjuncts)
}

fn python_to_sql(value: &str) -> String {
    match value {
        "True" => "true".into(),
        "False" => "false".into(),
        "None" => "NULL".into(),
        v if (v.starts_with('"') && v.ends_with('"'))
            || (v.starts_with('\'') && v.ends_with('\'')) =>
        {
            format!("'{}'", &v[1..v.len() - 1])
        }
        v => v.to_string(),
    }
}

/// The name Django gives an index declared with `fields` and no `name`
/// (`Index.set_name_with_model`): at most 30 characters.
pub fn auto_index_name(table: &str, columns: &[(String, bool)]) -> String {
    let mut hasher = Md5::new();
    hasher.update(table.as_bytes());
    for (column, desc) in columns {
        if *desc {
            hasher.update(b"-");
        }
        hasher.update(column.as_bytes());
    }
    hasher.update(b"idx");
    let digest = format!("{:x}", hasher.finalize());
    let first = columns.first().map(|c| c.0.as_str()).unwrap_or("");
    let mut name = format!(
        "{}_{}_{}_idx",
        truncate_chars(table, 11),
        truncate_chars(first, 7),
        &digest[..6]
    );
    if name.starts_with('_') || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.replace_range(..1, "D");
    }
    name
}

fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The app folders whose migrations depend on one that does not exist:
/// Django refuses to migrate them, so none of their migrations has run.
fn broken_apps(
    graph: &[GraphNode],
    label_of: &dyn Fn(&Path) -> Option<String>,
    errors: &mut Vec<InputError>,
) -> FxHashSet<PathBuf> {
    let mut by_app: BTreeMap<&Path, Vec<&GraphNode>> = BTreeMap::new();
    for node in graph {
        by_app.entry(node.app_dir.as_path()).or_default().push(node);
    }
    let mut broken = FxHashSet::default();
    for (dir, nodes) in by_app {
        let Some(label) = label_of(dir) else {
            continue;
        };
        if let Some(reason) = super::migrations::broken_dependency(&nodes, &label) {
            errors.push(InputError::new(
                &dir.join("migrations"),
                format!(
                    "broken migration graph of app `{label}`: {reason}; its migrations are not replayed"
                ),
            ));
            broken.insert(dir.to_path_buf());
        }
    }
    broken
}

/// Replay each installed app's migrations (not those of a broken graph).
fn replay_histories(
    project: &DjangoProject,
    label_of: &dyn Fn(&Path) -> Option<String>,
    broken: &FxHashSet<PathBuf>,
    settings: &history::Settings,
) -> Vec<AppHistory> {
    let mut by_app: BTreeMap<&Path, Vec<&MigrationFile>> = BTreeMap::new();
    for migration in &project.migrations {
        by_app
            .entry(migration.app_dir.as_path())
            .or_default()
            .push(migration);
    }
    by_app
        .into_iter()
        .filter(|(dir, _)| !broken.contains(*dir))
        .filter_map(|(dir, migrations)| {
            let label = label_of(dir)?;
            let (ordered, leaves) = history::order(&label, &migrations);
            Some(history::replay(&label, dir, &ordered, &leaves, settings))
        })
        .collect()
}

/// Indexes the history leaves in the database that no model declares join
/// the model's table: they count as cover. Those `makemigrations` would
/// drop are drift; they are returned with what a fix must declare.
fn apply_histories(
    project: &DjangoProject,
    resolver: &Resolver,
    code_states: &FxHashMap<usize, CodeState>,
    dialect: Dialect,
    tables: &mut [Table],
) -> Vec<Drift> {
    let table_ix: FxHashMap<String, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut drift = Vec::new();
    for app in &project.histories {
        for (key, state) in &app.models {
            if !state.managed || state.proxy {
                continue;
            }
            let Some(model) = resolver.model_by_label(&app.label, key) else {
                continue;
            };
            let m = &project.models[model];
            if m.is_abstract || m.proxy || !m.installed || !m.managed {
                continue;
            }
            let (Some(&at), Some(code)) = (table_ix.get(&m.table), code_states.get(&model)) else {
                continue;
            };
            // The state and the model name the same table; a `db_table`
            // changed without a migration moves it, which is not drift. (A
            // partial state does not know its table.)
            if !state.created_by.is_empty() && state.table(&app.label) != m.table {
                continue;
            }
            let certain = app.uncertainty(key).is_none();
            // Columns the state does not know (a partial state) are the
            // model's.
            let mut columns: FxHashMap<String, String> = FxHashMap::default();
            for column in &tables[at].columns {
                if column.name.ends_with("_id") && column.field != column.name {
                    columns.insert(column.name.clone(), column.name.clone());
                }
                columns.insert(column.field.clone(), column.name.clone());
            }
            columns.extend(state.columns());
            for (index, source) in
                state_indexes(state, &m.table, &columns, dialect, &app.dropped_by_sql)
            {
                let table = &mut tables[at];
                let declared = table.indexes.iter().any(|existing| {
                    (existing.name.is_some() && existing.name == index.name)
                        || (existing.parts == index.parts
                            && existing.predicate == index.predicate
                            && existing.unique == index.unique
                            && existing.method == index.method)
                });
                if declared {
                    continue;
                }
                // An index the model declares on the same key parts
                // replaces it: nothing is lost.
                let replaced = table.indexes.iter().any(|existing| {
                    existing.parts == index.parts && existing.origin != IndexOrigin::Migration
                });
                let mut index = index;
                index.drift =
                    certain && !replaced && makemigrations_drops(&source, state, code, dialect);
                // What the model does not declare and `makemigrations`
                // keeps comes from code ixray does not see (a library base
                // such as django-mptt's): nothing the user can remove.
                index.locked = !index.drift;
                if index.drift
                    && let Some(kind) = source.drift_kind()
                    && let Some(location) = &index.location
                {
                    drift.push(Drift {
                        table: table.name.clone(),
                        location: location.clone(),
                        columns: index
                            .parts
                            .iter()
                            .filter_map(|p| p.column_name().map(str::to_string))
                            .collect(),
                        kind,
                    });
                }
                table.indexes.push(index);
            }
        }
        // Raw SQL indexes are outside the state: cover, never drift.
        for (table_name, index) in &app.sql_indexes {
            let Some(&at) = table_ix.get(table_name) else {
                continue;
            };
            let table = &mut tables[at];
            let declared = table.indexes.iter().any(|existing| {
                (existing.name.is_some() && existing.name == index.name)
                    || (existing.parts == index.parts
                        && existing.predicate == index.predicate
                        && existing.unique == index.unique
                        && existing.method == index.method
                        && existing.origin != IndexOrigin::Migration)
            });
            if !declared {
                table.indexes.push(index.clone());
            }
        }
    }
    drift
}

/// Tables only the migration history knows: a `CreateModel` whose model no
/// module ixray reads declares (a base class from outside the project, a
/// model built by code). The database has them as the history left them,
/// so they are analysed with what it says; no model can be edited.
fn history_only_tables(
    project: &DjangoProject,
    resolver: &Resolver,
    code_tables: &[Table],
    auth_user_model: &str,
    dialect: Dialect,
) -> Vec<Table> {
    let known: FxHashSet<&str> = code_tables.iter().map(|t| t.name.as_str()).collect();
    // A relation target `"app.model"` to its table: the model's, the
    // history's, django.contrib's, else Django's default name.
    let target_table = |label: &str| -> Option<String> {
        let (app, name) = label.split_once('.')?;
        let lower = name.to_ascii_lowercase();
        if let Some(model) = resolver.model_by_label(app, &lower) {
            return Some(project.models[model].table.clone());
        }
        if let Some(state) = project
            .histories
            .iter()
            .find(|h| h.label == app)
            .and_then(|h| h.models.get(&lower))
        {
            return Some(state.table(app));
        }
        Some(contrib_model(app, name).map_or_else(
            || format!("{app}_{lower}"),
            |(_, _, table)| table.to_string(),
        ))
    };
    let mut out: Vec<Table> = Vec::new();
    for app in &project.histories {
        for (key, state) in &app.models {
            // An uncertain state may hold a model a migration ixray
            // cannot read deleted or moved: only a certain one is a table.
            if !state.managed
                || state.proxy
                || state.created_by.is_empty()
                || app.uncertainty(key).is_some()
                || resolver.model_by_label(&app.label, key).is_some()
            {
                continue;
            }
            let name = state.table(&app.label);
            if known.contains(name.as_str()) || out.iter().any(|t| t.name == name) {
                continue;
            }
            let mut table = Table {
                name: name.clone(),
                model: state.name.clone(),
                framework: Framework::Django,
                dialect,
                dialect_assumed: false,
                managed: true,
                unknown_indexes: None,
                location: Some(state.place.location()),
                columns: Vec::new(),
                foreign_keys: Vec::new(),
                indexes: Vec::new(),
                generic_foreign_keys: Vec::new(),
            };
            for field in &state.fields {
                let Some(column) = field.column() else {
                    continue;
                };
                table.columns.push(Column {
                    primary_key: field.spec.primary_key,
                    ..Column::new(column.clone(), field.spec.name.clone())
                });
                if field.spec.primary_key {
                    let mut pk =
                        Index::new(vec![IndexPart::column(&column)], IndexOrigin::PrimaryKey);
                    pk.unique = true;
                    pk.locked = true;
                    pk.location = Some(field.place.location());
                    table.indexes.push(pk);
                }
                if history::is_foreign_key(&field.spec.kind) {
                    let ref_table = match &field.spec.target {
                        Some(Target::Label(label)) if label == "self" => Some(name.clone()),
                        Some(Target::Label(label)) => target_table(label),
                        Some(Target::AuthUserModel) => target_table(auth_user_model),
                        _ => None,
                    };
                    table.foreign_keys.push(ForeignKey {
                        columns: vec![column],
                        ref_table,
                        ref_columns: vec![
                            field.spec.to_field.clone().unwrap_or_else(|| "id".into()),
                        ],
                        enforced: field.spec.db_constraint,
                        relation_only: false,
                        field: field.spec.name.clone(),
                        location: Some(field.place.location()),
                    });
                }
            }
            let columns = state.columns();
            for (mut index, _) in
                state_indexes(state, &name, &columns, dialect, &app.dropped_by_sql)
            {
                // Only a migration can change them.
                index.locked = true;
                table.indexes.push(index);
            }
            for (_, index) in app.sql_indexes.iter().filter(|(t, _)| *t == name) {
                table.indexes.push(index.clone());
            }
            out.push(table);
        }
    }
    out
}

/// Tables a `RunSQL` creates, as its SQL says (Django's state does not
/// describe them): an unmanaged model's table, for which Django makes no
/// DDL and so no index, and a table no model declares. Both are analysed
/// (the model's foreign keys whose column the SQL has count too, without a
/// constraint unless the SQL writes one) and never edited: only SQL changes
/// them. A table a managed model (or the state) describes stays as it is;
/// one a statement ixray cannot follow touched stays unknown. Returns the
/// tables so built, with the migration that creates each.
fn apply_sql_tables(
    project: &DjangoProject,
    tables: &mut Vec<Table>,
    dialect: Dialect,
) -> BTreeMap<String, String> {
    let mut built = BTreeMap::new();
    for app in &project.histories {
        for (name, sql) in &app.sql_tables {
            if sql.uncertain.is_some() || built.contains_key(name) {
                continue;
            }
            let existing = tables.iter().position(|t| &t.name == name);
            if existing.is_some_and(|at| tables[at].managed) {
                continue;
            }
            let mut table =
                sql.create
                    .to_table(Framework::Django, dialect, Some(sql.place.location()));
            // The raw SQL indexes on it.
            for (_, index) in project
                .histories
                .iter()
                .flat_map(|h| &h.sql_indexes)
                .filter(|(t, _)| t == name)
            {
                table.indexes.push(Index {
                    locked: true,
                    ..index.clone()
                });
            }
            match existing {
                Some(at) => tables[at] = merge_model(&tables[at], table),
                None => tables.push(table),
            }
            built.insert(name.clone(), sql.migration.clone());
        }
    }
    if !built.is_empty() {
        tables.sort_by(|a, b| a.name.cmp(&b.name));
    }
    built
}

/// An unmanaged model's table (`model`) as the SQL that made it says
/// (`table`: its columns, keys and indexes): what the model declares names
/// them (fields, where they are) and adds the foreign keys the SQL did not
/// constrain. Django creates no index for an unmanaged model, so none of
/// the model's own counts.
fn merge_model(model: &Table, mut table: Table) -> Table {
    table.model = model.model.clone();
    table.location = model.location.clone();
    table.dialect_assumed = model.dialect_assumed;
    for column in &mut table.columns {
        if let Some(declared) = model.columns.iter().find(|c| c.name == column.name) {
            column.field = declared.field.clone();
            column.location = declared.location.clone();
        }
    }
    for fk in &mut table.foreign_keys {
        if let Some(declared) = model.foreign_keys.iter().find(|f| f.columns == fk.columns) {
            fk.field = declared.field.clone();
            fk.location = declared.location.clone();
        }
    }
    let has_column = |name: &str| table.columns.iter().any(|c| c.name == name);
    let unconstrained: Vec<ForeignKey> = model
        .foreign_keys
        .iter()
        .filter(|f| f.columns.iter().all(|c| has_column(c)))
        .filter(|f| !table.foreign_keys.iter().any(|s| s.columns == f.columns))
        .map(|f| ForeignKey {
            enforced: false,
            ..f.clone()
        })
        .collect();
    table.foreign_keys.extend(unconstrained);
    table.generic_foreign_keys = model
        .generic_foreign_keys
        .iter()
        .filter(|g| has_column(&g.type_column) && has_column(&g.id_column))
        .cloned()
        .collect();
    table
}

/// What in the state makes an index.
enum StateSource<'s> {
    Field { field: &'s str, unique: bool },
    Index(&'s StateIndex),
    Constraint(&'s StateIndex),
    UniqueTogether(&'s [String]),
    IndexTogether,
}

impl StateSource<'_> {
    /// What a fix must declare; `None` for what is never drift.
    fn drift_kind(&self) -> Option<DriftKind> {
        Some(match self {
            StateSource::Field { field, unique } => DriftKind::Field {
                field: field.to_string(),
                unique: *unique,
            },
            StateSource::Index(item) => DriftKind::Index {
                code: item.code.clone(),
            },
            StateSource::Constraint(item) => DriftKind::Constraint {
                code: item.code.clone(),
            },
            StateSource::UniqueTogether(fields) => DriftKind::UniqueTogether {
                fields: fields.to_vec(),
            },
            StateSource::IndexTogether => return None,
        })
    }
}

/// Every index the state gives a model's table, as the database has it,
/// with the declaration behind it.
fn state_indexes<'s>(
    state: &'s ModelState,
    table: &str,
    columns: &FxHashMap<String, String>,
    dialect: Dialect,
    dropped_by_sql: &[String],
) -> Vec<(Index, StateSource<'s>)> {
    let mut out = Vec::new();
    for field in &state.fields {
        let (Some(column), false) = (field.column(), field.spec.unreadable) else {
            continue;
        };
        let (plain, unique) = history::field_indexes(&field.spec, dialect);
        for (present, unique) in [(plain, false), (unique, true)] {
            if present {
                let mut index =
                    Index::new(vec![IndexPart::column(&column)], IndexOrigin::Migration);
                index.unique = unique;
                index.field = Some(field.spec.name.clone());
                index.location = Some(field.place.location());
                out.push((
                    index,
                    StateSource::Field {
                        field: &field.spec.name,
                        unique,
                    },
                ));
            }
        }
    }
    // What the database no longer has is neither cover nor drift.
    let dropped = |item: &StateIndex| {
        !item.in_database
            || item
                .decl
                .name
                .as_ref()
                .is_some_and(|n| dropped_by_sql.contains(n))
    };
    for item in state.indexes.iter().filter(|i| !dropped(i)) {
        if let Some(mut index) =
            index_from_decl(&item.decl, columns, table, IndexOrigin::Migration, dialect)
        {
            index.location = Some(item.place.location());
            out.push((index, StateSource::Index(item)));
        }
    }
    for item in state
        .constraints
        .iter()
        .filter(|c| c.decl.class == "UniqueConstraint" && !dropped(c))
    {
        if let Some(mut index) =
            index_from_decl(&item.decl, columns, table, IndexOrigin::Migration, dialect)
        {
            index.unique = true;
            index.location = Some(item.place.location());
            out.push((index, StateSource::Constraint(item)));
        }
    }
    for (together, unique) in state
        .unique_together
        .iter()
        .map(|t| (t, true))
        .chain(state.index_together.iter().map(|t| (t, false)))
        .filter(|(t, _)| t.in_database)
    {
        let Some(parts) = together
            .fields
            .iter()
            .map(|f| columns.get(f).map(IndexPart::column))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let mut index = Index::new(parts, IndexOrigin::Migration);
        index.unique = unique;
        index.location = Some(together.place.location());
        // `index_together` is never drift: Django 5.1+ leaves what old
        // migrations made alone, and older versions keep it in the model.
        let source = if unique {
            StateSource::UniqueTogether(&together.fields)
        } else {
            StateSource::IndexTogether
        };
        out.push((index, source));
    }
    out
}

/// Whether `makemigrations` would write an operation that drops this
/// index of the state, given what the model declares, as Django's
/// autodetector decides: `Meta.indexes` by name, with renames detected;
/// constraints by name; `unique_together` as a set; fields by their flags.
fn makemigrations_drops(
    source: &StateSource,
    state: &ModelState,
    code: &CodeState,
    dialect: Dialect,
) -> bool {
    match source {
        StateSource::Field { field, unique } => {
            // A field the model no longer has is removed (or renamed)
            // with its column: not an index change.
            let Some((_, Some(spec))) = code.fields.iter().find(|(name, _)| name == field) else {
                return false;
            };
            if spec.kind.is_empty() {
                return false;
            }
            let (plain, is_unique) = history::field_indexes(spec, dialect);
            if *unique { !is_unique } else { !plain }
        }
        StateSource::Index(item) => {
            let Some(name) = &item.decl.name else {
                return false;
            };
            if !code.meta_certain || code.indexes.iter().any(|(n, _)| n == name) {
                return false;
            }
            // Django renames an index whose definition a new one repeats
            // under another name; ixray compares what it reads of both.
            let renamed = code.indexes.iter().any(|(n, decl)| {
                !state
                    .indexes
                    .iter()
                    .any(|i| i.decl.name.as_deref() == Some(n.as_str()))
                    && decl.class == item.decl.class
                    && decl.fields == item.decl.fields
                    && decl.expressions.len() == item.decl.expressions.len()
            });
            !renamed
        }
        StateSource::Constraint(item) => item
            .decl
            .name
            .as_ref()
            .is_some_and(|name| code.meta_certain && !code.constraint_names.contains(name)),
        StateSource::UniqueTogether(fields) => {
            code.meta_certain && !code.unique_together.iter().any(|t| t == fields)
        }
        StateSource::IndexTogether => false,
    }
}

/// A model field's flags as `makemigrations` reads them; `None` when one
/// that decides indexing is not a literal (or `**kwargs` hides it).
fn code_field_spec(field: &FieldDecl, text: &str) -> Option<FieldSpec> {
    if field.dynamic {
        return None;
    }
    for (name, span) in &field.keyword_spans {
        if matches!(
            name.as_str(),
            "unique" | "db_index" | "primary_key" | "db_constraint"
        ) {
            let value = text[span.start..span.end]
                .split_once('=')
                .map_or("", |(_, v)| v.trim());
            if value != "True" && value != "False" {
                return None;
            }
        }
    }
    Some(FieldSpec {
        name: field.attr.clone(),
        kind: field.kind.clone(),
        primary_key: field.primary_key,
        unique: field.unique,
        db_index: field.db_index,
        db_constraint: field.db_constraint,
        db_column: field.db_column.clone(),
        target: None,
        to_field: None,
        unreadable: false,
        span: field.call,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::python as py;
    use crate::source::SourceFile;

    /// `Q` reads back as the predicate the rules wrote, so a partial index
    /// `fix` declared is the index it planned.
    #[test]
    fn conditions_read_as_the_rules_write_predicates() {
        use super::super::models::Lookup;
        let lookup = |path: &str, lookup: &str, value: &str, negated: bool| Lookup {
            path: path.into(),
            lookup: lookup.into(),
            value: value.into(),
            negated,
        };
        let columns: FxHashMap<String, String> = [
            ("enabled", "enabled"),
            ("archived", "archived"),
            ("status", "state"),
            ("owner", "owner_id"),
            ("n", "n"),
        ]
        .into_iter()
        .map(|(f, c)| (f.to_string(), c.to_string()))
        .collect();
        let condition = Condition::All(vec![
            lookup("enabled", "exact", "True", false),
            lookup("archived", "exact", "False", false),
            lookup("status", "exact", "\"down\"", true),
            lookup("owner", "isnull", "False", false),
            lookup("n", "exact", "42", false),
        ]);
        assert_eq!(
            condition_predicate(&condition, &columns),
            crate::schema::sql::predicate(
                "enabled AND NOT archived AND NOT (state = 'down') AND owner_id IS NOT NULL AND n = 42"
            )
        );
    }

    /// The project made of these models modules, without settings.
    fn resolve_files(files: &[(&str, &str)]) -> DjangoProject {
        let models = files
            .iter()
            .map(|(path, text)| {
                let path = PathBuf::from(path);
                let tree = py::parse(text);
                let app_dir = super::super::app_dir_of_models(&path);
                super::super::models::extract(
                    SourceFile::new(path, text.to_string()),
                    app_dir,
                    &tree,
                )
            })
            .collect();
        let inputs = Inputs {
            models,
            migrations: Vec::new(),
            graph: Vec::new(),
            settings: Vec::new(),
            apps: Vec::new(),
            dialect: None,
        };
        resolve(inputs, &mut Vec::new())
    }

    #[test]
    fn an_index_on_the_implicit_key_names_its_column() {
        let project = resolve_files(&[(
            "shop/models.py",
            "from django.db import models\n\nclass Payment(models.Model):\n    checkout = models.ForeignKey(\"Checkout\", models.CASCADE)\n\n    class Meta:\n        indexes = [models.Index(fields=[\"checkout\", \"-id\"], name=\"pay_recent\")]\n\nclass Checkout(models.Model):\n    pass\n",
        )]);
        let payment = project
            .tables
            .iter()
            .find(|t| t.name == "shop_payment")
            .expect("payment table");
        let declared: Vec<String> = payment
            .indexes
            .iter()
            .filter(|i| i.name.as_deref() == Some("pay_recent"))
            .map(|i| i.describe())
            .collect();
        assert_eq!(declared, ["(checkout_id, id DESC)"]);
    }

    /// Each table's columns and generic foreign keys, one line each.
    fn columns_and_generics(project: &DjangoProject) -> String {
        let mut out = String::new();
        for table in &project.tables {
            let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            out.push_str(&format!("{}: {}\n", table.name, columns.join(", ")));
            for g in &table.generic_foreign_keys {
                out.push_str(&format!(
                    "  {} -> ({}, {})\n",
                    g.field, g.type_column, g.id_column
                ));
            }
        }
        out
    }

    #[test]
    fn generic_foreign_keys_are_no_columns_and_resolve_to_their_two_columns() {
        let fields = r#"from django.contrib.contenttypes.fields import GenericForeignKey
from django.db import models


class RestrictedGenericForeignKey(GenericForeignKey):
    pass


class ObjectRef(RestrictedGenericForeignKey):
    pass


class CounterField(models.IntegerField):
    pass
"#;
        let models = r#"from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.db import models

from utilities.fields import CounterField, ObjectRef, RestrictedGenericForeignKey


class ScopeMixin(models.Model):
    scope_type = models.ForeignKey("contenttypes.ContentType", models.CASCADE, db_column="scope_ct")
    scope_id = models.PositiveBigIntegerField()
    scope = GenericForeignKey("scope_type", "scope_id")

    class Meta:
        abstract = True


class Item(ScopeMixin):
    name = models.CharField(max_length=20)
    tags = GenericRelation("Tag")
    count = CounterField()


class Unscoped(ScopeMixin):
    scope = None


class Tag(models.Model):
    content_type = models.ForeignKey("contenttypes.ContentType", models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    content_object = RestrictedGenericForeignKey()
    by_attname = ObjectRef("content_type_id", "object_id")


class Loose(models.Model):
    content_type = models.ForeignKey("contenttypes.ContentType", models.CASCADE)
    target = GenericForeignKey("content_type", "object_pk")

    @property
    def object_pk(self):
        return 1
"#;
        let project = resolve_files(&[("utilities/fields.py", fields), ("core/models.py", models)]);
        insta::assert_snapshot!(columns_and_generics(&project), @r"
        core_item: id, scope_ct, scope_id, name, count
          scope -> (scope_ct, scope_id)
        core_loose: id, content_type_id
        core_tag: id, content_type_id, object_id
          content_object -> (content_type_id, object_id)
          by_attname -> (content_type_id, object_id)
        core_unscoped: id, scope_ct, scope_id
        ");
    }

    #[test]
    fn auto_index_names_match_django() {
        // Computed by Django 5.2: Index(fields=["customer"]) on shop_order.
        let name = auto_index_name("shop_order", &[("customer_id".into(), false)]);
        assert_eq!(name.len(), 30.min(name.len()));
        assert!(name.starts_with("shop_order_custome_"));
        assert!(name.ends_with("_idx"));
        assert!(name.len() <= 30);
    }

    #[test]
    fn an_unmanaged_models_table_is_what_the_run_sql_that_creates_it_says() {
        let models = r#"from django.db import models


class Owner(models.Model):
    name = models.CharField(max_length=10)


class Legacy(models.Model):
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE)
    editor = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="+")
    gone = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=10, unique=True)

    class Meta:
        managed = False
        db_table = "legacy"
        indexes = [models.Index(fields=["code"], name="legacy_code_ix")]
"#;
        let migration = r#"from django.db import migrations


class Migration(migrations.Migration):
    dependencies = []
    operations = [
        migrations.RunSQL(
            "CREATE TABLE legacy (id bigint PRIMARY KEY, owner_id bigint REFERENCES shop_owner (id), editor_id bigint, code text); CREATE INDEX legacy_editor ON legacy (editor_id)"
        ),
    ]
"#;
        let mut project = resolve_files(&[("shop/models.py", models)]);
        let inputs = Inputs {
            models: std::mem::take(&mut project.files),
            migrations: vec![super::super::migrations::extract(SourceFile::new(
                PathBuf::from("shop/migrations/0001_initial.py"),
                migration.to_string(),
            ))],
            graph: Vec::new(),
            settings: Vec::new(),
            apps: Vec::new(),
            dialect: None,
        };
        let project = resolve(inputs, &mut Vec::new());
        let table = project.tables.iter().find(|t| t.name == "legacy").unwrap();
        assert!(table.checkable());
        assert_eq!(table.model, "Legacy");
        assert_eq!(
            project.sql_tables.get("legacy").map(String::as_str),
            Some("shop.0001_initial")
        );
        // The SQL's constraint, and the model's foreign key on a column the
        // SQL has (without a constraint); `gone_id` is no column.
        let fks: Vec<(&str, bool, &str)> = table
            .foreign_keys
            .iter()
            .map(|f| (f.columns[0].as_str(), f.enforced, f.field.as_str()))
            .collect();
        assert_eq!(
            fks,
            vec![("owner_id", true, "owner"), ("editor_id", false, "editor")]
        );
        // Neither the FK indexes, `unique=True` nor `Meta.indexes`: Django
        // makes no DDL for an unmanaged model.
        let indexes: Vec<String> = table.indexes.iter().map(|i| i.display_name()).collect();
        assert_eq!(indexes, vec!["(id)", "legacy_editor"]);
        assert!(table.indexes.iter().all(|i| i.locked));
        assert!(
            table.columns[1]
                .location
                .as_ref()
                .is_some_and(|l| l.path.ends_with("models.py"))
        );
    }
}
