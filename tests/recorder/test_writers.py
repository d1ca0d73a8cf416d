"""Writers against real servers: InfluxDB 1.x ``/write`` and VictoriaMetrics ``/api/v2/write``."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from controller.recorder.errors import RejectedBatchError, RetryableWriteError
from controller.recorder.outbox import encode_batch
from controller.recorder.writers import InfluxV1Writer, InfluxV2Writer, classify
from tests.servers import InfluxServer, VictoriaMetricsServer, free_port

LINES = [
    "active_energy,building=dorm-1,building_kind=dorm,campus=test,circuit=sockets,"
    "device=dorm-1.101.elec,floor=1,kind=active_energy,point=energy,room=101 "
    "value=1234.56 1767225600000",
    "relay,building=dorm-1,device=dorm-1.101.elec,kind=relay,point=relay,room=101 "
    "state=true 1767225600000",
    "ac_mode,building=dorm-1,device=dorm-1.101.ac,kind=ac_mode,point=mode,room=101 "
    'label="cool" 1767225600000',
]


@pytest.mark.parametrize(
    ("status", "retry"),
    [(400, False), (413, False), (422, False), (401, True), (404, True), (429, True), (503, True)],
)
def test_statuses_are_classified(status: int, retry: bool) -> None:
    error = classify(status, '{"error":"why"}', "3")
    assert isinstance(error, RetryableWriteError if retry else RejectedBatchError)
    assert error.detail == "why"
    assert error.status == status
    if status == 429:
        assert isinstance(error, RetryableWriteError)
        assert error.retry_after == 3.0


@pytest.mark.integration
async def test_v1_writes_land_with_tags_and_typed_fields(
    influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    writer = InfluxV1Writer(influxdb.url, unique_name)
    try:
        await writer.send(encode_batch(LINES))
        await writer.send(encode_batch(LINES))  # the same points again: no duplicates
    finally:
        await writer.aclose()
    energy = influxdb.query('SELECT * FROM "active_energy"', db=unique_name)
    [series] = energy["results"][0]["series"]  # type: ignore[index]
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert len(series["values"]) == 1
    assert row["time"] == 1_767_225_600_000_000_000
    assert row["value"] == 1234.56
    assert (row["building"], row["room"], row["floor"]) == ("dorm-1", "101", "1")
    assert row["circuit"] == "sockets"
    assert (row["campus"], row["building_kind"], row["kind"]) == ("test", "dorm", "active_energy")
    relay = influxdb.query('SELECT "state" FROM "relay"', db=unique_name)
    assert relay["results"][0]["series"][0]["values"][0][1] is True  # type: ignore[index]
    mode = influxdb.query('SELECT "label" FROM "ac_mode"', db=unique_name)
    assert mode["results"][0]["series"][0]["values"][0][1] == "cool"  # type: ignore[index]


@pytest.mark.integration
async def test_v1_bad_data_is_rejected_with_the_servers_words(
    influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    writer = InfluxV1Writer(influxdb.url, unique_name)
    try:
        with pytest.raises(RejectedBatchError) as caught:
            await writer.send(encode_batch(["not line protocol"]))
    finally:
        await writer.aclose()
    assert caught.value.status == 400
    assert "unable to parse" in caught.value.detail


@pytest.mark.integration
async def test_v1_missing_database_and_dead_server_are_retryable(
    influxdb: InfluxServer, unique_name: str
) -> None:
    writer = InfluxV1Writer(influxdb.url, unique_name)
    dead = InfluxV1Writer(f"http://127.0.0.1:{free_port()}", unique_name, timeout=2)
    try:
        with pytest.raises(RetryableWriteError) as missing:
            await writer.send(encode_batch(LINES))
        assert missing.value.status == 404
        assert "database not found" in missing.value.detail
        with pytest.raises(RetryableWriteError) as refused:
            await dead.send(encode_batch(LINES))
        assert refused.value.status is None
    finally:
        await writer.aclose()
        await dead.aclose()


def export(server: VictoriaMetricsServer, match: str) -> list[dict[str, object]]:
    urllib.request.urlopen(f"{server.url}/internal/force_flush", timeout=10).read()
    query = urllib.parse.quote(match)
    with urllib.request.urlopen(f"{server.url}/api/v1/export?match[]={query}", timeout=10) as reply:
        return [json.loads(line) for line in reply.read().decode().splitlines() if line]


@pytest.mark.integration
async def test_v2_writes_reach_a_real_v2_endpoint(
    victoria: VictoriaMetricsServer, unique_name: str
) -> None:
    lines = [line.replace("campus=test", f"campus={unique_name}") for line in LINES]
    writer = InfluxV2Writer(victoria.url, org="campus", bucket="sanjie", token="secret")
    try:
        await writer.send(encode_batch(lines))
    finally:
        await writer.aclose()
    [series] = export(victoria, f'{{__name__="active_energy_value",campus="{unique_name}"}}')
    assert series["values"] == [1234.56]
    assert series["timestamps"] == [1_767_225_600_000]
    labels = series["metric"]
    assert isinstance(labels, dict)
    assert (labels["building"], labels["room"], labels["point"]) == ("dorm-1", "101", "energy")


@pytest.mark.integration
async def test_v2_dead_server_is_retryable() -> None:
    writer = InfluxV2Writer(f"http://127.0.0.1:{free_port()}", org="o", bucket="b", timeout=2)
    try:
        with pytest.raises(RetryableWriteError):
            await writer.send(encode_batch(LINES))
    finally:
        await writer.aclose()
