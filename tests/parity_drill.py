"""The drill's side of the retry parity test, in its own process (Locust patches the standard
library with gevent on import, which the test process must not get).

``python -m tests.parity_drill SEED OVERRIDES_JSON`` prints, as JSON, the retry policy of each
kind of visit and, for every paying visit in plan order, the channels of the payments the
drill's ``Journey`` makes when the provider declines every one.
"""

from __future__ import annotations

import json
import sys

from loadtests.schedule import build_plan
from loadtests.users import DrillState, Journey  # first: Locust patches before the rest loads
from sim.scenario import load_scenario

from .conftest import SCENARIOS


class DeclinedJourney(Journey):
    """The drill's journey with a payment provider that declines everything."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.tried: list[str] = []

    def _attempts(self, step: str, key: str | None = None) -> tuple[str, dict]:
        body, _ = self._content(step, key)
        assert body is not None
        self.tried.append(str(body["channel"]))
        return "declined", {}

    def _sleep_until(self, moment: float) -> None:
        self.intended = moment

    def _ticket(self, topic: str, probability: float) -> None:
        pass


def main(seed: int, overrides: list[str]) -> dict:
    scenario = load_scenario(SCENARIOS / "flash-sale.yaml", overrides)
    plan = build_plan(scenario, seed)
    state = DrillState(scenario, plan)
    tried = []
    for visit in plan.visits:
        if visit.sale is None and "pay" in visit.steps:
            journey = DeclinedJourney(None, state, visit, 0.0)
            assert journey._pay() is False
            tried.append(journey.tried)
    kinds = {"bot": next(v for v in plan.visits if v.bot),
             "buyer": next(v for v in plan.visits if v.sale is not None and not v.bot),
             "regular": next(v for v in plan.visits if v.sale is None)}
    retries = {kind: [Journey(None, state, visit, 0.0).retry.max_attempts,  # type: ignore[arg-type]
                      Journey(None, state, visit, 0.0).retry.backoff]  # type: ignore[arg-type]
               for kind, visit in kinds.items()}
    return {"tried": tried, "retries": retries}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), json.loads(sys.argv[2]))))
