//! `ixray lsp` driven over stdio as an editor drives it: initialize,
//! didOpen, didChange, codeAction, applying the returned workspace edit,
//! shutdown. Diagnostics appear and clear (also in a file other than the
//! one edited), and the fix's edit gives a project `ixray check` no longer
//! flags.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

fn uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_str().unwrap().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn path_of(uri: &str) -> PathBuf {
    let rest = uri.strip_prefix("file://").unwrap();
    let mut bytes = Vec::new();
    let raw = rest.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            bytes.push(
                u8::from_str_radix(std::str::from_utf8(&raw[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    PathBuf::from(String::from_utf8(bytes).unwrap())
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = ixray()
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ixray lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                if sender.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            messages,
            next_id: 1,
        }
    }

    fn send(&mut self, message: Value) {
        let body = serde_json::to_string(&message).unwrap();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Send a request and wait for its response (notifications that come
    /// first are kept for `diagnostics`).
    fn request(&mut self, method: &str, params: Value, pending: &mut Vec<Value>) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.next(Duration::from_secs(60)).expect("a response");
            if message["id"] == id && message.get("method").is_none() {
                assert!(message["error"].is_null(), "{message:#}");
                return message["result"].clone();
            }
            pending.push(message);
        }
    }

    fn next(&self, timeout: Duration) -> Option<Value> {
        match self.messages.recv_timeout(timeout) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    /// The diagnostics published for `path` next (from `pending` first).
    fn diagnostics(&self, path: &Path, pending: &mut Vec<Value>) -> Vec<Value> {
        let wanted = uri(path);
        if let Some(at) = pending.iter().position(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == wanted
        }) {
            let message = pending.remove(at);
            return message["params"]["diagnostics"].as_array().unwrap().clone();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(message) = self.next(Duration::from_secs(1)) else {
                continue;
            };
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == wanted
            {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
            pending.push(message);
        }
        panic!("no diagnostics for {wanted}; other messages: {pending:#?}");
    }
}

fn rules(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

/// Apply a workspace edit as an editor does: create files, then replace
/// the ranges (this server sends whole-file or end-of-line edits).
fn apply(edit: &Value) {
    let mut edits: Vec<(PathBuf, Value)> = Vec::new();
    if let Some(operations) = edit["documentChanges"].as_array() {
        for operation in operations {
            if operation["kind"] == "create" {
                let path = path_of(operation["uri"].as_str().unwrap());
                assert!(!path.exists(), "creates a new file: {}", path.display());
                std::fs::write(&path, "").unwrap();
            } else {
                let path = path_of(operation["textDocument"]["uri"].as_str().unwrap());
                for e in operation["edits"].as_array().unwrap() {
                    edits.push((path.clone(), e.clone()));
                }
            }
        }
    }
    if let Some(changes) = edit["changes"].as_object() {
        for (uri, list) in changes {
            for e in list.as_array().unwrap() {
                edits.push((path_of(uri), e.clone()));
            }
        }
    }
    for (path, e) in edits {
        let text = std::fs::read_to_string(&path).unwrap();
        let offset = |p: &Value| -> usize {
            let line = p["line"].as_u64().unwrap() as usize;
            let character = p["character"].as_u64().unwrap() as usize;
            let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
            let line_text = text[start..].split('\n').next().unwrap();
            // UTF-16 units → bytes.
            let mut units = 0;
            let mut bytes = 0;
            for c in line_text.chars() {
                if units >= character {
                    break;
                }
                units += c.len_utf16();
                bytes += c.len_utf8();
            }
            start + bytes
        };
        let (start, end) = (offset(&e["range"]["start"]), offset(&e["range"]["end"]));
        let new = format!(
            "{}{}{}",
            &text[..start],
            e["newText"].as_str().unwrap(),
            &text[end..]
        );
        std::fs::write(&path, new).unwrap();
    }
}

#[test]
fn an_editor_session_sees_diagnostics_appear_and_clear_and_applies_the_fix() {
    let dir = copy_fixture("django/shop");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let mut client = Client::start(&root);
    let mut pending = Vec::new();
    let init = client.request(
        "initialize",
        json!({
            "processId": null,
            "rootUri": uri(&root),
            "capabilities": {
                "workspace": {
                    "workspaceEdit": {
                        "documentChanges": true,
                        "resourceOperations": ["create"],
                    },
                    "didChangeWatchedFiles": { "dynamicRegistration": true },
                },
            },
        }),
        &mut pending,
    );
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(init["capabilities"]["codeActionProvider"], true);
    client.notify("initialized", json!({}));

    // Published for the whole workspace at start.
    let customers = root.join("customers/models.py");
    let tasks = root.join("orders/tasks.py");
    let payment = root.join("orders/models/payment.py");
    let start = client.diagnostics(&customers, &mut pending);
    assert_eq!(
        rules(&start),
        vec!["unindexed-foreign-key", "duplicate-index"],
        "{start:#?}"
    );
    let fk = &start[0];
    assert_eq!(fk["severity"], 2);
    assert_eq!(fk["source"], "ixray");
    assert!(
        fk["codeDescription"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/unindexed-foreign-key.md")
    );
    let task_rules = rules(&client.diagnostics(&tasks, &mut pending));
    assert_eq!(task_rules.len(), 3, "{task_rules:?}");

    // An edit in one file clears a finding in another: the payment model
    // gains the index the task's query needs.
    let original = std::fs::read_to_string(&payment).unwrap();
    assert!(
        original.contains("reference = models.CharField("),
        "{original}"
    );
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": {
            "uri": uri(&payment), "languageId": "python", "version": 1, "text": original,
        } }),
    );
    let indexed = original.replace(
        "reference = models.CharField(",
        "reference = models.CharField(db_index=True, ",
    );
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&payment), "version": 2 },
            "contentChanges": [{ "text": indexed }],
        }),
    );
    let after = rules(&client.diagnostics(&tasks, &mut pending));
    assert_eq!(after.len(), 2, "the payment query is served now: {after:?}");
    // And back: the finding returns.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&payment), "version": 3 },
            "contentChanges": [{ "text": original }],
        }),
    );
    assert_eq!(client.diagnostics(&tasks, &mut pending).len(), 3);

    // A syntax error in the buffer is an error diagnostic at its place;
    // fixed, it clears.
    let broken = original.replacen("class ", "class (", 1);
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&payment), "version": 4 },
            "contentChanges": [{ "text": broken }],
        }),
    );
    let errors = client.diagnostics(&payment, &mut pending);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["severity"], 1);
    assert_eq!(errors[0]["message"], "skipped: syntax error");
    let line = broken
        .lines()
        .position(|l| l.starts_with("class ("))
        .unwrap();
    assert_eq!(errors[0]["range"]["start"]["line"], line, "{errors:#?}");
    // The model cannot be read: nothing is said about its query.
    assert_eq!(client.diagnostics(&tasks, &mut pending).len(), 2);
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(&payment), "version": 5 },
            "contentChanges": [{ "text": original }],
        }),
    );
    assert_eq!(
        client.diagnostics(&payment, &mut pending),
        Vec::<Value>::new()
    );
    assert_eq!(client.diagnostics(&tasks, &mut pending).len(), 3);

    // The quick fix for the customer's foreign key: applied, `check` no
    // longer flags it.
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": uri(&customers) },
            "range": fk["range"],
            "context": { "diagnostics": [fk] },
        }),
        &mut pending,
    );
    let actions = actions.as_array().unwrap();
    let titles: Vec<&str> = actions
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        titles[0].starts_with("ixray: fix `unindexed-foreign-key`"),
        "{titles:?}"
    );
    assert_eq!(
        titles[1],
        "ixray: ignore `unindexed-foreign-key` on this line"
    );
    let edit = &actions[0]["edit"];
    assert!(
        edit["documentChanges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "create"),
        "the new migration is created: {edit:#}"
    );
    apply(edit);
    let (_, stdout, _) = run_ixray(&root, &["check", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "unindexed-foreign-key" && f["table"] == "customers_customer"),
        "{report:#}"
    );

    // The ignore action on another finding: applied, `check` is silent
    // about it too.
    let shipping = client
        .diagnostics(&root.join("orders/models/order.py"), &mut pending)
        .into_iter()
        .find(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("shipping_address_id")
        })
        .expect("the shipping address finding");
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": uri(&root.join("orders/models/order.py")) },
            "range": shipping["range"],
            "context": { "diagnostics": [shipping] },
        }),
        &mut pending,
    );
    let ignore = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("ixray: ignore"))
        .unwrap();
    apply(&ignore["edit"]);
    let (_, stdout, _) = run_ixray(&root, &["check", "--format", "json"]);
    assert!(!stdout.contains("shipping_address_id"), "{stdout}");

    // The server asked to be told of files changed outside the editor; a
    // new models file made by a tool shows up once the client says so.
    let registration = pending
        .iter()
        .find(|m| m["method"] == "client/registerCapability")
        .cloned()
        .expect("the server registers for watched files");
    client.send(json!({"jsonrpc": "2.0", "id": registration["id"], "result": null}));
    let created = root.join("customers/extra.py");
    std::fs::write(
        &created,
        "from django.db import models\n\n\nclass Note(models.Model):\n    customer = models.ForeignKey(\"customers.Customer\", on_delete=models.CASCADE, db_index=False)\n",
    )
    .unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&created), "type": 1 }] }),
    );
    let found = client.diagnostics(&created, &mut pending);
    assert_eq!(rules(&found), vec!["unindexed-foreign-key"], "{found:#?}");

    client.request("shutdown", Value::Null, &mut pending);
    client.notify("exit", Value::Null);
    let status = client.child.wait().unwrap();
    assert!(status.success());
}
