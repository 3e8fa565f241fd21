//! Django: models, migrations and settings read from source (never imported),
//! and fixes written as `Meta.indexes` entries plus a new migration.

pub mod emit;
pub mod history;
pub mod migrations;
pub mod models;
pub mod project;
pub mod queries;
pub mod settings;

use std::path::Path;
use std::sync::Arc;

use memchr::memmem;

use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::source::SourceFile;

/// What a Python file may hold for Django, decided from its bytes alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileRoles {
    pub models: bool,
    /// A migration module: parsed whole, for its place in the graph and
    /// its operations.
    pub graph: bool,
    pub settings: bool,
    pub apps: bool,
    /// May run ORM queries (`Model.objects…`): set by the caller with
    /// [`queries::wanted`] when access patterns are read at all.
    pub queries: bool,
}

impl FileRoles {
    pub fn any(self) -> bool {
        self.models || self.graph || self.settings || self.apps || self.queries
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memmem::find(haystack, needle).is_some()
}

/// The cheap byte prefilter: most files of a large project are never parsed.
pub fn classify(path: &Path, file: &MarkedBytes) -> FileRoles {
    let mut roles = FileRoles::default();
    if migrations::is_migration_path(path) {
        roles.graph = file.has(Marker::ClassMigration);
        return roles;
    }
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if file_name == "apps.py" {
        roles.apps = file.has(Marker::AppConfig);
    }
    // A settings module assigns these at the start of a line; model code
    // only reads `settings.AUTH_USER_MODEL`.
    roles.settings = file.has(Marker::Databases)
        || file.has(Marker::AuthUserModel)
        || file.has(Marker::InstalledApps);
    let in_models_module = file_name == "models.py"
        || path
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "models");
    // Models live in `models.py` or a `models/` package; elsewhere ask for a
    // top-level class deriving from Django's `Model` itself, so that query
    // code, tests and API types are not parsed.
    let bytes = file.bytes;
    roles.models = if in_models_module {
        file.has(Marker::Class)
    } else {
        file.has(Marker::Class) && derives_from_model(bytes)
            || file.has(Marker::ModelsAttribute) && declares_model_fields(bytes)
            || file.has(Marker::Class)
                && file.has(Marker::GenericForeignKey)
                && derives_from_generic_foreign_key(bytes)
    };
    roles
}

/// Whether a top-level `class` header names a `GenericForeignKey` base
/// (`class RestrictedGenericForeignKey(GenericForeignKey):` in a
/// `fields.py`): models use the subclass, and it has no column.
fn derives_from_generic_foreign_key(bytes: &[u8]) -> bool {
    class_headers(bytes).any(|header| {
        header
            .iter()
            .position(|b| *b == b'(')
            .is_some_and(|open| contains(&header[open..], b"GenericForeignKey"))
    })
}

/// The top-level `class` headers, up to their `:` (at most 200 bytes).
fn class_headers(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    memmem::find_iter(bytes, b"class ").filter_map(|at| {
        if at > 0 && bytes[at - 1] != b'\n' {
            return None;
        }
        let rest = &bytes[at..];
        let end = memchr::memchr(b':', rest).unwrap_or(rest.len()).min(200);
        Some(&rest[..end])
    })
}

/// Whether an indented line assigns a Django field (`    owner =
/// models.ForeignKey(`): a model outside a `models` module whose base is
/// the project's own (`class Order(TimeStamped):`, imported by
/// `models.py`).
fn declares_model_fields(bytes: &[u8]) -> bool {
    memmem::find_iter(bytes, b"= models.").any(|at| {
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let indented = matches!(bytes.get(line_start), Some(b' ' | b'\t'));
        let rest = &bytes[at + b"= models.".len()..];
        let name_end = rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        indented
            && rest.get(name_end) == Some(&b'(')
            && (name.ends_with(b"Field") || name.ends_with(b"Key"))
    })
}

