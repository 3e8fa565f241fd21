//! A real editor talks to `ixray lsp`: Debian's Neovim, headless, opens a
//! fixture's models file with ixray as its language server, and the test
//! reads back the diagnostics Neovim holds for the buffer.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Neovim 0.7's API (Debian 12): start a client, attach it to the buffer,
/// wait for diagnostics, write them as JSON, quit.
const SCRIPT: &str = r#"
local root, file, out, bin = os.getenv('IXRAY_ROOT'), os.getenv('IXRAY_FILE'),
  os.getenv('IXRAY_OUT'), os.getenv('IXRAY_BIN')
vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({ name = 'ixray', cmd = { bin, 'lsp' }, root_dir = root })
vim.lsp.buf_attach_client(buf, id)
vim.wait(30000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
local found = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  local lsp = (d.user_data or {}).lsp or {}
  table.insert(found, {
    lnum = d.lnum, col = d.col, message = d.message, severity = d.severity,
    source = d.source, code = d.code or lsp.code,
  })
end
local f = io.open(out, 'w')
f:write(vim.fn.json_encode(found))
f:close()
vim.lsp.stop_client(id)
vim.cmd('qa!')
"#;

#[test]
fn neovim_shows_ixray_diagnostics() {
    let nvim = Command::new("nvim").arg("--version").output();
    if !require(
        "Neovim (nvim; scripts/test installs Debian's neovim)",
        nvim.is_ok_and(|o| o.status.success()),
    ) {
        return;
    }
    let dir = copy_fixture("django/shop");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let script = root.join("ixray_test.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = root.join("diagnostics.json");
    let file = root.join("customers/models.py");
    let output = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "--noplugin", "-n"])
        .arg("-c")
        .arg(format!("luafile {}", script.display()))
        .env("IXRAY_ROOT", &root)
        .env("IXRAY_FILE", &file)
        .env("IXRAY_OUT", &out)
        .env("IXRAY_BIN", env!("CARGO_BIN_EXE_ixray"))
        .env("HOME", &root)
        .env("XDG_STATE_HOME", root.join(".state"))
        .env("XDG_DATA_HOME", root.join(".data"))
        .current_dir(&root)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "Neovim wrote no diagnostics: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let diagnostics: Value = serde_json::from_str(&text).unwrap();
    let diagnostics = diagnostics.as_array().unwrap();
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let fk = diagnostics
        .iter()
        .find(|d| d["code"] == "unindexed-foreign-key")
        .unwrap_or_else(|| panic!("{diagnostics:#?}"));
    assert_eq!(fk["source"], "ixray");
    // Neovim's lines are 0-based: the field is on line 21.
    assert_eq!(fk["lnum"], 20);
    assert_eq!(fk["severity"], 2, "a warning");
    assert!(
        fk["message"]
            .as_str()
            .unwrap()
            .contains("customers_customer.referred_by_id"),
        "{fk:#}"
    );
}
