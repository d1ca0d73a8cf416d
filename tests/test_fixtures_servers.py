"""The real-server fixtures work: Mosquitto, InfluxDB 1.x and VictoriaMetrics on free ports.

Also checks the autouse leak checks of ``tests/conftest.py``: they fail a test that leaves a
task or a thread behind, and stay out of the way of sync tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import aiomqtt
import pytest

from tests.servers import InfluxServer, MosquittoServer, VictoriaMetricsServer

REPO = Path(__file__).resolve().parent.parent


def _post(url: str, body: bytes, content_type: str = "text/plain") -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return int(reply.status)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode())


@pytest.mark.integration
async def test_publish_and_receive_through_mosquitto(
    mosquitto: MosquittoServer, unique_name: str
) -> None:
    topic = f"{unique_name}/dorm-1/101/elec"
    payload = json.dumps({"power": 812.5, "energy": 1234.56}, ensure_ascii=False)
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=unique_name) as client:
        await client.subscribe(f"{unique_name}/#", qos=1)
        await client.publish(topic, payload, qos=1)
        await client.publish(f"{unique_name}/status", "online", qos=1, retain=True)
        received: dict[str, str] = {}
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received[str(message.topic)] = message.payload.decode()
                if len(received) == 2:
                    break
    assert json.loads(received[topic]) == {"power": 812.5, "energy": 1234.56}
    assert received[f"{unique_name}/status"] == "online"


@pytest.mark.integration
def test_write_and_read_back_through_influxdb(influxdb: InfluxServer, unique_name: str) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    lines = (
        "energy,building=dorm-1,room=101,device=dorm-1.101.elec value=1234.5 1780000000000000000\n"
        "energy,building=dorm-1,room=101,device=dorm-1.101.elec value=1235.25 1780000060000000000\n"
    )
    status = _post(f"{influxdb.url}/write?db={unique_name}&precision=ns", lines.encode())
    assert status == 204
    answer = influxdb.query(
        "SELECT value FROM energy WHERE building='dorm-1' ORDER BY time", db=unique_name
    )
    series = answer["results"][0]["series"][0]  # type: ignore[index]
    assert series["columns"] == ["time", "value"]
    assert series["values"] == [[1780000000000000000, 1234.5], [1780000060000000000, 1235.25]]


@pytest.mark.integration
def test_v2_write_into_victoria_metrics_reads_back_through_export(
    victoria: VictoriaMetricsServer, unique_name: str
) -> None:
    measurement = unique_name
    body = f"{measurement},building=dorm-1,room=101 power=812.5 1780000000000000000\n"
    query = urllib.parse.urlencode({"org": "campus", "bucket": "sanjie", "precision": "ns"})
    assert _post(f"{victoria.url}/api/v2/write?{query}", body.encode()) == 204
    _get(f"{victoria.url}/internal/force_flush")
    match = urllib.parse.urlencode({"match[]": f'{{__name__="{measurement}_power"}}'})
    exported = [
        json.loads(line) for line in _get(f"{victoria.url}/api/v1/export?{match}").splitlines()
    ]
    assert len(exported) == 1
    assert exported[0]["metric"] == {
        "__name__": f"{measurement}_power",
        "building": "dorm-1",
        "room": "101",
    }
    assert exported[0]["values"] == [812.5]
    assert exported[0]["timestamps"] == [1780000000000]


def test_servers_live_on_distinct_free_loopback_ports(
    mosquitto: MosquittoServer, influxdb: InfluxServer, victoria: VictoriaMetricsServer
) -> None:
    ports = {mosquitto.port, influxdb.port, influxdb.rpc_port, victoria.port}
    assert len(ports) == 4
    assert all(port > 1024 for port in ports)


LEAKY_TESTS = """
import asyncio
import threading

async def test_leaks_a_task():
    asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="orphan")


def test_leaks_a_thread():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="stray", daemon=False)
    thread.release = stop.set  # for the outer test to end it
    thread.start()


def test_sync_tests_are_left_alone():
    assert True


async def test_clean_async_test():
    async with asyncio.TaskGroup() as group:
        group.create_task(asyncio.sleep(0), name="done")
"""


def test_leak_checks_fail_tests_that_leave_tasks_or_threads(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((REPO / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    try:
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    finally:
        for thread in threading.enumerate():
            if thread.name == "stray":
                thread.release()  # type: ignore[attr-defined]
                thread.join(5)
    result.assert_outcomes(passed=4, errors=2)
    output = result.stdout.str()
    assert "test leaked tasks: ['orphan']" in output
    assert "test leaked threads: ['stray']" in output
