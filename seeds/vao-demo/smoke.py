#!/usr/bin/env python3
"""Smoke check of a local VAO environment (seed 002), after its seeds.

Environment:
  PG_DATABASE              path of the store standing in for VAO's PostgreSQL database (SQLite)
  BACKEND_DESCRIPTOR       optional: path of the backend's site.json in the local cloud (its app settings)
  FRONTEND_URLS            optional: JSON object of the frontends' URLs, e.g. {"usagers": "https://usagers..."}
  SMOKE_EXPECT_TEST_DATA   "true" or "pull-request"/"nightly" (test data must be loaded), "false" or "persistent"
                           (it must NOT be), unset (either)
  NIGHTSHIFT_OUTPUTS_FILE  optional: where to write a JSON object of outputs (row counts)

Prints one line per check ("ok   <check>: <detail>" or "FAIL <check>: <detail>"), then "smoke: N passed, N failed",
and exits 0 only when every check passed (1 when a check failed, 2 when the store cannot be opened at all).
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import sys

# Minimum rows of the reference tier, present in every environment (referentiel.yml).
REFERENCE = {"regions": 13, "departements": 20, "types_handicap": 5, "statuts_demande": 5}
# The test tier (jeux-de-test.yml): never loaded in persistent environments.
TEST = {"organismes": 1, "agrements": 1, "sejours": 1}
SECRET_SETTINGS = ("SMTP_PASSWORD", "API_ENTREPRISE_TOKEN", "API_INSEE_TOKEN")


def expectation() -> bool | None:
    raw = os.environ.get("SMOKE_EXPECT_TEST_DATA", "").strip().lower()
    if raw in ("true", "pull-request", "nightly"):
        return True
    if raw in ("false", "persistent"):
        return False
    if raw:
        raise SystemExit(f"FAIL config: SMOKE_EXPECT_TEST_DATA={raw!r}: use true, false or an environment kind")
    return None


def main() -> int:
    passed = failed = 0
    outputs: dict[str, object] = {}

    def check(name: str, ok: bool, detail: str) -> None:
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)

    expect_test = expectation()
    raw = os.environ.get("PG_DATABASE", "")
    path = pathlib.Path(raw)
    if not raw or not path.is_file():
        print(f"FAIL config: PG_DATABASE={raw!r} is not a file (postgres stack not applied, or resource group swept?)")
        return 2
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        print(f"FAIL config: PG_DATABASE={raw} is not a readable database: {exc}")
        return 2

    def rows(table: str) -> int | None:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] if table in tables else None

    for table, minimum in REFERENCE.items():
        n = rows(table)
        outputs[f"{table}_rows"] = n or 0
        check(f"reference {table}", n is not None and n >= minimum,
              f"{n} rows (at least {minimum})" if n is not None else "no such table: the schema and reference data were not loaded (referentiel)")
    test_rows = {t: rows(t) or 0 for t in TEST}
    loaded = all(test_rows[t] >= m for t, m in TEST.items())
    outputs["test_data_loaded"] = loaded
    detail = ", ".join(f"{t}={n}" for t, n in test_rows.items())
    if expect_test is True:
        check("test data loaded", loaded, detail)
    elif expect_test is False:
        check("no test data in a persistent environment", not any(test_rows.values()), detail)

    descriptor = os.environ.get("BACKEND_DESCRIPTOR", "")
    if descriptor:
        try:
            settings = json.loads(pathlib.Path(descriptor).read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError) as exc:
            check("backend settings", False, f"cannot read {descriptor}: {exc}")
        else:
            check("backend uses this database", settings.get("PG_DATABASE") == str(path), settings.get("PG_DATABASE", "unset"))
            plain = [k for k in SECRET_SETTINGS if not str(settings.get(k, "")).startswith("@Microsoft.KeyVault(")]
            check("backend secrets are Key Vault references", not plain,
                  "plain or missing: " + ", ".join(plain) if plain else ", ".join(SECRET_SETTINGS))

    urls = json.loads(os.environ.get("FRONTEND_URLS") or "{}")
    for name, url in sorted(urls.items()):
        check(f"frontend {name}", isinstance(url, str) and url.startswith("https://"), str(url))

    outfile = os.environ.get("NIGHTSHIFT_OUTPUTS_FILE")
    if outfile:
        pathlib.Path(outfile).write_text(json.dumps(outputs), encoding="utf-8")
    print(f"smoke: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
