"""The model and the drill plan the same shoppers: parity through each side's own entry points.

A drill of the whole day at scale 1 must replay the sessions the model simulates. From one seed,
the model's wiring (``Shoppers``, ``schedule_flash_sales`` on ``spawn_streams``) and the drill's
(``build_plan``, ``Journey``) must agree on every journey, every channel preference order,
every retry and channel sequence, every flash-sale buyer, bot and bot identity. The platform
and the HTTP client are swapped for recorders (the transport, as httpx's tests swap it); the
rules under them are each side's real code.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import simpy

from loadtests.schedule import Plan, Visit, build_plan
from loadtests.target.service import seeds_of
from loadtests.target.store import SQLite, Store
from sim.behaviour.scaling import scaled
from sim.model.customers import PAY, Session, Shoppers
from sim.model.flash_sales import schedule_flash_sales
from sim.model.inventory import Inventory
from sim.model.streams import spawn_streams, uniforms
from sim.scenario import load_scenario
from sim.scenario.schema import ENDPOINTS, Scenario

from .conftest import ROOT, SCENARIOS

SEED = 20261111
SMALL = ['traffic.sessions_per_min={"19:00": 12, "20:00": 20}',
         "promotions.flash_sales.0.audience=1500",
         "promotions.flash_sales.0.bot_share=0.3",
         "promotions.flash_sales.0.bot_sessions_per_identity=3",
         "drill.window=null", "drill.scale=1", "drill.compress=1"]
"""The flash-sale scenario with a few thousand sessions, a drill of the whole day at scale 1."""


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(SCENARIOS / "flash-sale.yaml", SMALL)


@pytest.fixture(scope="module")
def plan(scenario: Scenario) -> Plan:
    return build_plan(scenario, SEED)


class _Platform:
    """Stands in for the model's servers: keeps what the shoppers send."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []

    def submit(self, request) -> None:
        self.sessions.append(request.owner)


def _model_shoppers(scenario: Scenario) -> tuple[simpy.Environment, Shoppers, _Platform]:
    """The model's shoppers, wired as ``simulate_day`` wires them."""
    env = simpy.Environment()
    streams = spawn_streams(np.random.SeedSequence(SEED))
    platform = _Platform()
    inventory = Inventory(env, scenario.inventory, uniforms(streams["inventory"]))
    assert scenario.catalog is not None
    for sku in scenario.catalog.skus:
        inventory.add(sku.id, sku.stock, scenario.catalog.per_user_limit)
    shoppers = Shoppers(env, scenario, platform, streams["journeys"],  # type: ignore[arg-type]
                        streams["shoppers"], inventory, None, None)
    schedule_flash_sales(env, scenario, inventory, shoppers, streams["flash_sales"],
                         scenario.clock.duration)
    return env, shoppers, platform


def _regular(plan: Plan) -> list[Visit]:
    return [v for v in plan.visits if v.sale is None]


def _channel_names(scenario: Scenario, channels: tuple[int, ...]) -> tuple[str, ...]:
    assert scenario.payments is not None
    names = list(scenario.payments.channels)
    return tuple(names[c] for c in channels)


def test_parity_journeys(scenario: Scenario, plan: Plan) -> None:
    regular = _regular(plan)
    assert len(regular) > 1000
    _, shoppers, platform = _model_shoppers(scenario)
    for _ in regular:
        shoppers.arrive()
    model = [(tuple(ENDPOINTS[s] for s in session.steps),
              session.sku.sku_id if session.sku is not None else None,
              _channel_names(scenario, session.channels)) for session in platform.sessions]
    drill = [(v.steps, v.sku, v.channels) for v in regular]
    assert model == drill
    # The plans are varied enough for the comparison to mean something.
    assert {len(steps) for steps, _, _ in drill} >= {1, 2, 5}
    assert len({sku for _, sku, _ in drill}) == 2
    assert len({channels for *_, channels in drill if channels}) >= 4


