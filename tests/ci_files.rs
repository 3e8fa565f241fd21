//! The GitHub Action and the pre-commit hook: both files parse, name what
//! their users rely on, and the commands they run work with this ixray.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// A YAML file as JSON, read by the test venv's PyYAML.
fn yaml(relative: &str) -> Value {
    let output = Command::new(python().unwrap())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo_root().join(relative))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{relative}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_action_and_the_hook_are_well_formed_and_their_commands_run() {
    if !require("the test venv's Python", python().is_some()) {
        return;
    }
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    for input in [
        "paths",
        "args",
        "version",
        "sarif",
        "comment",
        "changed-only",
    ] {
        assert!(
            action["inputs"][input]["description"].is_string(),
            "{input}"
        );
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    let scripts: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    // Every shell step parses.
    for script in &scripts {
        let status = Command::new("bash")
            .args(["-n", "-c", script])
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    }
    assert!(
        steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif"))),
        "uploads SARIF"
    );
    // The formats the action asks for exist.
    let check = scripts.iter().find(|s| s.contains("ixray check")).unwrap();
    for format in ["json", "sarif", "markdown", "github"] {
        assert!(check.contains(&format!("--format {format}")), "{format}");
        let (code, _, stderr) = run_ixray(
            &fixture("django/shop"),
            &["check", "--format", format, "--exit-zero"],
        );
        assert_eq!(code, 0, "{format}: {stderr}");
    }

    // The release workflow packages what the action downloads.
    let release = yaml(".github/workflows/release.yml");
    let install = scripts
        .iter()
        .find(|s| s.contains("releases/download"))
        .unwrap();
    assert!(
        install.contains("ixray-$(uname -m)-unknown-linux-gnu.tar.gz"),
        "{install}"
    );
    let package = release["jobs"]["linux"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|s| s.contains("tar -czf"))
        .unwrap();
    assert!(
        package.contains("ixray-${{ matrix.arch }}-unknown-linux-gnu.tar.gz"),
        "{package}"
    );
    let arches: Vec<&str> = release["jobs"]["linux"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["arch"].as_str().unwrap())
        .collect();
    // `uname -m` on GitHub's runners.
    assert_eq!(arches, ["x86_64", "aarch64"]);

    let hooks = yaml(".pre-commit-hooks.yaml");
    let hook = &hooks[0];
    assert_eq!(hook["id"], "ixray");
    assert_eq!(hook["language"], "rust");
    // pre-commit runs the entry with the staged files appended.
    let entry: Vec<&str> = hook["entry"].as_str().unwrap().split(' ').collect();
    assert_eq!(entry[0], "ixray");
    let dir = copy_fixture("django/shop");
    let (code, stdout, _) = run_ixray(
        dir.path(),
        &[&entry[1..], &["customers/models.py"]].concat(),
    );
    assert_eq!(code, 1, "a finding in the file fails the hook: {stdout}");
    assert!(stdout.contains("customers/models.py"), "{stdout}");
    assert!(
        !stdout.contains("orders/"),
        "only the files given: {stdout}"
    );
    let (code, stdout, _) = run_ixray(dir.path(), &[&entry[1..], &["manage.py"]].concat());
    assert_eq!((code, stdout.as_str()), (0, ""), "quiet and clean");
}
