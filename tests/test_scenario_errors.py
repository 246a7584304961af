"""Malformed scenarios: each gives FILE:LINE: path: message, exit 2, and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from peakday.cli import app

BASE = """\
name: t
clock: {duration: 2h}
traffic:
  sessions_per_min: {"00:00": 60, "01:00": 90}
  phases: {early: ["00:00", "01:00"]}
customers:
  think_time: exponential(mean=5s)
  client_timeout: 5s
  retry: {max_attempts: 2, backoff: 1s}
  segments:
    a: {share: 0.6, product_views: geometric(mean=2), funnel: {cart: 0.2, checkout: 0.5, pay: 0.9}}
    b: {share: 0.4, basket_value: lognormal(mean=100, cv=0.5)}
catalog:
  skus:
    - {id: S1, stock: 10, price: 5}
promotions:
  flash_sales:
    - {name: deal, sku: {id: H1, stock: 5}, start: "00:30", end: "00:40", audience: 100}
payments:
  channels:
    alipay: {share: 0.7, latency: lognormal(median=300ms, p99=2s), failure_rate: 1%}
    card: {share: 0.3, latency: constant(1s)}
  outages:
    - {channel: card, from: "00:10", to: "00:20"}
platform:
  instances: 2
  endpoints:
    home: {service: exponential(mean=50ms)}
    product: {service: exponential(mean=50ms)}
    cart: {service: exponential(mean=50ms)}
    checkout: {service: exponential(mean=50ms)}
    pay: {service: exponential(mean=50ms)}
  autoscaling: {enabled: true, min: 1, max: 4}
sizing:
  servers: {min: 1, max: 10}