/// Whether a top-level `class` header names `models.Model` or `Model` as a base.
fn derives_from_model(bytes: &[u8]) -> bool {
    class_headers(bytes).any(|header| {
        contains(header, b"models.Model")
            || [&b"(Model"[..], b" Model", b",Model"].iter().any(|base| {
                memmem::find_iter(header, base)
                    .any(|i| matches!(header.get(i + base.len()), Some(b')' | b',' | b' ')))
            })
    })
}

/// Facts one file contributes to a Django project.
#[derive(Debug, Default, Clone)]
pub struct FileFacts {
    pub models: Option<models::ModelsFile>,
    pub migration: Option<migrations::MigrationFile>,
    pub graph: Option<migrations::GraphNode>,
    pub settings: Option<settings::SettingsFacts>,
    pub apps: Vec<settings::AppConfigFacts>,
    pub queries: Option<queries::QueryFile>,
}

impl FileFacts {
    /// The source files these facts point into.
    pub fn sources(&self) -> Vec<Arc<SourceFile>> {
        let mut out = Vec::new();
        if let Some(m) = &self.models {
            out.push(m.source.clone());
        }
        if let Some(m) = &self.migration {
            out.push(m.source.clone());
        }
        if let Some(q) = &self.queries {
            out.push(q.source.clone());
        }
        out
    }
}

/// The app folder of a models module: the parent of `models.py`, or of the
/// `models/` package.
pub fn app_dir_of_models(path: &Path) -> std::path::PathBuf {
    let parent = path.parent().unwrap_or(Path::new(""));
    if parent.file_name().is_some_and(|n| n == "models") {
        parent.parent().unwrap_or(Path::new("")).to_path_buf()
    } else {
        parent.to_path_buf()
    }
}

pub fn extract(source: &Arc<SourceFile>, roles: FileRoles, tree: &tree_sitter::Tree) -> FileFacts {
    let mut facts = FileFacts::default();
    if roles.settings {
        facts.settings = settings::extract_settings(source, tree);
    }
    if roles.apps {
        facts.apps = settings::extract_app_configs(source, tree);
    }
    if roles.models {
        let file = models::extract(source.clone(), app_dir_of_models(&source.path), tree);
        if !file.classes.is_empty() {
            facts.models = Some(file);
        }
    }
    if roles.queries {
        let file = queries::extract(source.clone());
        if !file.queries.is_empty() {
            facts.queries = Some(file);
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilter_parses_models_not_query_code() {
        let models = b"from django.db import models\n\nclass Order(models.Model):\n    pass\n";
        assert!(classify(Path::new("shop/services.py"), &MarkedBytes::new(models)).models);
        let direct = b"from django.db.models import Model\nclass Order(Model):\n    pass\n";
        assert!(classify(Path::new("shop/other.py"), &MarkedBytes::new(direct)).models);
        let query =
            b"from django.db.models import Count, Q\nclass Report(ModelObjectType):\n    pass\n";
        assert!(!classify(Path::new("shop/services.py"), &MarkedBytes::new(query)).models);
        let in_package = b"class Order(TimeStamped):\n    pass\n";
        assert!(
            classify(
                Path::new("shop/models/order.py"),
                &MarkedBytes::new(in_package)
            )
            .models
        );
        let migration = b"class Migration(migrations.Migration):\n    operations = [migrations.AddIndex(model_name='a', index=x)]\n";
        let roles = classify(
            Path::new("shop/migrations/0002_x.py"),
            &MarkedBytes::new(migration),
        );
        assert!(roles.graph && !roles.models);
        let subclass = b"from django.contrib.contenttypes.fields import GenericForeignKey\n\nclass RestrictedGenericForeignKey(GenericForeignKey):\n    pass\n";
        assert!(
            classify(
                Path::new("utilities/fields.py"),
                &MarkedBytes::new(subclass)
            )
            .models
        );
        let uses = b"from django.contrib.contenttypes.fields import GenericForeignKey\n\nclass Table(BaseTable):\n    pass\n";
        assert!(!classify(Path::new("utilities/tables.py"), &MarkedBytes::new(uses)).models);
    }
}
