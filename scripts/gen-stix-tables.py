#!/usr/bin/env python3
"""Generates src/domain/validation/tables.rs from the OASIS STIX 2.1 JSON schemas.

Usage: scripts/gen-stix-tables.py [../shared/stix2-json-schemas/schemas] > src/domain/validation/tables.rs

The table holds, per STIX type, its category, required properties and each defined property's
kind (string, boolean, integer range, timestamp, identifier with allowed types, closed enum…).
Open vocabularies are not enforced (the schemas keep them under `definitions`). Cross-property
rules (oneOf/anyOf) are written by hand in src/domain/validation/rules.rs.
"""
import json
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/stix2-json-schemas/schemas")


def load(rel):
    with open(os.path.join(root, rel)) as f:
        return json.load(f)


def prefixes(schema):
    text = json.dumps(schema)
    found = []
    for pat in re.findall(r'"pattern": "\^\(?([a-z0-9|\-]+?)\)?--"', text):
        found += pat.split("|")
    return sorted(set(found))


def kind(schema, name):
    text = json.dumps(schema)
    ref = schema.get("$ref", "")
    refs = [ref] + [s.get("$ref", "") for s in schema.get("allOf", [])]
    if any(r.endswith("timestamp.json") for r in refs):
        return "Kind::TimestampMillis" if "timestamp_millis" in text else "Kind::Timestamp"
    if any(r.endswith("identifier.json") for r in refs):
        return "Kind::Ref(&[%s])" % ", ".join('"%s"' % p for p in prefixes(schema))
    if any(r.endswith("hashes-type.json") for r in refs):
        return "Kind::Hashes"
    if any(r.endswith("dictionary.json") for r in refs):
        return "Kind::Dict"
    if any(r.endswith("binary.json") for r in refs):
        return "Kind::Binary"
    if any(r.endswith("hex.json") for r in refs):
        return "Kind::Hex"
    t = schema.get("type")
    if t == "array":
        items = schema.get("items", {})
        irefs = [items.get("$ref", "")] + [s.get("$ref", "") for s in items.get("allOf", [])]
        if any(r.endswith("identifier.json") for r in irefs) or name.endswith("_refs"):
            return "Kind::RefList(&[%s])" % ", ".join('"%s"' % p for p in prefixes(items))
        if any(r.endswith("kill-chain-phase.json") for r in irefs):
            return "Kind::KillChains"
        if any(r.endswith("external-reference.json") for r in irefs):
            return "Kind::ExtRefs"
        if any(r.endswith("granular-marking.json") for r in irefs):
            return "Kind::GranularMarkings"
        if items.get("type") == "string":
            if "enum" in items:
                return "Kind::EnumList(&[%s])" % ", ".join('"%s"' % e for e in items["enum"])
            return "Kind::StrList"
        return "Kind::List"
    if t == "string":
        if name.endswith("_ref"):
            return "Kind::Ref(&[%s])" % ", ".join('"%s"' % p for p in prefixes(schema))
        if "enum" in schema and name != "type":
            return "Kind::Enum(&[%s])" % ", ".join('"%s"' % e for e in schema["enum"])
        return "Kind::Str"
    if t == "boolean":
        return "Kind::Bool"
    if t == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        return "Kind::Int(%s, %s)" % ("Some(%d)" % lo if lo is not None else "None", "Some(%d)" % hi if hi is not None else "None")
    if t == "number":
        return "Kind::Number"
    if t == "object":
        return "Kind::Object"
    return "Kind::Any"


def props_of(doc):
    out, required = {}, list(doc.get("required", []))
    for part in doc.get("allOf", []):
        if "$ref" in part:
            sub = load(os.path.normpath(os.path.join("sdos", part["$ref"])))
            p, r = props_of(sub)
            out.update(p)
            required += r
        else:
            for k, v in part.get("properties", {}).items():
                out[k] = v
            required += part.get("required", [])
    for k, v in doc.get("properties", {}).items():
        out[k] = v
    # Properties defined only inside oneOf/anyOf branches (malware.is_family, marking-definition
    # definition_type…) are still properties of the type; their conditional requirements are
    # hand-written rules.
    for key in ("oneOf", "anyOf"):
        for branch in doc.get(key, []):
            for k, v in branch.get("properties", {}).items():
                # A branch's enum is conditional (is_family: [true] in one, [false] in the other).
                out.setdefault(k, {kk: vv for kk, vv in v.items() if kk != "enum"})
    return out, required


def emit(name, category, rel):
    doc = load(rel)
    props, required = props_of(doc)
    rows = []
    for p in sorted(props):
        if p == "type":
            continue
        rows.append('        ("%s", %s),' % (p, kind(props[p], p)))
    req = ", ".join('"%s"' % r for r in dict.fromkeys(required) if r != "type")
    return '    TypeSpec {\n        name: "%s",\n        category: Category::%s,\n        required: &[%s],\n        properties: &[\n%s\n        ],\n    },' % (
        name, category, req, "\n".join(rows))


specs = []
for folder, category in (("sdos", "Sdo"), ("sros", "Sro"), ("observables", "Sco")):
    for f in os.listdir(os.path.join(root, folder)):
        specs.append((f[:-5], emit(f[:-5], category, os.path.join(folder, f))))
for name in ("marking-definition", "language-content", "extension-definition"):
    specs.append((name, emit(name, "Meta", os.path.join("common", name + ".json"))))
# Sorted by name: the hub looks types up by binary search.
specs = [text for _, text in sorted(specs)]

print("// Generated by scripts/gen-stix-tables.py from the OASIS STIX 2.1 JSON schemas. Do not edit.")
print("// Property names, kinds and required lists only: the schemas themselves are not copied.\n")
print("use super::spec::{Category, Kind, TypeSpec};\n")
print("pub static TYPES: &[TypeSpec] = &[")
print("\n".join(specs))
print("];")
