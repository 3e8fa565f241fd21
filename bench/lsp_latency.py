#!/usr/bin/env python3
"""Time `ixray lsp` from `didChange` on a 5,000-line Django models file to
the `publishDiagnostics` for that file (see docs/performance.md).

    bench/lsp_latency.py [--ixray target/release/ixray] [--rounds 40] [--lines 5000]

Writes a throwaway project (settings, one app whose models.py has about
--lines lines, other apps around it), starts the server, opens the models
file and sends --rounds full-text changes that alternately add and remove
`db_index=False` on one foreign key, so that every change changes the
file's diagnostics. Prints min / median / p90 / max in milliseconds.
Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import queue
from pathlib import Path


def models_file(lines: int) -> str:
    out = ["from django.db import models", "", ""]
    n = 0
    while len(out) < lines:
        out += [
            f"class Thing{n}(models.Model):",
            "    name = models.CharField(max_length=100)",
            "    code = models.SlugField(unique=True)",
            "    created_at = models.DateTimeField(auto_now_add=True)",
            "    enabled = models.BooleanField(default=True)",
            f"    parent = models.ForeignKey({'Thing' + str(n - 1) if n else 'self'!r}, on_delete=models.CASCADE)",
            "    notes = models.TextField(blank=True)",
            "",
            "    class Meta:",
            '        indexes = [models.Index(fields=["name", "created_at"], name="%s")]' % f"t{n}_name_created",
            "",
            "",
        ]
        n += 1
    return "\n".join(out) + "\n"


def write_project(root: Path, lines: int) -> Path:
    (root / "site").mkdir()
    (root / "site" / "__init__.py").write_text("")
    (root / "manage.py").write_text(
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n"
    )
    apps = ["big"] + [f"small{i}" for i in range(20)]
    (root / "site" / "settings.py").write_text(
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql'}}\n"
        f"INSTALLED_APPS = {apps!r}\n"
    )
    for app in apps:
        (root / app).mkdir()
        (root / app / "__init__.py").write_text("")
        (root / app / "models.py").write_text(models_file(lines if app == "big" else 120))
    return root / "big" / "models.py"


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def reader(stream, messages: "queue.Queue"):
    while True:
        length = 0
        while True:
            line = stream.readline()
            if not line:
                return
            line = line.strip()
            if not line:
                break
            if line.startswith(b"Content-Length:"):
                length = int(line.split(b":")[1])
        messages.put(json.loads(stream.read(length)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ixray", default="target/release/ixray")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    binary = os.path.abspath(args.ixray)
    with tempfile.TemporaryDirectory(prefix="ixray-lsp-bench-") as tmp:
        root = Path(tmp)
        models = write_project(root, args.lines)
        text = models.read_text()
        uri = models.as_uri()
        server = subprocess.Popen(
            [binary, "lsp"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        messages: "queue.Queue" = queue.Queue()
        threading.Thread(target=reader, args=(server.stdout, messages), daemon=True).start()

        def send(message):
            server.stdin.write(frame(message))
            server.stdin.flush()

        def wait_for(predicate):
            while True:
                message = messages.get(timeout=60)
                if predicate(message):
                    return message

        send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}})
        wait_for(lambda m: m.get("id") == 1)
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}}})
        time.sleep(1.0)
        while not messages.empty():
            messages.get()
        line = "    parent = models.ForeignKey('Thing0', on_delete=models.CASCADE)"
        assert line in text, "the generated file has the line the benchmark toggles"
        variants = [text.replace(line, line[:-1] + ", db_index=False)"), text]
        samples = []
        for round_ in range(args.rounds):
            body = variants[round_ % 2]
            start = time.perf_counter()
            send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": round_ + 2},
                "contentChanges": [{"text": body}]}})
            wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                     and m["params"]["uri"] == uri)
            samples.append((time.perf_counter() - start) * 1000)
        send({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
        wait_for(lambda m: m.get("id") == 2)
        send({"jsonrpc": "2.0", "method": "exit", "params": None})
        server.wait(timeout=10)
    samples.sort()
    p90 = samples[int(len(samples) * 0.9) - 1]
    print(f"lines {len(text.splitlines())}, rounds {len(samples)}: "
          f"min {samples[0]:.1f} ms, median {statistics.median(samples):.1f} ms, "
          f"p90 {p90:.1f} ms, max {samples[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
