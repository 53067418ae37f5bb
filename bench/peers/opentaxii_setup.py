"""Prepares a fresh OpenTAXII (TAXII 2.1, SQLite) store for the taxii-hub benchmark.

Reads the configuration from OPENTAXII_CONFIG, creates one API root, one collection and one
admin account, and prints {"api_root": ..., "collection": ...} as JSON on stdout.
Usage: python opentaxii_setup.py USERNAME PASSWORD
"""
import json
import sys

from opentaxii.cli import app


def main():
    username, password = sys.argv[1], sys.argv[2]
    with app.app_context():
        taxii2 = app.taxii_server.servers.taxii2
        if taxii2 is None:
            raise SystemExit("this OpenTAXII has no TAXII 2.1 server configured")
        api = taxii2.persistence.api
        root = api.add_api_root(title="bench", description="taxii-hub benchmark", default=True)
        collection = api.add_collection(
            api_root_id=str(root.id), title="bench", description="taxii-hub benchmark", alias="bench"
        )
        app.taxii_server.auth.api.create_account(username=username, password=password, is_admin=True)
    print(json.dumps({"api_root": str(root.id), "collection": str(collection.id)}))


if __name__ == "__main__":
    main()
