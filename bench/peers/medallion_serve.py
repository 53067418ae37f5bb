"""Runs medallion (memory backend) under waitress for the taxii-hub benchmark.

Usage: python medallion_serve.py CONFIG.json HOST PORT THREADS
The memory backend keeps its data in this one process, so medallion runs as a single waitress
process with THREADS threads (more processes would each hold a separate copy of the data).
"""
import logging
import sys

from waitress import serve

from medallion import load_app


def main():
    config, host, port, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    app = load_app(config)
    logging.getLogger("medallion").setLevel(logging.WARNING)
    logging.getLogger("waitress").setLevel(logging.ERROR)
    # 100 pollers plus ingest partners: raise waitress' default limit of 100 connections.
    serve(app, host=host, port=port, threads=threads, connection_limit=1000, channel_timeout=3600,
          max_request_body_size=1 << 30, ident="medallion")


if __name__ == "__main__":
    main()
