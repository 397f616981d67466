#!/usr/bin/env python3
"""Smoke check of the local Orthense demo's two stores, after seeding.

Environment:
  MONGO_DATABASE           path of the medical-data store (SQLite, one table of JSON documents per collection)
  SQL_DATABASE             path of the accounts store (SQLite, relational tables)
  SMOKE_EXPECT_TEST_DATA   optional: "true" (test tier must be loaded), "false" (must NOT be), unset (either)
  NIGHTSHIFT_OUTPUTS_FILE  optional: where to write a JSON object of outputs (record counts)

Prints one line per check ("ok   <check>: <detail>" or "FAIL <check>: <detail>") and exits 0 only when every
check passed (1 when a check failed, 2 when a store cannot be opened at all).
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import sys

# Minimum rows of the reference tier: present in every environment, persistent ones included.
REFERENCE_TABLES = {"countries": 20, "roles": 5, "specialties": 10}
REFERENCE_COLLECTIONS = {"exercises": 30, "pathologies": 10, "protocols": 10}
# The test tier: fake people and their medical records, never loaded in persistent environments.
TEST_TABLES = {"organisations": 1, "practitioners": 1, "patient_accounts": 1, "account_roles": 1}
TEST_COLLECTIONS = {"care_plans": 1, "consultations": 1, "prescriptions": 1}


class Smoke:
    def __init__(self) -> None:
        self.failures = 0
        self.outputs: dict[str, int | str] = {}

    def check(self, name: str, ok: bool, detail: str) -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            self.failures += 1
        return ok


def open_store(env_var: str) -> sqlite3.Connection:
    raw = os.environ.get(env_var, "")
    if not raw:
        raise SystemExit(f"FAIL config: {env_var} is not set (path of the SQLite store)")
    path = pathlib.Path(raw)
    if not path.is_file():
        raise SystemExit(f"FAIL config: {env_var}={raw} does not exist (stack not applied, or resource group swept?)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise SystemExit(f"FAIL config: {env_var}={raw} is not a readable SQLite database: {exc}")
    return conn


def count(conn: sqlite3.Connection, table: str) -> int | None:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if not exists:
        return None
    return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def counts_check(smoke: Smoke, store: str, conn: sqlite3.Connection, minimums: dict[str, int], label: str) -> int:
    """Every table has at least its minimum; returns the total rows."""
    found = {t: count(conn, t) for t in minimums}
    short = [f"{t}={n if n is not None else 'missing'} (min {minimums[t]})"
             for t, n in found.items() if n is None or n < minimums[t]]
    summary = ", ".join(f"{t}={n}" for t, n in found.items())
    smoke.check(f"{store} {label} counts", not short, "; ".join(short) if short else summary)
    for t, n in found.items():
        smoke.outputs[f"{store}_{t}"] = n or 0
    return sum(n or 0 for n in found.values())


def main() -> int:
    expect_test = os.environ.get("SMOKE_EXPECT_TEST_DATA", "").strip().lower()
    if expect_test not in ("", "true", "false"):
        print(f"FAIL config: SMOKE_EXPECT_TEST_DATA must be true, false or unset, got {expect_test!r}")
        return 2
    try:
        sql = open_store("SQL_DATABASE")
        mongo = open_store("MONGO_DATABASE")
    except SystemExit as exc:
        print(exc)
        return 2

    smoke = Smoke()
    counts_check(smoke, "sql", sql, REFERENCE_TABLES, "reference")
    counts_check(smoke, "mongo", mongo, REFERENCE_COLLECTIONS, "reference")

    # Lookup inside the medical store: every protocol phase names known exercises.
    dangling = mongo.execute(
        """
        SELECT count(*) FROM protocols p, json_each(p.body, '$.phases') ph, json_each(ph.value, '$.exercise_ids') ex
        WHERE ex.value NOT IN (SELECT _id FROM exercises)
        """
    ).fetchone()[0]
    smoke.check("mongo protocols -> exercises", dangling == 0, f"{dangling} unknown exercise references")

    test_tables = {t: count(sql, t) for t in TEST_TABLES}
    test_collections = {c: count(mongo, c) for c in TEST_COLLECTIONS}
    test_rows = sum(n or 0 for n in list(test_tables.values()) + list(test_collections.values()))
    has_test = test_rows > 0
    smoke.outputs["test_data_loaded"] = has_test
    if expect_test == "false":
        smoke.check("test tier absent", not has_test, f"{test_rows} test records found" if has_test else "none loaded")
    elif expect_test == "true" or has_test:
        counts_check(smoke, "sql", sql, TEST_TABLES, "test")
        counts_check(smoke, "mongo", mongo, TEST_COLLECTIONS, "test")
        # Join inside the accounts store: practitioners -> organisations, specialties; patients -> practitioner.
        orphans = sql.execute(
            """
            SELECT
              (SELECT count(*) FROM practitioners p LEFT JOIN organisations o ON o.id = p.organisation_id
                 LEFT JOIN specialties s ON s.code = p.specialty_code WHERE o.id IS NULL OR s.code IS NULL),
              (SELECT count(*) FROM patient_accounts a LEFT JOIN practitioners p ON p.id = a.referring_practitioner_id
                 WHERE p.id IS NULL),
              (SELECT count(*) FROM account_roles r LEFT JOIN roles ro ON ro.code = r.role_code WHERE ro.code IS NULL)
            """
        ).fetchone()
        smoke.check("sql joins", orphans == (0, 0, 0),
                    "practitioners/patients/roles without their referenced rows: %d/%d/%d" % orphans)
        # Lookup across the stores, as the medical-data API does with the accounts API: every patient and
        # practitioner referenced by a consultation has an account.
        patients = {r[0] for r in sql.execute("SELECT id FROM patient_accounts")}
        practitioners = {r[0] for r in sql.execute("SELECT id FROM practitioners")}
        refs = mongo.execute(
            "SELECT json_extract(body, '$.patient_id'), json_extract(body, '$.practitioner_id') FROM consultations"
        ).fetchall()
        unknown = [r for r in refs if r[0] not in patients or r[1] not in practitioners]
        smoke.check("consultations -> accounts", bool(refs) and not unknown,
                    f"{len(refs)} consultations, {len(unknown)} referencing unknown accounts")
        per_practitioner = sql.execute(
            "SELECT count(DISTINCT referring_practitioner_id) FROM patient_accounts"
        ).fetchone()[0]
        smoke.outputs["practitioners_with_patients"] = per_practitioner
    else:
        print("skip test tier: not loaded (persistent environment?)")

    outputs_file = os.environ.get("NIGHTSHIFT_OUTPUTS_FILE")
    if outputs_file:
        pathlib.Path(outputs_file).write_text(json.dumps(smoke.outputs, sort_keys=True) + "\n", encoding="utf-8")
    if smoke.failures:
        print(f"smoke: {smoke.failures} check(s) failed")
        return 1
    print("smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
