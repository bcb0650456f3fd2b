#!/usr/bin/env python3
"""Checks recorded responses against openapi.yaml.

usage: validate_openapi.py OPENAPI.yaml CASES.json
CASES is a list of {"path": template, "method", "status", "content_type", "body"} or
{"schema": "Problem", ...} for responses outside any path (404 for unknown paths).
Prints one line per failure and exits 1 if there was any.
"""
import json
import sys

import jsonschema
import yaml


def resolve(node, spec):
    if isinstance(node, dict):
        if "$ref" in node and len(node) == 1:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target, spec)
        return {k: resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, spec) for v in node]
    return node


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    cases = json.load(open(sys.argv[2]))
    failures = []
    for case in cases:
        where = f"{case.get('method', 'GET')} {case.get('path', case.get('schema'))} {case['status']}"
        ctype = case["content_type"].split(";")[0].strip()
        if "schema" in case:
            schema = resolve({"$ref": "#/components/schemas/" + case["schema"]}, spec)
        else:
            operation = spec["paths"].get(case["path"], {}).get(case["method"].lower())
            if operation is None:
                failures.append(f"{where}: path or method not in the contract")
                continue
            response = operation["responses"].get(str(case["status"]))
            if response is None:
                failures.append(f"{where}: status not in the contract")
                continue
            content = resolve(response, spec).get("content", {})
            if ctype not in content:
                failures.append(f"{where}: content type {ctype} not in the contract ({', '.join(content)})")
                continue
            schema = content[ctype]["schema"]
        if ctype == "application/x-ndjson" and schema.get("type") != "string":
            for number, line in enumerate(l for l in case["body"].split("\n") if l):
                for error in jsonschema.Draft202012Validator(schema).iter_errors(json.loads(line)):
                    failures.append(f"{where}: line {number + 1}: {'/'.join(map(str, error.absolute_path))}: {error.message[:300]}")
        elif ctype == "application/json" or ctype.endswith("+json"):
            try:
                instance = json.loads(case["body"])
            except ValueError as error:
                failures.append(f"{where}: body is not JSON: {error}")
                continue
            for error in jsonschema.Draft202012Validator(schema).iter_errors(instance):
                failures.append(f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message[:300]}")
    for failure in failures:
        print(failure)
    print(f"checked {len(cases)} responses, {len(failures)} failures")
    sys.exit(1 if failures else 0)


main()
