"""No secret in a log or a URL (issue 11, defect 2): InfluxDB v1 credentials travel in the
Authorization header, and every log record is scrubbed of the site's passwords and tokens."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.app import Controller
from controller.config import load_site
from controller.config.site import InfluxV1Sink
from controller.recorder.errors import RetryableWriteError
from controller.recorder.outbox import encode_batch
from controller.recorder.writers import InfluxV1Writer
from controller.redaction import MASK, redact, site_secrets
from tests.servers import InfluxServer, ServerError

SECRETS = {
    "mqtt": "mqtt-Pa55word!",
    "influx": "influx&Pa55=word",
    "token": "v2-token-abcdef0123456789",
}


def _site(tmp_path: Path, influx_url: str, sink: str = "v1") -> Path:
    influx = (
        f'{{type: influxdb_v1, url: "{influx_url}", database: secrets, username: sanjie, '
        f"password: '{SECRETS['influx']}'}}"
        if sink == "v1"
        else f'{{type: influxdb_v2, url: "{influx_url}", org: o, bucket: b, '
        f"token: '{SECRETS['token']}'}}"
    )
    site = tmp_path / f"site-{sink}.yaml"
    site.write_text(
        textwrap.dedent(
            f"""\
            campus: {{id: t, name: {{zh: 测试}}}}
            buildings:
              - {{id: b1, kind: dorm, name: {{zh: 一号楼}}, rooms: [{{id: "101", floor: 1}}]}}
            links:
              - {{id: gw, type: modbus_tcp, host: 127.0.0.1, port: 1502}}
              - {{id: broker, type: mqtt, host: 127.0.0.1, port: 1883, username: sanjie,
                  password: '{SECRETS["mqtt"]}'}}
            devices:
              - {{id: b1.101.elec, profile: eastron/sdm120, building: b1, room: "101",
                  link: gw, unit_id: 1}}
            sinks:
              influxdb: {influx}
            """
        ),
        encoding="utf-8",
    )
    return site


@pytest.fixture
def secured_influx(tmp_path: Path) -> Iterator[InfluxServer]:
    """An InfluxDB 1.x that refuses unauthenticated writes, with one admin account."""
    server = InfluxServer(tmp_path / "influx", auth=True)
    try:
        server.start()
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        server.query(f"CREATE USER sanjie WITH PASSWORD '{SECRETS['influx']}' WITH ALL PRIVILEGES")
        server.query("CREATE DATABASE secrets", auth=("sanjie", SECRETS["influx"]))
        yield server
    finally:
        server.stop()


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return caplog.text + "\n".join(formatter.format(r) for r in caplog.records)


@pytest.mark.integration
async def test_v1_credentials_go_in_the_header_and_never_reach_a_log(
    tmp_path: Path, secured_influx: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL at INFO, httpcore at DEBUG
    site = load_site(_site(tmp_path, secured_influx.url))
    Controller(site)  # the controller registers the site's secrets with the log redaction
    sink = site.sinks.influxdb
    assert isinstance(sink, InfluxV1Sink)
    writer = InfluxV1Writer.from_sink(sink)
    wrong = InfluxV1Writer(secured_influx.url, "secrets", username="sanjie", password="nope")
    line = "energy,device=b1.101.elec value=1.5 1767225600000"
    try:
        await writer.send(encode_batch([line]))  # accepted: the header carried the password
        with pytest.raises(RetryableWriteError) as refused:
            await wrong.send(encode_batch([line]))
        assert refused.value.status == 401
    finally:
        await writer.aclose()
        await wrong.aclose()
    rows = secured_influx.query(
        'SELECT * FROM "energy"', db="secrets", auth=("sanjie", SECRETS["influx"])
    )
    assert rows["results"][0]["series"]  # type: ignore[index]
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert requests
    assert not [url for url in requests if "&u=" in url or "&p=" in url or MASK in url]

    # Libraries and our own code mentioning a secret, in a message or an exception:
    log = logging.getLogger("tests.secrets")
    log.warning("connecting with %s", SECRETS["mqtt"])
    log.info("POST http://h/write?db=x&u=sanjie&p=%s", SECRETS["influx"])
    try:
        raise ConnectionError(f"refused for token {SECRETS['influx']}")
    except ConnectionError:
        log.exception("write failed")
    logged = _everything_logged(caplog)
    assert "HTTP Request: POST" in logged  # httpx did log the requests
    assert MASK in logged
    for secret in (SECRETS["mqtt"], SECRETS["influx"]):
        assert secret not in logged


def test_every_sink_and_link_secret_is_collected(tmp_path: Path) -> None:
    v1 = load_site(_site(tmp_path, "http://127.0.0.1:1", "v1"))
    v2 = load_site(_site(tmp_path, "http://127.0.0.1:1", "v2"))
    assert site_secrets(v1.links) | site_secrets(v1.sinks) == {SECRETS["mqtt"], SECRETS["influx"]}
    assert site_secrets(v2.sinks) == {SECRETS["token"]}
    Controller(v2)
    assert SECRETS["token"] not in redact(f"Authorization: Token {SECRETS['token']}")


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("GET /write?db=x&u=me&p=hunter22", "GET /write?db=x&u=***&p=***"),
        ("url http://me:pw123@host/x", "url http://***@host/x"),
        ("/query?token=abc&x=1", "/query?token=***&x=1"),
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_credential_shaped_url_parts_are_masked(text: str, clean: str) -> None:
    assert redact(text) == clean
