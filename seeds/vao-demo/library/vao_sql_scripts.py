#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: apply VAO's idempotent SQL scripts to the local stand-in of its PostgreSQL database."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vao_sql_scripts
short_description: Apply idempotent SQL scripts to a SQLite file standing in for a PostgreSQL database
description:
  - Runs each SQL script, in the order given, in one transaction per script, against a SQLite database that stands
    in for VAO's PostgreSQL database in nightshift's local mode (seed 002 applies the same kind of scripts with psql).
  - The scripts must be idempotent and portable (C(CREATE TABLE IF NOT EXISTS), C(INSERT ... ON CONFLICT DO UPDATE
    ... WHERE ... IS DISTINCT FROM ...)), so a second run changes nothing.
  - Reports C(changed) only when a table was created or a row was inserted, updated or deleted.
  - Supports check mode (each script runs and is rolled back; the counts say what would change).
  - Uses only the Python standard library, so it runs with ansible-core alone.
version_added: "1.0.0"
options:
  path:
    description:
      - Absolute path of the SQLite database file. Its directory must exist (in the local cloud it is inside a resource
        group directory: if it is missing, the group was never created or has been swept).
    type: path
    required: true
  scripts:
    description:
      - Paths of the C(.sql) files to apply, in order.
    type: list
    elements: path
    required: true
author:
  - nightshift platform team
"""

EXAMPLES = r"""
- name: Ensure the reference data is loaded
  vao_sql_scripts:
    path: /tmp/cloud/resource-groups/rg-vao-demo-pr-7/postgresql-servers/psql-vao-demo-pr-7/vao.sqlite
    scripts:
      - sql/reference/001-schema.sql
      - sql/reference/010-regions.sql
"""

RETURN = r"""
rows_changed:
  description: Rows inserted, updated or deleted (or that would be, in check mode).
  type: int
  returned: always
tables_created:
  description: Tables the scripts created.
  type: list
  elements: str
  returned: always
rows:
  description: Row count of every table after the scripts, by table.
  type: dict
  returned: always
"""

import os
import sqlite3

from ansible.module_utils.basic import AnsibleModule


def tables(conn):
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def run(module):
    path = module.params["path"]
    if not os.path.isdir(os.path.dirname(path)):
        module.fail_json(msg=f"{os.path.dirname(path)} does not exist: the database server was never created, or its resource group was swept")
    for script in module.params["scripts"]:
        if not os.path.isfile(script):
            module.fail_json(msg=f"SQL script {script} not found")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        before = tables(conn)
        rows_changed = 0
        for script in module.params["scripts"]:
            with open(script, encoding="utf-8") as f:
                sql = f.read()
            start = conn.total_changes
            conn.execute("BEGIN")
            try:
                for statement in split_statements(sql):
                    conn.execute(statement)
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                module.fail_json(msg=f"{os.path.basename(script)}: {exc}")
            rows_changed += conn.total_changes - start
            conn.execute("ROLLBACK" if module.check_mode else "COMMIT")
        created = sorted(tables(conn) - before)
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables(conn))}
    finally:
        conn.close()
    return {
        "changed": rows_changed > 0 or bool(created),
        "rows_changed": rows_changed,
        "tables_created": created,
        "rows": counts,
    }


def split_statements(sql):
    """Splits a script on the semicolons that end a complete statement (none of VAO's scripts has a trigger body)."""
    statement = ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip():
                yield statement
            statement = ""
    if statement.strip():
        yield statement


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "scripts": {"type": "list", "elements": "path", "required": True},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
