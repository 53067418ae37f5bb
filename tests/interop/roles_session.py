"""taxii2-client sessions per role on the demo world (config/demo-provision.toml).

Usage: roles_session.py BASE_URL CA_PEM CREDENTIALS_JSON
Banco posts into the PT Finance ISAC collection with several TLP levels; each demo role then
reads with the unmodified OASIS client and must see exactly what the sharing rule allows. The
national CERT's redistributing feed authenticates with a Bearer token from POST /auth/token.
"""
import json
import sys
import uuid

import requests
from taxii2client.v21 import Server, as_pages

base, ca, creds_path = sys.argv[1:4]
creds = {a["username"]: a["password"] for a in json.load(open(creds_path))}
TLP = {
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def server(user, **kw):
    return Server(base + "/taxii2/", user=user, password=creds[user], verify=ca, **kw)


def collection(srv, alias):
    found = [c for c in srv.default.collections if c.alias == alias]
    return found[0] if found else None


def identity_of(org_name):
    # The admin API gives each organisation's STIX identity id (used in RED recipient lists).
    r = requests.get(base + "/admin/organisations/", auth=("admin", creds["admin"]), verify=ca)
    r.raise_for_status()
    return [o["identity_id"] for o in r.json()["organisations"] if o["name"] == org_name][0]


def indicator(label, marking, recipients=None):
    o = {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--%s" % uuid.uuid4(),
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
        "name": label, "pattern": "[domain-name:value = '%s.example']" % label,
        "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
    }
    if marking:
        o["object_marking_refs"] = [TLP[marking]]
    if recipients:
        o["x_taxii_hub_recipients"] = recipients
    return o


# Banco (member) posts GREEN, AMBER+STRICT and RED-for-CERT.PT into its ISAC collection.
banco = server("banco")
finance = collection(banco, "finance-ioc")
assert finance.can_read and finance.can_write
posted = [
    indicator("green", "green"),
    indicator("strict", "amber+strict"),
    indicator("red", "red", [identity_of("CERT.PT")]),
]
status = finance.add_objects({"objects": posted})
assert status.success_count == 3, status.failures


def names(srv, alias):
    coll = collection(srv, alias)
    if coll is None:
        return None
    got = []
    for env in as_pages(coll.get_objects, per_request=2):
        got += [o["name"] for o in env.get("objects", []) if o["id"] in {p["id"] for p in posted}]
    return sorted(got)


# The producer sees everything it posted.
assert names(banco, "finance-ioc") == ["green", "red", "strict"], names(banco, "finance-ioc")
# The national CERT analyst: a member of the group and the RED recipient.
assert names(server("cert-pt"), "finance-ioc") == ["green", "red", "strict"]


# The CERT's redistributing feed, with a Bearer token: never AMBER+STRICT or RED.
class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


tok = requests.post(base + "/auth/token", auth=("cert-pt-feed", creds["cert-pt-feed"]), verify=ca)
tok.raise_for_status()
feed = Server(base + "/taxii2/", auth=Bearer(tok.json()["access_token"]), verify=ca)
assert names(feed, "finance-ioc") == ["green"], names(feed, "finance-ioc")
# Other sectors do not even see the collection.
assert names(server("energia"), "finance-ioc") is None
assert names(server("telco"), "finance-ioc") is None
# The admin manages the hub but reads no intelligence.
assert names(server("admin"), "finance-ioc") is None
# Telco (read-only) reads the national feed but cannot write to it.
national = collection(server("telco"), "national-feed")
assert national.can_read and not national.can_write
print("taxii2-client per-role sessions: OK")
