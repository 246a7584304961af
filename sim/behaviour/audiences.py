"""Flash-sale audiences: who comes for a deal, when, and which of them are bots.

A sale's audience arrives at the sale's start plus a draw from ``arrival_spread``; in arrival
order, each buyer is a bot with probability ``bot_share``, and consecutive bots share an
identity ``bot_sessions_per_identity`` at a time (to test the per-user limit). Each buyer also
gets the uniforms of their channel preference order (see :mod:`.retries`). Everything is drawn
up front from one generator per run, sale after sale, so the model and the drill see the same
audience from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario.schema import FlashSale, Scenario
from .retries import channel_shares, preference_order


@dataclass(frozen=True)
class Audience:
    """One sale's buyers, in arrival order."""

    sale: int
    """Index of the sale in ``promotions.flash_sales``."""
    times: np.ndarray
    """Arrival times, simulated seconds after the scenario's start, ascending."""
    bots: np.ndarray
    """Whether each buyer is a bot."""
    identities: np.ndarray
    """A bot's identity (bots with one number are one shopper to the per-user limit)."""
    channel_draws: np.ndarray
    """One row of uniforms per buyer, for their channel preference order."""
    shares: tuple[float, ...]

    def channels(self, buyer: int) -> tuple[int, ...]:
        """Buyer's payment channels, most preferred first."""
        if not self.shares:
            return ()
        return preference_order(self.shares, self.channel_draws[buyer].tolist())


def audiences(scenario: Scenario, rng: np.random.Generator) -> list[Audience]:
    """Every sale's audience (at the scenario's own scale: the drill plans a scaled copy)."""
    if scenario.promotions is None:
        return []
    shares = tuple(channel_shares(scenario))
    return [audience(scenario, index, sale, rng, shares)
            for index, sale in enumerate(scenario.promotions.flash_sales)]


def audience(scenario: Scenario, index: int, sale: FlashSale, rng: np.random.Generator,
             shares: tuple[float, ...]) -> Audience:
    opens = scenario.clock.window(sale.start, sale.end)[0]
    size = sale.audience
    times = np.sort(opens + sale.arrival_spread.sample(rng, size)) if size else np.zeros(0)
    bots = rng.random(size) < sale.bot_share
    identities = (np.cumsum(bots) - 1) // sale.bot_sessions_per_identity
    draws = rng.random((size, len(shares)))
    return Audience(index, times, bots, identities, draws, shares)


def bot_name(sale: int, identity: int) -> str:
    """A bot identity as the drill sends it (``X-Shopper-Id``)."""
    return f"bot{sale}-{identity}"
