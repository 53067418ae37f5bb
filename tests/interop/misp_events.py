"""MISP events, exported by MISP's own STIX 2.1 exporter, posted with taxii2-client.

Usage: misp_events.py BASE_URL USER API_KEY CA_PEM COLLECTION_ID RECIPIENT_IDENTITY

Builds MISP events with pymisp — one per TLP tag, and events mixing an event tag with tags on
single attributes — converts each with misp-stix (MISPtoSTIX21Parser) and posts the bundle's
objects to the collection through the unmodified OASIS taxii2-client. misp-stix writes the
event's TLP only on the grouping and an attribute's TLP on that attribute's indicator and
observed-data, never on the SCOs they contain. The only change made to its output is the one a
hub user makes for TLP:RED: `x_taxii_hub_recipients` on each object that carries a RED marking.

Prints one JSON line per event: its name, the status resource, and for every object the TLP
MISP meant it to have — the most restrictive of the event's tag and its attribute's tag,
worked out here from the MISP event, not from the STIX output.
"""
import json
import sys

from misp_stix_converter import MISPtoSTIX21Parser
from pymisp import MISPEvent
from taxii2client.v21 import Collection

base, user, key, ca, collection_id, recipient = sys.argv[1:7]

ORDER = ["tlp:clear", "tlp:green", "tlp:amber", "tlp:amber+strict", "tlp:red"]
ALIASES = {"tlp:white": "tlp:clear"}
RED_MARKINGS = {
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def level(tag):
    return ORDER.index(ALIASES.get(tag, tag)) if tag else None


def most_restrictive(*tags):
    levels = [level(t) for t in tags if t]
    return ORDER[max(levels)] if levels else None


# (name, event tag, [(attribute type, value, attribute tag)])
ATTRIBUTES = [("ip-dst", "198.51.100.{n}"), ("domain", "evil{n}.example"), ("sha256", "{n:064x}"), ("url", "http://evil{n}.example/x")]
EVENTS = [(f"event {tag}", tag, [None, None, None, None]) for tag in ["tlp:clear", "tlp:white", "tlp:green", "tlp:amber", "tlp:amber+strict", "tlp:red"]]
EVENTS += [
    ("green event, one red and one amber+strict attribute", "tlp:green", ["tlp:red", "tlp:amber+strict", None, None]),
    ("amber+strict event, one clear attribute", "tlp:amber+strict", ["tlp:clear", None, None, None]),
    ("untagged event, one red attribute", None, ["tlp:red", None, None, None]),
    ("red event, one green attribute", "tlp:red", ["tlp:green", None, None, None]),
]

collection = Collection(f"{base}/hub/collections/{collection_id}/", user=user, password=key, verify=ca)
for n, (name, event_tag, attribute_tags) in enumerate(EVENTS):
    event = MISPEvent()
    event.info = name
    if event_tag:
        event.add_tag(event_tag)
    event.add_tag("PAP:AMBER")  # a non-TLP tag: misp-stix writes it as a label
    by_uuid = {}
    for i, ((kind, value), tag) in enumerate(zip(ATTRIBUTES, attribute_tags)):
        attribute = event.add_attribute(kind, value.format(n=n * 10 + i + 1), to_ids=(i % 2 == 0))
        if tag:
            attribute.add_tag(tag)
        by_uuid[attribute.uuid] = tag
    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event(event)
    objects = json.loads(parser.bundle.serialize())["objects"]
    expected = {}
    for o in objects:
        if o["type"] == "marking-definition":
            continue  # the standard TLP definitions themselves, not the event's content
        # misp-stix names an attribute's indicator, observed-data and SCOs after its uuid.
        uuid = o["id"].split("--", 1)[1]
        tlp = most_restrictive(event_tag, by_uuid.get(uuid)) or "default"
        expected[o["id"]] = tlp
        if RED_MARKINGS & set(o.get("object_marking_refs", [])):
            o["x_taxii_hub_recipients"] = [recipient]
    status = collection.add_objects({"objects": objects})
    print(json.dumps({"event": name, "status": status._raw, "expected": expected}))
