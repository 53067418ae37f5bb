"""A full session of the OASIS taxii2-client against a running taxii-hub.

Usage: taxii2client_session.py BASE_URL USER PASSWORD CA_PEM OTHER_USER OTHER_PASSWORD
Exits non-zero (with a traceback) on the first thing that does not work as the standard says.
"""
import sys
import uuid

import requests
from taxii2client.v21 import Server, as_pages

base, user, password, ca, other_user, other_password = sys.argv[1:7]

server = Server(base + "/taxii2/", user=user, password=password, verify=ca)
assert server.title == "taxii-hub", server.title
assert server.default is not None and server.default.url == base + "/hub/", server.default.url
api_root = server.default
assert "application/taxii+json;version=2.1" in api_root.versions
assert api_root.max_content_length > 0

collections = {c.alias: c for c in api_root.collections}
shared = collections["shared"]
assert shared.can_read and shared.can_write

run = uuid.uuid4().hex[:8]


def indicator(n, modified="2021-01-01T00:00:00.000Z"):
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--%s" % uuid.uuid5(uuid.NAMESPACE_URL, "%s-%d" % (run, n)),
        "created": "2021-01-01T00:00:00.000Z",
        "modified": modified,
        "name": "interop %d" % n,
        "pattern": "[ipv4-addr:value = '192.0.2.%d']" % (n % 250),
        "pattern_type": "stix",
        "valid_from": "2021-01-01T00:00:00Z",
    }


objects = [indicator(n) for n in range(57)]
ids = [o["id"] for o in objects]

status = shared.add_objects({"objects": objects})
assert status.status == "complete", status.status
assert status.success_count == 57 and status.failure_count == 0, (status.success_count, status.failures)

# get_status, through the API root.
again = api_root.get_status(status.id)
assert again.id == status.id and again.success_count == 57

# Paginate with as_pages: every object exactly once, in date_added order.
seen = []
pages = 0
for envelope in as_pages(shared.get_objects, per_request=10, type="indicator"):
    pages += 1
    seen.extend(o["id"] for o in envelope.get("objects", []))
assert pages == 6, pages
assert seen == ids, "as_pages must return every object once, in order"

# The manifest, paginated too.
manifest_ids = []
for page in as_pages(shared.get_manifest, per_request=20):
    manifest_ids.extend(r["id"] for r in page.get("objects", []))
assert manifest_ids == ids

# A second version, then versions / get_object / version filters.
newer = indicator(0, modified="2022-02-02T00:00:00.000Z")
shared.add_objects({"objects": [newer]})
versions = shared.object_versions(ids[0])
assert versions["versions"] == ["2021-01-01T00:00:00.000Z", "2022-02-02T00:00:00.000Z"], versions
latest = shared.get_object(ids[0])
assert [o["modified"] for o in latest["objects"]] == ["2022-02-02T00:00:00.000Z"]
first = shared.get_object(ids[0], version="first")
assert [o["modified"] for o in first["objects"]] == ["2021-01-01T00:00:00.000Z"]
every = shared.get_objects(id=ids[0], version="all")
assert len(every["objects"]) == 2

# Incremental polling with added_after, as a CERT's script would.
last_added = max(r["date_added"] for r in shared.get_manifest(limit=1000)["objects"])
shared.add_objects({"objects": [indicator(1000)]})
fresh = shared.get_objects(added_after=last_added)
assert [o["id"] for o in fresh["objects"]] == [indicator(1000)["id"]], fresh

# Delete, then the object is gone.
shared.delete_object(ids[1])
try:
    shared.get_object(ids[1])
    raise AssertionError("deleted object still served")
except requests.exceptions.HTTPError as e:
    assert e.response.status_code == 404, e
    assert e.response.json()["http_status"] == "404"

# Another partner's view: read-only, and the status resource is not theirs.
other = Server(base + "/taxii2/", user=other_user, password=other_password, verify=ca)
other_shared = {c.alias: c for c in other.default.collections}["shared"]
assert other_shared.can_read and not other_shared.can_write
assert len(other_shared.get_objects(limit=1000)["objects"]) == 57  # 57 + new version of one + 1 new - 1 deleted, latest only
try:
    other.default.get_status(status.id)
    raise AssertionError("status visible to another account")
except requests.exceptions.HTTPError as e:
    assert e.response.status_code == 404, e
    assert e.response.json()["http_status"] == "404"

print("taxii2-client interop: OK")