def test_parity_flash_sale_audiences_and_bot_identities(scenario: Scenario, plan: Plan) -> None:
    env, shoppers, _ = _model_shoppers(scenario)
    arrivals: list[tuple[float, bool, str | None, tuple[str, ...]]] = []

    def arrive_for_sale(sale: int, bot: bool, identity: int | None,
                        channels: tuple[int, ...]) -> None:
        # Model identities are negative numbers; the drill names them bot<sale>-<n>.
        name = f"bot{sale}-{-1 - identity}" if identity is not None else None
        arrivals.append((env.now, bot, name, _channel_names(scenario, channels)))

    shoppers.arrive_for_sale = arrive_for_sale  # type: ignore[method-assign]
    env.run()
    drill = [(plan.window[0] + v.start * plan.compress, v.bot, v.shopper if v.bot else None,
              v.channels) for v in plan.visits if v.sale is not None]
    assert len(drill) == 1500
    assert [a[1:] for a in arrivals] == [d[1:] for d in drill]
    assert np.allclose([a[0] for a in arrivals], [d[0] for d in drill], rtol=0, atol=1e-6)
    bots = [name for _, bot, name, _ in drill if bot]
    assert 300 < len(bots) < 600
    assert len(set(bots)) == -(-len(bots) // 3), "three sessions per bot identity"


def _model_channels_tried(scenario: Scenario, session: Session, shoppers: Shoppers) -> list[str]:
    """Channels of each payment the model's shopper makes when every one is declined."""
    assert scenario.payments is not None
    names = list(scenario.payments.channels)
    tried = [names[session.channels[session.channel]]]
    while True:
        attempt = session.pay_attempt
        shoppers._payment_failed(session)
        if session.pay_attempt == attempt:
            return tried
        tried.append(names[session.channels[session.channel]])


def _drill_side(overrides: list[str]) -> dict:
    """Run tests/parity_drill.py: the drill's Journey, in a process of its own."""
    run = subprocess.run([sys.executable, "-m", "tests.parity_drill", str(SEED),
                          json.dumps(overrides)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("switch_after", [1, 2])
def test_parity_payment_retries_and_channel_sequences(switch_after: int) -> None:
    overrides = [*SMALL, "payments.retry.max_attempts=5",
                 f"payments.retry.switch_channel_after={switch_after}"]
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml", overrides)
    _, shoppers, platform = _model_shoppers(scenario)
    for _ in _regular(build_plan(scenario, SEED)):
        shoppers.arrive()
    model = [_model_channels_tried(scenario, session, shoppers) for session in platform.sessions
             if session.steps[-1] == PAY]
    drill = _drill_side(overrides)
    assert model == drill["tried"]
    assert len(model) > 50 and all(len(tried) == 5 for tried in model)
    assert any(len(set(tried)) == 3 for tried in model)
    assert drill["retries"] == {
        "bot": [shoppers.bot_retry[0].max_attempts, shoppers.bot_retry[0].backoff],
        "buyer": [shoppers._retry.max_attempts, shoppers._retry.backoff],
        "regular": [shoppers._retry.max_attempts, shoppers._retry.backoff]}


def test_parity_stock_scaling_and_shard_split(tmp_path) -> None:
    """The drill's target holds the stock the model predicts the drill with, split over shards
    the same way."""
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml",
                             ["inventory.strategy=sharded", "inventory.shards=3",
                              "drill.scale=0.0133"])
    model = scaled(scenario)
    env = simpy.Environment()
    streams = spawn_streams(np.random.SeedSequence(SEED))
    inventory = Inventory(env, model.inventory, uniforms(streams["inventory"]))
    assert model.catalog is not None
    for sku in model.catalog.skus:
        inventory.add(sku.id, sku.stock, model.catalog.per_user_limit)
    shoppers = Shoppers(env, model, _Platform(), streams["journeys"],  # type: ignore[arg-type]
                        streams["shoppers"], inventory, None, None)
    schedule_flash_sales(env, model, inventory, shoppers, streams["flash_sales"],
                         model.clock.duration)

    store = Store(SQLite(tmp_path / "checkout.db"))
    store.seed(seeds_of(scenario, scenario.drill.scale), 3, 900.0)
    served = {}
    for sku, units in store._run(
            "SELECT sku, available FROM stock ORDER BY sku, shard").fetchall():
        served.setdefault(sku, []).append(units)
    assert served == {sku_id: stock.rows for sku_id, stock in inventory.skus.items()}
    assert served["H1"] == [9, 9, 9]  # 2,000 x 0.0133 = 26.6 -> 27 units
    assert sum(served["A100"]) == 532  # 40,000 x 0.0133
