#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: load Orthense dataset files into a local SQLite database (the local cloud's stores)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: orthense_sqlite_dataset
short_description: Load Orthense dataset files into a SQLite database, idempotently
description:
  - Reads dataset files written by C(seeds/orthense-demo/data/generate.py) and upserts their records into a SQLite
    database that stands in for the platform's stores in nightshift's local mode.
  - Relational datasets (C(kind=table)) become tables with the dataset's columns and primary key, like the accounts
    API's SQL Server database.
  - Document datasets (C(kind=collection)) become one table per collection, C((_id TEXT PRIMARY KEY, body TEXT)),
    with the document as canonical JSON in C(body), like the medical-data API's MongoDB database.
  - Reports C(changed) only when a table was created or a record was inserted or updated. Never deletes.
  - Supports check mode (nothing is written, the counts say what would change).
  - Uses only the Python standard library (C(sqlite3), C(json)), so it runs with ansible-core alone.
version_added: "1.0.0"
options:
  path:
    description:
      - Absolute path of the SQLite database file. Its directory must exist (in the local cloud it is a resource
        group directory: if it is missing, the group was never created or has been swept).
    type: path
    required: true
  layout:
    description:
      - C(relational) accepts only C(kind=table) datasets; C(documents) accepts only C(kind=collection) datasets.
    type: str
    required: true
    choices: [relational, documents]
  datasets:
    description:
      - Paths of dataset JSON files, loaded in the order given.
    type: list
    elements: path
    required: true
author:
  - nightshift platform team
"""

EXAMPLES = r"""
- name: Ensure the reference accounts data is loaded
  orthense_sqlite_dataset:
    path: /tmp/cloud/resource-groups/rg-orthense-demo-nightly/sql/accounts.sqlite
    layout: relational
    datasets:
      - data/reference/accounts.countries.json
      - data/reference/accounts.roles.json
"""

RETURN = r"""
inserted:
  description: Records inserted (or that would be, in check mode).
  type: int
  returned: always
updated:
  description: Records whose values differed and were updated.
  type: int
  returned: always
unchanged:
  description: Records already present with the same values.
  type: int
  returned: always
created_tables:
  description: Tables created because they did not exist.
  type: list
  elements: str
  returned: always
tables:
  description: Per table or collection, the counts C(inserted), C(updated), C(unchanged), C(total) (rows now in it).
  type: dict
  returned: always
