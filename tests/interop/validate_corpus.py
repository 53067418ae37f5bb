"""Runs the OASIS reference validator (stix2-validator, with stix2-patterns) on a corpus.

Usage: validate_corpus.py CORPUS.json VERDICTS.json
CORPUS is a list of {"label": ..., "object": {...}}; VERDICTS gets [{"label", "valid", "message"}].
"""
import json
import sys

from stix2validator import ValidationOptions, validate_instance

corpus = json.load(open(sys.argv[1]))
options = ValidationOptions(version="2.1")
out = []
for case in corpus:
    try:
        result = validate_instance(case["object"], options)
        out.append({"label": case["label"], "valid": bool(result.is_valid), "message": "; ".join(str(e) for e in result.errors)[:300]})
    except Exception as e:  # the validator itself failing on an input counts as "invalid"
        out.append({"label": case["label"], "valid": False, "message": "validator exception: %s" % e})
json.dump(out, open(sys.argv[2], "w"))
print("validated %d objects" % len(out))
