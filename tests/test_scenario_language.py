"""The scenario language: units, distributions, shipped scenarios, schema, robustness."""

from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peakday.cli import app
from sim.scenario import Kind, ScenarioError, load_scenario
from sim.scenario import distributions as dists
from sim.scenario.loader import read_source
from sim.scenario.units import UnitError, parse_clock, parse_duration, parse_fraction

from .conftest import SHIPPED


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("90s", 90), ("15m", 900), ("24h", 86400), ("2d", 172800),
    ("1.5 s", 1.5), ("0", 0), (0, 0), ("500us", 0.0005), ("3min", 180),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", 5, "5 parsecs", "s", True, None, "1e"])
def test_bad_durations(text):
    with pytest.raises(UnitError):
        parse_duration(text)


def test_clock_times():
    assert parse_clock("00:00") == 0
    assert parse_clock("20:00") == 72000
    assert parse_clock("24:00") == 86400
    assert parse_clock("07:30:15") == 7 * 3600 + 30 * 60 + 15
    for bad in ("24:01", "12:60", "noon", 1200, "-1:00"):
        with pytest.raises(UnitError):
            parse_clock(bad)


def test_fractions():
    assert parse_fraction("0.5%") == pytest.approx(0.005)
    assert parse_fraction(0.25) == 0.25
    assert parse_fraction("1") == 1.0
    for bad in ("150%", -0.1, "half", True):
        with pytest.raises(UnitError):
            parse_fraction(bad)


def test_unquoted_clock_times_are_read_as_clock_times(tmp_path):
    """YAML 1.1 would read 20:00 as 1200; the loader keeps it as a time of day."""
    text = (SHIPPED[0].read_text().replace('from: "20:00", to: "20:12"', "from: 20:00, to: 20:12"))
    path = tmp_path / "d.yaml"
    path.write_text(text)
    assert load_scenario(path).payments.outages[0].from_ == 72000


RNG_N = 200_000


@pytest.mark.parametrize(("spec", "kind", "mean", "check"), [
    ("exponential(mean=8s)", Kind.TIME, 8.0, None),
    ("lognormal(mean=110ms, cv=0.6)", Kind.TIME, 0.110, ("cv", 0.6)),
    ("lognormal(median=350ms, p99=2s)", Kind.TIME, None, ("quantiles", 0.35, 2.0)),
    ("geometric(mean=3)", Kind.COUNT, 3.0, ("integers",)),
    ("constant(2s)", Kind.TIME, 2.0, None),
    ("uniform(1s, 3s)", Kind.TIME, 2.0, None),
    ("lognormal(mean=180, cv=1.0)", Kind.MONEY, 180.0, ("cv", 1.0)),
])
def test_distributions_sample_what_they_say(spec, kind, mean, check):
    dist = dists.parse(spec, kind)
    draws = dist.sample(np.random.default_rng(7), RNG_N)
    assert draws.min() >= 0
    if mean is not None:
        assert dist.mean == pytest.approx(mean)
        sd = draws.std() / math.sqrt(RNG_N)
        assert abs(draws.mean() - mean) < 4 * sd + 1e-12
    if check and check[0] == "cv":
        assert draws.std() / draws.mean() == pytest.approx(check[1], rel=0.05)
    if check and check[0] == "quantiles":
        assert np.quantile(draws, 0.5) == pytest.approx(check[1], rel=0.02)
        assert np.quantile(draws, 0.99) == pytest.approx(check[2], rel=0.05)
    if check and check[0] == "integers":
        assert np.all(draws == np.round(draws)) and draws.min() == 0
    assert str(dists.parse(str(dist), kind)) == str(dist)


def test_empirical_resamples_a_csv(tmp_path):
    (tmp_path / "times.csv").write_text("service_time\n100ms\n200ms\n300ms\n")
    dist = dists.parse("empirical(times.csv)", Kind.TIME, tmp_path)
    assert dist.mean == pytest.approx(0.2)
    assert set(np.round(dist.sample(np.random.default_rng(1), 100), 3)) == {0.1, 0.2, 0.3}


def test_same_seed_same_draws():
    dist = dists.parse("lognormal(mean=1s, cv=1)", Kind.TIME)
    a = dist.sample(np.random.default_rng(3), 10)
    b = dist.sample(np.random.default_rng(3), 10)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_validate(runner, path):
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_reference_scenario_says_what_the_design_asks():
    s = load_scenario(SHIPPED[0])
    assert s.name == "double11-midsize" and s.clock.duration == 86400
    assert s.traffic.sessions_per_min[0.0] == 9000 and len(s.traffic.phases) == 5
    assert s.promotions.flash_sales[0].sku.id == "H1"
    assert s.payments.channels["alipay"].latency.mean == pytest.approx(
        0.35 * math.exp((math.log(2 / 0.35) / dists.Z99) ** 2 / 2))
    assert s.payments.outages[0].failure_rate == 0.45
    assert s.platform.autoscaling.enabled and s.inventory.strategy == "row_lock"
    assert s.slo.error_rate == pytest.approx(0.005)
    assert s.drill.endpoints["pay"] == "POST /orders/{order_id}/pay"


def test_override_changes_the_value():
    s = load_scenario(SHIPPED[0], ["platform.instances=32", "inventory.strategy=sharded",
                                   "traffic.sessions_per_min.00:00=100"])
    assert s.platform.instances == 32 and s.inventory.strategy == "sharded"
    assert s.traffic.sessions_per_min[0.0] == 100


def test_schema_validates_the_shipped_scenarios(runner):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    validator = jsonschema.Draft202012Validator(schema)
    for path in SHIPPED:
        data = read_source(path).data
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, f"{path}: {errors[:3]}"
    broken = {"name": "x", "traffic": {"sessions_per_min": {"00:00": 1}},
              "customers": {"segments": {"a": {"share": 1}}}, "platform": {"instances": "x"}}
    assert list(validator.iter_errors(broken))


# --- robustness: mutate valid scenarios; every outcome is valid or a clean error -------------

def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    yield path


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["5s", "-1ms", "1e400s", "exponential(mean=-1s)",
                                           "lognormal(", "24:00", "99:99", "50%", "{}", "[]"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_never_crash(tmp_path_factory, data):
    source = data.draw(st.sampled_from(SHIPPED))
    doc = yaml.load(source.read_text(), Loader=yaml.BaseLoader)
    paths = list(_leaves(doc))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "delete", "rename"]))
        if not path:
            continue
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            if action == "replace":
                parent[path[-1]] = data.draw(JUNK)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[path[-1] + "x"] = parent.pop(path[-1])
        except (KeyError, IndexError, TypeError):
            continue
    file = tmp_path_factory.mktemp("mut") / "m.yaml"
    file.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_scenario(file)
    except ScenarioError as exc:
        assert exc.errors
        for line in exc.errors:
            assert line.startswith(f"{file}:"), line
