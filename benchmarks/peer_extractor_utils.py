"""The peer for `bench_end_to_end.py`: the same extraction written the usual way on cognite-extractor-utils.

Runs in its own virtualenv (extractor-utils requires cognite-sdk < 8; `bench_end_to_end.py --peer` creates
`benchmarks/.venv-peer` on demand), reads the same FakePlex and writes the same default mapping into the same
FakeCDF: plant, building, workcenter, parts-catalog and part assets; job and workcenter-status events linked by
asset id; a produced and a scrap time series per workcenter; production and scrap quantities as datapoints (points
sharing a millisecond summed). Plex is read the usual way too: one `httpx.Client`, one request at a time, bodies
loaded with `json.loads`, rows checked with plain Python; writes go through upload queues (background upload
threads, the SDK's own request parallelism).

Prints one JSON line: `{"seconds": ..., "peak_rss_mb": ..., "cpu": ..., "events": ..., "datapoints": ...}`.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cognite.client import ClientConfig, CogniteClient, global_config
from cognite.client.credentials import Token
from cognite.client.data_classes import Asset, Event, TimeSeries
from cognite.extractorutils.uploader import AssetUploadQueue, EventUploadQueue, TimeSeriesUploadQueue

HISTORY = "/production/v1/production-history"


def plex_time(text: Any) -> datetime | None:
    """A Plex date-time (`...Z`, up to 7 fractional digits, or an offset), or None when it is not one."""
    if not isinstance(text, str) or len(text) < 20:
        return None
    try:
        if "." in text:
            head, tail = text.split(".", 1)
            digits = "".join(c for c in tail if c.isdigit())
            zone = tail[len(digits) :]
            text = f"{head}.{digits[:6]}{zone}"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("plex-url", "cdf-url", "pcn", "start", "end", "api-key", "project", "token"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    global_config.disable_pypi_version_check = True
    started = time.perf_counter()
    client = CogniteClient(
        ClientConfig(client_name="peer", project=args.project, credentials=Token(args.token), base_url=args.cdf_url)
    )
    pcn = args.pcn
    plex = httpx.Client(
        base_url=args.plex_url,
        headers={"X-Plex-Connect-Api-Key": args.api_key, "X-Plex-Connect-Customer-Id": pcn},
        timeout=120,
    )

    def get(path: str, **params: str) -> list[dict[str, Any]]:
        response = plex.get(path, params=params)
        response.raise_for_status()
        return [row for row in json.loads(response.content) if isinstance(row, dict)]

    # -- assets: plant, buildings, workcenters, parts catalog, parts (parents before children) -------------------
    plant = f"PCN{pcn}_PLANT"
    catalog = f"PCN{pcn}_PARTS"
    levels: list[list[Asset]] = [
        [Asset(external_id=plant, name=f"PCN {pcn}")],
        [],
        [Asset(external_id=catalog, name="Parts", parent_external_id=plant)],
        [],
    ]
    for row in get("/mdm/v1/buildings"):
        if row.get("id"):
            levels[1].append(
                Asset(
                    external_id=f"PCN{pcn}_BLDG_{row['id']}",
                    name=row.get("buildingCode") or row["id"],
                    description=row.get("name"),
                    parent_external_id=plant,
                )
            )
    workcenters = [row for row in get("/production/v1/production-definitions/workcenters") if row.get("workcenterId")]
    for row in workcenters:
        parent = f"PCN{pcn}_BLDG_{row['buildingId']}" if row.get("buildingId") else plant
        levels[2].append(
            Asset(
                external_id=f"PCN{pcn}_WC_{row['workcenterId']}",
                name=row.get("workcenterCode") or row["workcenterId"],
                description=row.get("name"),
                parent_external_id=parent,
            )
        )
    for row in get("/mdm/v1/parts"):
        if row.get("id"):
            name = f"{row.get('number')}-{row['revision']}" if row.get("revision") else str(row.get("number"))
            levels[3].append(
                Asset(
                    external_id=f"PCN{pcn}_PART_{row['id']}",
                    name=name,
                    description=row.get("name"),
                    parent_external_id=catalog,
                )
            )
    for level in levels:
        with AssetUploadQueue(client, max_queue_size=1000) as queue:
            for asset in level:
                queue.add_to_upload_queue(asset)
    asset_xids = [asset.external_id for level in levels for asset in level]
    ids = {
        a.external_id: a.id for a in client.assets.retrieve_multiple(external_ids=asset_xids, ignore_unknown_ids=True)
    }

    # -- time series per workcenter --------------------------------------------------------------------------------
    series = []
    for row in workcenters:
        wc = f"PCN{pcn}_WC_{row['workcenterId']}"
        for kind in ("PRODUCED_QTY", "SCRAP_QTY"):
            series.append(TimeSeries(external_id=f"{wc}_{kind}", name=f"{wc}_{kind}", asset_id=ids.get(wc)))
    existing = {
        t.external_id
        for t in client.time_series.retrieve_multiple(
            external_ids=[t.external_id for t in series], ignore_unknown_ids=True
        )
    }
    client.time_series.create([t for t in series if t.external_id not in existing])

    events = 0
    points = 0
    with EventUploadQueue(client, max_queue_size=1000, max_upload_interval=5) as event_queue:
        # -- job events (a snapshot) -------------------------------------------------------------------------------
        for row in get("/scheduling/v1/jobs"):
            if not row.get("id"):
                continue
            dates = [row.get(k) for k in ("createdDate", "dueDate", "completedDate", "earliestStartDateTime")]
            parsed = [plex_time(d) for d in dates]
            if any(d not in (None, "") and p is None for d, p in zip(dates, parsed, strict=True)):
                continue
            if any(row.get(k) is not None and number(row.get(k)) is None for k in ("quantity", "quantityCompleted")):
                continue
            start = parsed[3] or parsed[0]
            links = []
            if row.get("partId"):
                links.append(f"PCN{pcn}_PART_{row['partId']}")
            if row.get("buildingId"):
                links.append(f"PCN{pcn}_BLDG_{row['buildingId']}")
            if any(link not in ids for link in links):
                continue  # an unknown part: held back, as the library defers it
            event_queue.add_to_upload_queue(
                Event(
                    external_id=f"PCN{pcn}_JOB_{row['id']}",
                    type="job",
                    subtype=row.get("jobStatus"),
                    start_time=ms(start) if start else None,
                    end_time=ms(parsed[2]) if parsed[2] else None,
                    asset_ids=[ids[link] for link in links],
                    description=row.get("jobNumber"),
                    metadata={k: str(v) for k, v in row.items() if v is not None and not isinstance(v, dict | list)},
                    source="Plex",
                )
            )
            events += 1

        # -- history, day by day ---------------------------------------------------------------------------------
        begin = datetime.fromisoformat(args.start)
        end = datetime.fromisoformat(args.end)
        with TimeSeriesUploadQueue(client, max_queue_size=100_000, max_upload_interval=5) as point_queue:
            day = begin
            while day < end:
                upper = min(day + timedelta(days=1), end)
                window = {
                    "beginDate": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endDate": upper.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for path, kind in (("production-entries", "PRODUCED_QTY"), ("scrap-entries", "SCRAP_QTY")):
                    sums: dict[tuple[str, int], float] = {}
                    for row in get(f"{HISTORY}/{path}", **window):
                        moment = plex_time(row.get("transactionDate"))
                        quantity = number(row.get("quantity"))
                        if not row.get("workcenterId") or moment is None or quantity is None or quantity < 0:
                            continue
                        if not day <= moment < upper:
                            continue
                        key = (f"PCN{pcn}_WC_{row['workcenterId']}_{kind}", ms(moment))
                        sums[key] = sums.get(key, 0.0) + quantity
                    by_series: dict[str, list[tuple[int, float]]] = {}
                    for (xid, stamp), value in sums.items():
                        by_series.setdefault(xid, []).append((stamp, value))
                    for xid, pairs in by_series.items():
                        point_queue.add_to_upload_queue(external_id=xid, datapoints=pairs)
                        points += len(pairs)
                for row in get(f"{HISTORY}/workcenter-status-entries", **window):
                    moment = plex_time(row.get("logDate"))
                    duration = row.get("duration")
                    if not row.get("workcenterId") or moment is None or not day <= moment < upper:
                        continue
                    if duration is not None and (number(duration) is None or duration < 0):
                        continue
                    wc = f"PCN{pcn}_WC_{row['workcenterId']}"
                    links = [wc] + ([f"PCN{pcn}_PART_{row['partId']}"] if row.get("partId") else [])
                    if any(link not in ids for link in links):
                        continue
                    event_queue.add_to_upload_queue(
                        Event(
                            external_id=f"{wc}_{ms(moment)}",
                            type="workcenter_status",
                            subtype=row.get("workcenterStatus"),
                            start_time=ms(moment),
                            end_time=ms(moment + timedelta(seconds=duration or 0)),
                            asset_ids=[ids[link] for link in links],
                            metadata={k: str(v) for k, v in row.items() if v is not None},
                            source="Plex",
                        )
                    )
                    events += 1
                day = upper
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "cpu": usage.ru_utime + usage.ru_stime,
                "events": events,
                "datapoints": points,
            }
        )
    )


if __name__ == "__main__":
    main()