"""

# (id, old text, new text, line, path, words the message must contain)
CASES = [
    ("wrong-type-int", "instances: 2", "instances: two", 26, "platform.instances", "whole number"),
    ("negative-int", "instances: 2", "instances: -3", 26, "platform.instances", ">= 1"),
    ("float-for-int", "instances: 2", "instances: 2.5", 26, "platform.instances", "whole number"),
    ("missing-required", "  instances: 2\n", "", 25, "platform.instances", "missing"),
    ("missing-section", "name: t\n", "", 1, "name", "missing"),
    ("unknown-key-hint", "think_time:", "thinktime:", 7, "customers.thinktime", "did you mean 'think_time'"),
    ("unknown-top-key", "sizing:", "sizign:", 34, "sizign", "did you mean 'sizing'"),
    ("unknown-nested-key", "backoff: 1s", "backof: 1s", 9, "customers.retry.backof", "did you mean 'backoff'"),
    ("duration-no-unit", "client_timeout: 5s", "client_timeout: 5", 8, "customers.client_timeout", "without a unit"),
    ("duration-bad-unit", "client_timeout: 5s", "client_timeout: 5 parsecs", 8, "customers.client_timeout", "as a duration"),
    ("duration-zero-positive", "client_timeout: 5s", "client_timeout: 0s", 8, "customers.client_timeout", "longer than 0"),
    ("duration-negative", "backoff: 1s", "backoff: -1s", 9, "customers.retry.backoff", "negative"),
    ("clock-bad", '"01:00": 90}', '"25:00": 90}', 4, "traffic.sessions_per_min.25:00", "time of day"),
    ("clock-minutes", '"01:00": 90}', '"01:75": 90}', 4, "traffic.sessions_per_min.01:75", "not a valid time"),
    ("clock-outside", '"01:00": 90}', '"05:00": 90}', 4, "traffic.sessions_per_min.05:00", "outside the simulated clock"),
    ("negative-rate", '"01:00": 90}', '"01:00": -5}', 4, "traffic.sessions_per_min.01:00", ">= 0"),
    ("shares-sum", "share: 0.4,", "share: 0.5,", 10, "customers.segments", "sum to 1.1"),
    ("share-over-1", "share: 0.4,", "share: 1.4,", 12, "customers.segments.b.share", "outside [0, 1]"),
    ("percent-bad", "failure_rate: 1%", "failure_rate: 150%", 21, "payments.channels.alipay.failure_rate", "outside [0, 1]"),
    ("fraction-text", "failure_rate: 1%", "failure_rate: lots", 21, "payments.channels.alipay.failure_rate", "fraction"),
    ("channel-shares", "share: 0.3, latency", "share: 0.2, latency", 20, "payments.channels", "sum to 0.9"),
    ("dist-unknown", "exponential(mean=5s)", "poisson(mean=5s)", 7, "customers.think_time", "unknown distribution"),
    ("dist-bad-param", "exponential(mean=5s)", "exponential(rate=5s)", 7, "customers.think_time", "no parameter 'rate'"),
    ("dist-no-unit", "exponential(mean=5s)", "exponential(mean=5)", 7, "customers.think_time", "without a unit"),
    ("dist-lognormal-args", "lognormal(median=300ms, p99=2s)", "lognormal(median=300ms)", 21, "payments.channels.alipay.latency", "lognormal takes"),
    ("dist-p99-below-median", "p99=2s", "p99=100ms", 21, "payments.channels.alipay.latency", "p99 must be >= median"),
    ("dist-not-text", "exponential(mean=5s)", "[1, 2]", 7, "customers.think_time", "distribution"),
    ("geometric-negative", "geometric(mean=2)", "geometric(mean=-2)", 11, "customers.segments.a.product_views", ">= 0"),
    ("empirical-missing-file", "constant(1s)", "empirical(nope.csv)", 22, "payments.channels.card.latency", "cannot read empirical file"),
    ("outage-unknown-channel", "channel: card,", "channel: paypal,", 24, "payments.outages.0.channel", "unknown channel 'paypal'"),
    ("outage-reversed", 'to: "00:20"', 'to: "00:05"', 24, "payments.outages.0.to", "not after its start"),
    ("flash-sku-clash", "id: H1", "id: S1", 18, "promotions.flash_sales.0.sku.id", "already exists"),
    ("flash-outside-day", 'end: "00:40"', 'end: "03:00"', 18, "promotions.flash_sales.0.end", "outside the simulated clock"),
    ("autoscale-min-max", "min: 1, max: 4", "min: 5, max: 4", 33, "platform.autoscaling.min", "min <= max"),
    ("sizing-min-max", "{min: 1, max: 10}", "{min: 11, max: 10}", 35, "sizing.servers.min", "min <= max"),
    ("confidence-one", "{min: 1, max: 10}\n", "{min: 1, max: 10}\n  confidence: 100%\n", 36, "sizing.confidence", "between 0 and 1"),
    ("confidence-zero", "{min: 1, max: 10}\n", "{min: 1, max: 10}\n  confidence: 0\n", 36, "sizing.confidence", "between 0 and 1"),
    ("endpoint-unknown", "    pay: {service", "    payy: {service", 32, "platform.endpoints.payy", "did you mean 'pay'"),
    ("endpoint-missing", "    pay: {service: exponential(mean=50ms)}\n", "", 27, "platform.endpoints", "no service demand for 'pay'"),
    ("no-catalog", "catalog:\n  skus:\n    - {id: S1, stock: 10, price: 5}\n", "", 1, "catalog", "no catalog"),
    ("duplicate-key", "  instances: 2\n", "  instances: 2\n  instances: 3\n", 27, "platform.instances", "appears twice"),
    ("phase-reversed", 'early: ["00:00", "01:00"]', 'early: ["01:00", "00:30"]', 5, "traffic.phases.early.1", "not after its start"),
    ("bool-type", "enabled: true", "enabled: maybe", 33, "platform.autoscaling.enabled", "true or false"),
    ("datetime-bad", "clock: {duration: 2h}", "clock: {start: yesterday, duration: 2h}", 2, "clock.start", "ISO date-time"),
    ("list-not-mapping", "  skus:\n    - {id: S1, stock: 10, price: 5}", "  skus: S1", 14, "catalog.skus", "a list"),
    ("section-not-mapping", "sizing:\n  servers: {min: 1, max: 10}", "sizing: 5", 34, "sizing", "mapping"),
]


def _run(runner, tmp_path: Path, text: str | bytes):
    path = tmp_path / "case.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    return path, result


def test_base_is_valid(runner, tmp_path):
    _, result = _run(runner, tmp_path, BASE)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("old", "new", "line", "path", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed(runner, tmp_path, old, new, line, path, words):
    assert old in BASE, f"test case does not apply: {old!r}"
    file, result = _run(runner, tmp_path, BASE.replace(old, new, 1))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    prefix = f"{file}:{line}: {path}: "
    matching = [x for x in lines if x.startswith(prefix)]
    assert matching, f"expected a line starting {prefix!r}, got:\n{result.output}"
    assert any(words in x for x in matching), result.output


@pytest.mark.parametrize(("content", "line", "words"), [
    (b"", 1, "empty"),
    (b"\x00\x01\x02binary\xff\xfe", 1, "not UTF-8"),
    (b"name: t\n\x00\x00", 2, "binary data"),
    (b"name: [unclosed\n", 2, "broken YAML"),
    (b"name: t\n  bad: indent\n", 2, "broken YAML"),
    (b"- a list\n- not a mapping\n", 1, "not a mapping"),
    (b"just text\n", 1, "not a mapping"),
], ids=["empty", "garbage", "nul", "unclosed", "indent", "list", "scalar"])
def test_unreadable_files(runner, tmp_path, content, line, words):
    file, result = _run(runner, tmp_path, content)
    assert result.exit_code == 2
    assert result.output.startswith(f"{file}:{line}: (file): ")
    assert words in result.output


def test_all_errors_reported_at_once(runner, tmp_path):
    text = BASE.replace("instances: 2", "instances: two").replace("backoff: 1s", "backoff: 1")
    text = text.replace("think_time:", "thinktime:")
    _, result = _run(runner, tmp_path, text)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 3, result.output


def test_missing_file(runner, tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml:1: (file): cannot read it" in result.output


def test_override_errors_name_the_override(runner, tmp_path):
    file = tmp_path / "case.yaml"
    file.write_text(BASE)
    result = runner.invoke(app, ["--set", "platform.instances=many", "validate", str(file)])
    assert result.exit_code == 2
    assert f"{file}:--set: platform.instances: got 'many' (a whole number, or clock times" in result.output
    result = runner.invoke(app, ["validate", str(file), "--set", "novalue"])
    assert result.exit_code == 2
    assert "not path=value" in result.output
    result = runner.invoke(app, ["validate", str(file), "--set", "catalog.skus.7.stock=1"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
