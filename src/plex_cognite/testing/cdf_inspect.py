"""Look at what landed in a running FakeCDF without writing code: a read-only admin endpoint and a small CLI.

Endpoints (read-only, no token needed; FakeCDF binds loopback only):

- `GET /_admin/summary`: the project, counts per resource type (assets, events, timeseries, datasets, extpipes,
  extpipe runs, datapoints) and rows per RAW table.
- `GET /_admin/objects?type=events&limit=20`: the first objects of one type, as the API returns them (`type` one
  of assets, events, timeseries, datasets, extpipes, extpipe_runs; `limit` default 20).

CLI: `python -m plex_cognite.testing.fake_cdf inspect --url URL [--type events] [--limit 20]` prints the counts, and
with `--type` the objects, one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO, cast

from plex_cognite.testing._http import Request, Response

if TYPE_CHECKING:
    from plex_cognite.testing.fake_cdf import FakeCDF, ResourceKind

__all__ = ["OBJECT_TYPES", "AdminRoutes", "inspect_main", "summary"]

#: The `type` values `/_admin/objects` accepts.
OBJECT_TYPES = ("assets", "events", "timeseries", "datasets", "extpipes", "extpipe_runs")

PREFIX = "/_admin/"


def summary(fake: FakeCDF) -> dict[str, Any]:
    """Counts per resource type, datapoints in total, and rows per RAW table."""
    counts: dict[str, int] = {kind: len(fake.objects(cast("ResourceKind", kind))) for kind in OBJECT_TYPES[:5]}
    counts["extpipe_runs"] = len(fake.extpipe_runs)
    counts["datapoints"] = sum(
        len(fake.datapoints(xid)) + len(fake.string_datapoints(xid))
        for xid in (str(row["externalId"]) for row in fake.timeseries if row.get("externalId"))
    )
    raw = {
        f"{db}/{table}": len(fake.raw_rows(db, table)) for db, tables in fake.raw_tables().items() for table in tables
    }
    return {"project": fake.project, "counts": counts, "raw": raw}


def objects(fake: FakeCDF, kind: str, limit: int) -> list[dict[str, Any]]:
    """The first `limit` objects of one type."""
    if kind == "extpipe_runs":
        return fake.extpipe_runs[:limit]
    return fake.objects(cast("ResourceKind", kind))[:limit]


class AdminRoutes:
    """A handler that answers `/_admin/...` from the fake's store and passes everything else to `api`."""

    def __init__(self, fake: FakeCDF, api: Callable[[Request], Response]) -> None:
        self._fake = fake
        self._api = api

    def __call__(self, request: Request) -> Response:
        """Serve the admin endpoints; delegate the rest."""
        if not request.path.startswith(PREFIX):
            return self._api(request)
        if request.method != "GET":
            return Response.json({"error": "the admin endpoints are read-only: use GET"}, 405)
        name = request.path[len(PREFIX) :]
        if name == "summary":
            return Response.json(summary(self._fake))
        if name == "objects":
            kind = request.query_value("type", "") or ""
            if kind not in OBJECT_TYPES:
                return Response.json({"error": f"type must be one of {', '.join(OBJECT_TYPES)}, got {kind!r}"}, 400)
            raw_limit = request.query_value("limit", "20") or "20"
            if not raw_limit.isdigit():
                return Response.json({"error": f"limit must be a whole number, got {raw_limit!r}"}, 400)
            found = objects(self._fake, kind, int(raw_limit))
            return Response.json({"type": kind, "items": found}, items=len(found))
        return Response.json(
            {"error": f"no admin endpoint {request.path}; use /_admin/summary or /_admin/objects"}, 404
        )


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def inspect_main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`python -m plex_cognite.testing.fake_cdf inspect --url URL [--type T] [--limit N]`; 0 on success."""
    parser = argparse.ArgumentParser(
        prog="python -m plex_cognite.testing.fake_cdf inspect", description="Show what a running FakeCDF holds."
    )
    parser.add_argument("--url", required=True, help="the FakeCDF base URL it printed at start")
    parser.add_argument("--type", choices=OBJECT_TYPES, help="also print the objects of this type (JSON lines)")
    parser.add_argument("--limit", type=int, default=20, help="objects to print with --type (default 20)")
    args = parser.parse_args(argv)
    target = out if out is not None else sys.stdout
    base = args.url.rstrip("/")
    try:
        found = _get(f"{base}/_admin/summary")
        listed = _get(f"{base}/_admin/objects?type={args.type}&limit={args.limit}") if args.type else None
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"cannot read {base}/_admin/summary: {error}; is FakeCDF running at that URL?", file=sys.stderr)
        return 1
    print(f"FakeCDF project {found['project']} at {base}", file=target)
    for kind, count in found["counts"].items():
        print(f"  {kind:<14} {count:>9}", file=target)
    for table, rows in found["raw"].items():
        print(f"  raw {table:<30} {rows:>6} row(s)", file=target)
    if listed is not None:
        for item in listed["items"]:
            print(json.dumps(item, sort_keys=True), file=target)
    return 0
