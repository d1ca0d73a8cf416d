"""The fast path's assumptions about aiomqtt and paho hold for the installed versions, and a
client without them is refused by name, not broken in a callback."""

from __future__ import annotations

from typing import Any

import aiomqtt
import pytest

from drivers.mqtt.fastpath import FastPathUnavailable, install, paho_client


def _on_message(_client: Any, _userdata: Any, _message: Any) -> None:
    """A stand-in callback."""


async def test_install_takes_over_on_message_and_wraps_the_socket_opener() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)
    paho = paho_client(client)
    opener = paho.on_socket_open
    install(client, _on_message)
    assert paho.on_message is _on_message
    assert paho.on_socket_open is not opener  # bufsock's wrapper, calling aiomqtt's
    assert hasattr(paho, "_sock")


async def test_a_client_without_the_assumed_internals_is_refused_by_name() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)
    del client._client
    with pytest.raises(FastPathUnavailable, match=r"aiomqtt\.Client\._client"):
        install(client, _on_message)
