#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""schema_check.py [--invalid] SCHEMA FILE...: validates every line of each FILE (one JSON
document per line, as `listen --json` writes) against SCHEMA, a JSON Schema
using only the keywords below (a standard-library subset of draft 2020-12, so
that the test needs no package). A keyword it does not know is an error rather
than ignored, so that the schema cannot silently promise more than is checked.
Exit 0 when all validate; 1 naming the first failing line and where.
With --invalid, every FILE must fail instead (each failure is printed): the
test that the schema and this checker can reject a wrong document."""
import json
import re
import sys

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or isinstance(v, float) and v.is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Invalid(Exception):
    pass


def resolve(root, ref):
    if not ref.startswith("#/"):
        raise Invalid(f"$ref {ref!r}: only local references are supported")
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def check(root, schema, value, where):
    unknown = set(schema) - ANNOTATIONS - {
        "$ref", "type", "enum", "pattern", "minimum", "properties", "required",
        "additionalProperties", "items"}
    if unknown:
        raise Invalid(f"schema keyword(s) {sorted(unknown)} at {where} not supported")
    if "$ref" in schema:
        check(root, resolve(root, schema["$ref"]), value, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            raise Invalid(f"{where}: {json.dumps(value)[:80]} is not of type {types}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{where}: {json.dumps(value)[:80]} is not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        raise Invalid(f"{where}: {value[:80]!r} does not match {schema['pattern']}")
    if "minimum" in schema and TYPES["number"](value) and value < schema["minimum"]:
        raise Invalid(f"{where}: {value} is below {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise Invalid(f"{where}: required member {key!r} is missing")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                check(root, props[key], item, f"{where}.{key}")
            elif extra is False:
                raise Invalid(f"{where}: member {key!r} is not in the schema")
            elif isinstance(extra, dict):
                check(root, extra, item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(root, schema["items"], item, f"{where}[{i}]")


def check_file(schema, path):
    """The number of documents in path; raises Invalid naming the first bad line."""
    count = 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                check(schema, schema, json.loads(line), "$")
            except (Invalid, ValueError) as e:
                raise Invalid(f"{path}:{n}: {e}") from None
            count += 1
    return count


def main(argv):
    invalid = len(argv) > 1 and argv[1] == "--invalid"
    args = argv[2:] if invalid else argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        schema = json.load(f)
    count = 0
    for path in args[1:]:
        try:
            count += check_file(schema, path)
        except Invalid as e:
            print(e, file=sys.stderr)
            if not invalid:
                return 1
            continue
        if invalid:
            print(f"{path}: valid, but a failure was expected", file=sys.stderr)
            return 1
    if invalid:
        print(f"{len(args) - 1} file(s) rejected")
        return 0
    if count == 0:
        print("no document to check", file=sys.stderr)
        return 1
    print(f"{count} document(s) valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