"""

import json
import os
import re
import sqlite3

from ansible.module_utils.basic import AnsibleModule

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SQLITE_TYPES = {"string": "TEXT", "date": "TEXT", "timestamp": "TEXT", "integer": "INTEGER", "boolean": "INTEGER"}


class DatasetError(Exception):
    """A dataset file that cannot be loaded as asked."""


def ident(name):
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise DatasetError("invalid identifier %r (lowercase letters, digits, '_')" % (name,))
    return '"%s"' % name


def read_dataset(path, layout):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DatasetError("cannot read dataset %s: %s" % (path, exc))
    expected = "table" if layout == "relational" else "collection"
    if data.get("kind") != expected:
        raise DatasetError("%s: kind %r, but layout %s expects %r" % (path, data.get("kind"), layout, expected))
    ident(data.get("name"))
    return data


def table_exists(conn, name):
    if conn is None:
        return False
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def normalise(value, column_type):
    if value is None:
        return None
    if column_type == "boolean":
        return 1 if value else 0
    return value


def plan_table(conn, data, exists):
    """Return (ddl, [(sql, params)], counts) for a relational dataset."""
    columns = data.get("columns") or []
    key = data.get("key") or []
    names = [c["name"] for c in columns]
    for name in names:
        ident(name)
    if not key or any(k not in names for k in key):
        raise DatasetError("%s: key %r must name columns among %r" % (data["name"], key, names))
    unknown = {c["type"] for c in columns} - set(SQLITE_TYPES)
    if unknown:
        raise DatasetError("%s: unknown column types %s" % (data["name"], sorted(unknown)))
    types = {c["name"]: c["type"] for c in columns}
    table = ident(data["name"])
    col_defs = ", ".join(
        "%s %s%s" % (ident(c["name"]), SQLITE_TYPES[c["type"]], " NOT NULL" if c["name"] in key else "")
        for c in columns
    )
    ddl = "CREATE TABLE IF NOT EXISTS %s (%s, PRIMARY KEY (%s))" % (table, col_defs, ", ".join(ident(k) for k in key))

    existing = {}
    if exists:
        present = [r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)]
        missing = [n for n in names if n not in present]
        if missing:
            raise DatasetError("table %s exists without columns %s: recreate the database" % (data["name"], missing))
        for row in conn.execute("SELECT %s FROM %s" % (", ".join(ident(n) for n in names), table)):
            record = dict(zip(names, row))
            existing[tuple(record[k] for k in key)] = record

    statements, counts = [], {"inserted": 0, "updated": 0, "unchanged": 0}
    insert = "INSERT INTO %s (%s) VALUES (%s)" % (
        table, ", ".join(ident(n) for n in names), ", ".join("?" for _ in names))
    non_key = [n for n in names if n not in key]
    update = "UPDATE %s SET %s WHERE %s" % (
        table,
        ", ".join("%s = ?" % ident(n) for n in non_key) or "%s = %s" % (ident(key[0]), ident(key[0])),
        " AND ".join("%s = ?" % ident(k) for k in key),
    )
    for raw in data.get("rows") or []:
        record = {n: normalise(raw.get(n), types[n]) for n in names}
        if any(record[k] is None for k in key):
            raise DatasetError("%s: a row has no value for its key %r" % (data["name"], key))
        current = existing.get(tuple(record[k] for k in key))
        if current is None:
            statements.append((insert, [record[n] for n in names]))
            counts["inserted"] += 1
        elif current != record:
            statements.append((update, [record[n] for n in non_key] + [record[k] for k in key]))
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
        existing[tuple(record[k] for k in key)] = record
    return ddl, statements, counts, len(existing)


def plan_collection(conn, data, exists):
    table = ident(data["name"])
    ddl = "CREATE TABLE IF NOT EXISTS %s (_id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL)" % table
    existing = {}
    if exists:
        existing = dict(conn.execute("SELECT _id, body FROM %s" % table).fetchall())
    statements, counts = [], {"inserted": 0, "updated": 0, "unchanged": 0}
    for doc in data.get("documents") or []:
        doc_id = doc.get("_id")
        if not isinstance(doc_id, str) or not doc_id:
            raise DatasetError("%s: every document needs a string _id" % data["name"])
        body = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        current = existing.get(doc_id)
        if current is None:
            statements.append(("INSERT INTO %s (_id, body) VALUES (?, ?)" % table, [doc_id, body]))
            counts["inserted"] += 1
        elif current != body:
            statements.append(("UPDATE %s SET body = ? WHERE _id = ?" % table, [body, doc_id]))
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
        existing[doc_id] = body
    return ddl, statements, counts, len(existing)


def run(module):
    path = module.params["path"]
    layout = module.params["layout"]
    if not os.path.isabs(path):
        raise DatasetError("path must be absolute, got %r" % path)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise DatasetError(
            "directory %s does not exist: the store's resource group was not created, or it was swept" % parent)
    datasets = [read_dataset(p, layout) for p in module.params["datasets"]]

    db_exists = os.path.exists(path)
    if module.check_mode:
        conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True) if db_exists else None
    else:
        conn = sqlite3.connect(path)
    result = {"inserted": 0, "updated": 0, "unchanged": 0, "created_tables": [], "tables": {}}
    try:
        seen_tables = set()
        for data in datasets:
            name = data["name"]
            exists = table_exists(conn, name)  # in check mode, a table "created" earlier is still absent
            planner = plan_table if layout == "relational" else plan_collection
            ddl, statements, counts, total = planner(conn, data, exists)
            if not exists and name not in seen_tables:
                result["created_tables"].append(name)
            seen_tables.add(name)
            if not module.check_mode:
                with conn:  # one transaction per dataset
                    conn.execute(ddl)
                    for sql, params in statements:
                        conn.execute(sql, params)
            table_counts = result["tables"].setdefault(name, {"inserted": 0, "updated": 0, "unchanged": 0})
            for k, v in counts.items():
                table_counts[k] += v
                result[k] += v
            table_counts["total"] = total
    finally:
        if conn is not None:
            conn.close()
    result["changed"] = bool(result["inserted"] or result["updated"] or result["created_tables"])
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            layout=dict(type="str", required=True, choices=["relational", "documents"]),
            datasets=dict(type="list", elements="path", required=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except (DatasetError, sqlite3.Error) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
