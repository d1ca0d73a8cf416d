"""Wildcard subscriptions: one filter per template, never broader than needed."""

from __future__ import annotations

import pytest

from drivers.mqtt.topics import covers, subscription_filters


def test_one_filter_per_template() -> None:
    topics = [("{base}/state", f"bath1/shower/s{i:02d}/state") for i in range(1, 31)]
    topics += [("{base}/status", f"bath1/shower/s{i:02d}/status") for i in range(1, 31)]
    topics += [("tele/{base}/SENSOR", f"tele/plug_{i}/SENSOR") for i in range(4)]
    assert subscription_filters(topics) == [
        "bath1/shower/+/state",
        "bath1/shower/+/status",
        "tele/+/SENSOR",
    ]


def test_single_device_subscribes_exactly() -> None:
    assert subscription_filters([("{base}/state", "a/b/state")]) == ["a/b/state"]


def test_bases_of_different_depth_get_separate_filters() -> None:
    topics = [("{base}/state", t) for t in ("x/1/state", "x/2/state", "y/state")]
    assert subscription_filters(topics) == ["x/+/state", "y/state"]


def test_covered_filters_are_dropped() -> None:
    topics = [("a", "site/1/state"), ("a", "site/2/state"), (None, "site/3/state")]
    assert subscription_filters(topics) == ["site/+/state"]


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/#", "a/b/c", True),
        ("a/+/c", "a/+/c", True),
        ("a/b/c", "a/+/c", False),
        ("a/+", "a/b/c", False),
        ("a/+/c/d", "a/b/c", False),
        ("+/+", "a/#", False),
    ],
)
def test_covers(outer: str, inner: str, expected: bool) -> None:
    assert covers(outer, inner) is expected
