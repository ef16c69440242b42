"""Rewrite local.settings.sample.json and the README's configuration table from bridge.config.table.SETTINGS.

Run after adding a setting: `.venv/bin/python scripts/sync_settings_docs.py`; the tests check both stay in sync.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.config.table import SETTINGS  # noqa: E402

TABLE_HEAD = "| Setting | Meaning | Example |\n| --- | --- | --- |\n"
HOST_VALUES = {"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsStorage": "", "PYTHON_ENABLE_INIT_INDEXING": "1"}


def placeholder(description: str, example: str) -> str:
    shown = f"; e.g. {example}" if example and not example.startswith("<") else ""
    return f"<{description}{shown}>"


def main() -> None:
    values = {**HOST_VALUES, **{s.sample_key: placeholder(s.description, s.example) for s in SETTINGS}}
    # No "CORS" under "Host": func start would answer CORS itself for those origins, before the bridge (bridge.serving.cors).
    sample = {"IsEncrypted": False, "Values": values, "Host": {"LocalHttpPort": 7071}}
    (ROOT / "local.settings.sample.json").write_text(json.dumps(sample, indent=2) + "\n")
    rows = "\n".join(
        f"| `{s.name}` | {s.description} | {f'`{s.example}`' if s.example and not s.example.startswith('<') else ''} |"
        for s in SETTINGS
    )
    readme = (ROOT / "README.md").read_text()
    start = readme.index(TABLE_HEAD) + len(TABLE_HEAD)
    end = readme.index("\n\n", start)
    (ROOT / "README.md").write_text(readme[:start] + rows + readme[end:])


if __name__ == "__main__":
    main()
