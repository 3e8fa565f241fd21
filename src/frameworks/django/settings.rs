//! Reads project-wide Django configuration from source: the database ENGINE
//! (for the SQL dialect), `AUTH_USER_MODEL`, and `AppConfig.label`s.

use std::path::PathBuf;

use crate::frameworks::python as py;
use crate::frameworks::python::Fields as _;
use crate::schema::Dialect;
use crate::source::SourceFile;

#[derive(Debug, Default, Clone)]
pub struct SettingsFacts {
    pub path: PathBuf,
    pub engine: Option<String>,
    pub auth_user_model: Option<String>,
    /// `INSTALLED_APPS`: `Some(None)` when it is assigned but ixray cannot
    /// evaluate it.
    pub installed_apps: Option<Option<Vec<String>>>,
}

impl SettingsFacts {
    /// The SQL dialect of the default database's ENGINE.
    pub fn dialect(&self) -> Option<Dialect> {
        let engine = self.engine.as_deref()?;
        let backend = engine.rsplit('.').next()?;
        match backend {
            "postgresql" | "postgresql_psycopg2" | "postgis" => Some(Dialect::Postgresql),
            "mysql" => Some(Dialect::Mysql),
            "sqlite3" | "spatialite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppConfigFacts {
    /// The folder holding `apps.py`.
    pub app_dir: PathBuf,
    /// The class name (`"shop.apps.ShopConfig"` in `INSTALLED_APPS`).
    pub class: String,
    /// `label = "..."` when set.
    pub label: Option<String>,
    /// `name = "..."`: the app's dotted module path.
    pub name: Option<String>,
}

pub fn extract_settings(source: &SourceFile, tree: &tree_sitter::Tree) -> Option<SettingsFacts> {
    let text = source.text.as_str();
    let mut facts = SettingsFacts {
        path: source.path.clone(),
        ..SettingsFacts::default()
    };
    // Module-level constants, so that `INSTALLED_APPS = DJANGO_APPS +
    // LOCAL_APPS` and `INSTALLED_APPS += [...]` evaluate.
    let scope = py::module_scope(tree, text);
    facts.installed_apps = scope.lookup("INSTALLED_APPS").map(|value| {
        let items = value?.clone().iterate()?;
        items
            .into_iter()
            .map(|i| match i {
                py::Value::Str(s) => Some(s),
                _ => None,
            })
            .collect()
    });
    for assignment in py::definitions(tree).assignments {
        let (Some(left), Some(right)) = (assignment.field("left"), assignment.field("right"))
        else {
            continue;
        };
        match py::text(left, text) {
            "AUTH_USER_MODEL" => facts.auth_user_model = py::string_value(right, text),
            "DATABASES" => {
                let databases = py::dict_pairs(right, text);
                let default = databases
                    .iter()
                    .find(|(k, _)| k == "default")
                    .or(databases.first());
                if let Some((_, config)) = default {
                    facts.engine = py::dict_pairs(*config, text)
                        .into_iter()
                        .find(|(k, _)| k == "ENGINE")
                        .and_then(|(_, v)| py::string_value(v, text));
                }
            }
            _ => {}
        }
    }
    (facts.engine.is_some() || facts.auth_user_model.is_some() || facts.installed_apps.is_some())
        .then_some(facts)
}

pub fn extract_app_configs(source: &SourceFile, tree: &tree_sitter::Tree) -> Vec<AppConfigFacts> {
    let text = source.text.as_str();
    let app_dir = source.path.parent().map(PathBuf::from).unwrap_or_default();
    py::definitions(tree)
        .classes
        .into_iter()
        .filter_map(|class| {
            let body = class.field("body")?;
            let mut facts = AppConfigFacts {
                app_dir: app_dir.clone(),
                class: py::text(class.field("name")?, text).to_string(),
                label: None,
                name: None,
            };
            for (name, value, _) in py::class_assignments(body, text) {
                match name.as_str() {
                    "label" => facts.label = py::string_value(value, text),
                    "name" => facts.name = py::string_value(value, text),
                    _ => {}
                }
            }
            (facts.label.is_some() || facts.name.is_some()).then_some(facts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_engine_and_user_model() {
        let text = "DATABASES = {\n    'default': {'ENGINE': 'django.db.backends.mysql', 'NAME': 'x'},\n}\nAUTH_USER_MODEL = 'accounts.User'\n";
        let source = SourceFile::new(PathBuf::from("site/settings.py"), text.into());
        let facts = extract_settings(&source, &py::parse(text)).unwrap();
        assert_eq!(facts.dialect(), Some(Dialect::Mysql));
        assert_eq!(facts.auth_user_model.as_deref(), Some("accounts.User"));
        assert_eq!(facts.installed_apps, None);
        let apps = "BASE = [\"django.contrib.auth\"]\nLOCAL = (\"shop\", \"shop.billing.apps.BillingConfig\")\nINSTALLED_APPS = BASE + [*LOCAL]\nINSTALLED_APPS += [\"extra\"]\nif DEBUG:\n    INSTALLED_APPS += [\"debug_toolbar\"]\n";
        let source = SourceFile::new(PathBuf::from("site/settings.py"), apps.into());
        let facts = extract_settings(&source, &py::parse(apps)).unwrap();
        assert_eq!(
            facts.installed_apps,
            Some(Some(vec![
                "django.contrib.auth".to_string(),
                "shop".to_string(),
                "shop.billing.apps.BillingConfig".to_string(),
                "extra".to_string()
            ]))
        );
    }

    #[test]
    fn reads_app_label() {
        let text = "from django.apps import AppConfig\n\nclass OldConfig(AppConfig):\n    name = 'old_stuff'\n    label = 'legacy'\n";
        let source = SourceFile::new(PathBuf::from("old_stuff/apps.py"), text.into());
        let configs = extract_app_configs(&source, &py::parse(text));
        assert_eq!(configs[0].label.as_deref(), Some("legacy"));
        assert_eq!(configs[0].app_dir, PathBuf::from("old_stuff"));
    }
}
