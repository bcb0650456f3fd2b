#!/usr/bin/env python3
"""Loads netstatd's exported JSON lines with ClickHouse's own engine (chdb) into the
table of deploy/clickhouse/schema.sql and runs every named query of
deploy/clickhouse/queries.sql; prints one JSON document with what each returned.

usage: clickhouse_fleet.py SCHEMA QUERIES LINES PARAMS_JSON

The lines are inserted as the exporter's documented URL inserts them
(INSERT INTO netstatd.events FORMAT JSONEachRow with date_time_input_format=best_effort),
on a session set to the defaults of older servers (date_time_input_format=basic)
and refusing unknown keys, so every key of a line must be a column. The same
insert is then repeated to check that the table drops a repeated batch.
"""
import json
import re
import sys
import tempfile

import chdb
from chdb import session


def statements(text):
    """The statements of an SQL file: `--` comments dropped, split on `;`."""
    without_comments = "\n".join(re.sub(r"--.*$", "", line) for line in text.splitlines())
    return [part.strip() for part in without_comments.split(";") if part.strip()]


def named_queries(text):
    """{name: sql} from `-- name: NAME` blocks."""
    queries = {}
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        sql = statements(body)
        assert len(sql) == 1, f"query {name} has {len(sql)} statements"
        queries[name.strip()] = sql[0]
    return queries


def main():
    schema_path, queries_path, lines_path, params_json = sys.argv[1:5]
    params = json.loads(params_json)
    with open(schema_path) as f:
        schema = f.read()
    with open(queries_path) as f:
        queries = named_queries(f.read())
    with open(lines_path) as f:
        data = f.read()
    report = {"engine": chdb.engine_version if hasattr(chdb, "engine_version") else "", "results": {}}
    with tempfile.TemporaryDirectory() as directory:
        db = session.Session(directory)
        for statement in statements(schema):
            db.query(statement)
        db.query("SET date_time_input_format = 'basic'")
        db.query("SET input_format_skip_unknown_fields = 0")
        insert = "INSERT INTO netstatd.events SETTINGS date_time_input_format = 'best_effort' FORMAT JSONEachRow\n"
        try:
            db.query("INSERT INTO netstatd.events FORMAT JSONEachRow\n" + data.splitlines()[0])
            report["basic_refused"] = False
        except Exception as error:  # the Z of RFC 3339 needs best_effort
            report["basic_refused"] = "Cannot parse" in str(error) or "Cannot read" in str(error)
            report["basic_error"] = str(error).splitlines()[0][:200]
        db.query(insert + data)
        count = lambda: int(db.query("SELECT count() FROM netstatd.events", "CSV").bytes().decode().strip())
        report["rows"] = count()
        db.query(insert + data)
        report["rows_after_repeat"] = count()
        for name, sql in queries.items():
            used = {key: value for key, value in params.items() if "{" + key + ":" in sql}
            result = db.query(sql, "JSON", params=used)
            report["results"][name] = json.loads(result.bytes().decode())["data"]
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
