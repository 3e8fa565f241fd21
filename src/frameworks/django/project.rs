//! Resolves the facts of all Django files into tables: app labels, model
//! inheritance (abstract, proxy, multi-table), relation targets, the indexes
//! Django creates by itself, and indexes that only migrations create.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use rustc_hash::{FxHashMap, FxHashSet};

use super::migrations::{GraphNode, MigrationFile, Operation};
use super::models::{
    ClassDecl, Condition, FieldDecl, GenericForeignKeyDecl, IndexDecl, IndexList, MetaDecl,
    ModelsFile, Target,
};
use super::settings::{AppConfigFacts, SettingsFacts};
use crate::InputError;
use crate::schema::sql::IndexStatement;
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
    pub models: Vec<Model>,
    pub tables: Vec<Table>,
    /// Concrete, non-proxy model by SQL table name.
    pub by_table: FxHashMap<String, usize>,
    /// Every migration module's place in the graph, as read.
    pub graph: Vec<GraphNode>,
    /// Model indices by class name.
    pub by_name: FxHashMap<String, Vec<usize>>,
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
    project
        .migrations
        .sort_by(|a, b| (&a.app_dir, &a.name).cmp(&(&b.app_dir, &b.name)));

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
        auth_user_model,
    };
    let mut tables = builder.build();
    let dialect_assumed =
        inputs.dialect.is_none() && settings.and_then(SettingsFacts::dialect).is_none();
    for table in &mut tables {
        table.dialect_assumed = dialect_assumed;
    }
    let broken = broken_apps(&inputs.graph, &migration_label, errors);
    add_migration_indexes(&project, &migration_label, &broken, &mut tables);
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
            let model = &mut self.models[index];
            model.managed = managed;
            model.table = db_table.unwrap_or_else(|| {
                format!("{}_{}", model.app_label, model.name.to_ascii_lowercase())
            });
            let key = (model.app_label.clone(), model.name.to_ascii_lowercase());
            self.by_label.entry(key).or_insert(index);
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
    fn build(&self) -> Vec<Table> {
        let mut tables = Vec::new();
        for (index, model) in self.resolver.models.iter().enumerate() {
            if model.is_abstract || model.proxy || !model.installed {
                continue;
            }
            self.build_model(index, &mut tables);
        }
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        tables
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

    fn build_model(&self, index: usize, tables: &mut Vec<Table>) {
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
            match (lookup.lookup.as_str(), lookup.value.as_str()) {
                ("isnull", "False") => Conjunct::IsNotNull(column.clone()),
                ("isnull", "True") => Conjunct::Other(format!("{column} IS NULL")),
                ("exact", _) => Conjunct::Other(format!("{column} = {value}")),
                ("gt", _) => Conjunct::Other(format!("{column} > {value}")),
                ("gte", _) => Conjunct::Other(format!("{column} >= {value}")),
                ("lt", _) => Conjunct::Other(format!("{column} < {value}")),
                ("lte", _) => Conjunct::Other(format!("{column} <= {value}")),
                (other, _) => Conjunct::Other(format!("{column} {other} {value}")),
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

/// Replay the migrations' index operations; indexes that survive and that no
/// model declares still exist in the database, so they count as cover.
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

fn add_migration_indexes(
    project: &DjangoProject,
    label_of: &dyn Fn(&Path) -> Option<String>,
    broken: &FxHashSet<PathBuf>,
    tables: &mut [Table],
) {
    let models_by_label: FxHashMap<(String, String), &String> = project
        .models
        .iter()
        .filter(|m| !m.is_abstract && !m.proxy)
        .map(|m| ((m.app_label.clone(), m.name.to_ascii_lowercase()), &m.table))
        .collect();
    let table_ix: FxHashMap<String, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    // Surviving indexes by name: (creation order, table, index). Unnamed
    // ones get a key no SQL name can have.
    let mut live: FxHashMap<String, (usize, String, Index)> = FxHashMap::default();
    let mut sequence = 0usize;
    for migration in &project.migrations {
        let Some(app) = label_of(&migration.app_dir) else {
            continue;
        };
        if broken.contains(&migration.app_dir) {
            continue;
        }
        for op in &migration.operations {
            match op {
                Operation::AddIndex { model, index } => {
                    let Some(table) = models_by_label
                        .get(&(app.clone(), model.to_ascii_lowercase()))
                        .and_then(|table| table_ix.get(table.as_str()))
                        .map(|i| &tables[*i])
                    else {
                        continue;
                    };
                    let columns: FxHashMap<String, String> = table
                        .columns
                        .iter()
                        .flat_map(|c| {
                            let mut pairs = vec![(c.field.clone(), c.name.clone())];
                            if c.name.ends_with("_id") && c.field != c.name {
                                pairs.push((c.name.clone(), c.name.clone()));
                            }
                            pairs
                        })
                        .collect();
                    if let Some(mut built) = index_from_decl(
                        index,
                        &columns,
                        &table.name,
                        IndexOrigin::Migration,
                        project.dialect,
                    ) {
                        let name = built.name.clone().unwrap_or_default();
                        built.location = Some(migration.source.location(index.span));
                        sequence += 1;
                        live.insert(name, (sequence, table.name.clone(), built));
                    }
                }
                Operation::RemoveIndex { name, .. } => {
                    live.remove(name);
                }
                Operation::RenameIndex { old, new, .. } => {
                    if let Some(mut entry) = live.remove(old) {
                        entry.2.name = Some(new.clone());
                        live.insert(new.clone(), entry);
                    }
                }
                Operation::Sql { statement, span } => match statement {
                    IndexStatement::Create(create) => {
                        let mut built = Index::new(create.parts.clone(), IndexOrigin::Migration);
                        built.name = create.name.clone();
                        built.unique = create.unique;
                        built.method = create.method.clone();
                        built.include = create.include.clone();
                        built.predicate = create.predicate.clone();
                        built.location = Some(migration.source.location(*span));
                        let name = create.name.clone().unwrap_or_default();
                        sequence += 1;
                        let key = if name.is_empty() {
                            format!("\0{sequence}")
                        } else {
                            name
                        };
                        live.insert(key, (sequence, create.table.clone(), built));
                    }
                    IndexStatement::Drop { name, .. } => {
                        live.remove(name);
                    }
                    IndexStatement::Rename { from, to, .. } => {
                        if let Some((order, table, mut index)) = live.remove(from) {
                            index.name = Some(to.clone());
                            live.insert(to.clone(), (order, table, index));
                        }
                    }
                },
            }
        }
    }
    let mut live: Vec<(String, (usize, String, Index))> = live.into_iter().collect();
    live.sort_by_key(|(_, (order, _, _))| *order);
    for (name, (_, table_name, index)) in live {
        let Some(&table_index) = table_ix.get(&table_name) else {
            continue;
        };
        let table = &mut tables[table_index];
        let declared = table.indexes.iter().any(|existing| {
            existing.name.as_deref() == Some(name.as_str())
                || (existing.parts == index.parts
                    && existing.predicate == index.predicate
                    && existing.unique == index.unique
                    && existing.method == index.method
                    && existing.origin != IndexOrigin::Migration)
        });
        if !declared {
            table.indexes.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::python as py;
    use crate::source::SourceFile;

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
}
