"""Look-alike synergies: automations over the kinds of device pair other households switch by hand.

Some households automate a pair of one room's devices that others only switch together by hand (a lamp
that follows the ceiling light, a lamp that goes on when the blinds open, music when the lamp goes on):
`behaviors.py` picks the pair from the same ranking as the co-use decoys (`decoys.ranked_pairs`) and plans
the automation as a `synergy` behaviour. Its trigger device is switched by hand (`ManualUse`: sessions
at random awake times, like a co-use's), and the automation follows on only some of them (probability
< 1, and in some homes only after dark: an HA condition), seconds later, or in some homes minutes later,
just past the five minutes the synergy stage counts co-activations in. Sometimes the occupant switches the
action device by hand first (an override: the automation finds it on and records nothing), so the pair
also co-activates in the other order, as a co-use does; and a rarely switched trigger (`sessions_per_day`)
leaves few co-activations in a short window. So a pair's device kinds, room, lag, order and counts alone
no longer tell a decoy from a synergy.

The manual uses are emitted after every other event and the habit synergies right after them
(`EventGenerator.run`), so they fire on every activation of their trigger, manual noise included: on
each change to the trigger state (`EventBuffer.changes_to`), since switching on a light that is already
on is no event (HA records changes only) and triggers no automation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.calendar import US_PER_S, DayGrid
from homesim.generation.decoys import TOGGLES, switch_by_hand
from homesim.generation.event_table import EventBuffer

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]


class ManualUse(BaseModel):
    """An occupant switching `entity_id` on by hand `per_day` times, the trigger of `behavior_id`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    entity_id: str
    behavior_id: str
    #: Sessions per day, at random times while someone is awake at home (as a co-use's).
    per_day: float = Field(gt=0)
    #: Lognormal minutes the device stays on (median; log-sigma 0.5).
    hold_median_min: float = Field(gt=0)
    #: The automation's action device, which the occupant switches on by hand first in a share `override`
    #: of the sessions (2–12 s before the trigger, like a co-use's swapped order): the automation then
    #: finds it on already and records nothing.
    action_entity: str
    override: float = Field(ge=0, le=1)


def emit_manual_uses(
    uses: Sequence[ManualUse],
    domain_of: Callable[[str], str],
    buffer: EventBuffer,
    grid: DayGrid,
    awake: Callable[[I64], BoolArr],
    rng: np.random.Generator,
) -> None:
    """Each use's sessions (cause `noise`, the use's id as cause id): on at a random awake time, off after
    a lognormal hold; in a share `override` of them the action device is switched on by hand first."""
    for use in uses:
        t = grid.random_times(use.per_day * grid.days, rng, awake)
        switch_by_hand(
            buffer, use.entity_id, TOGGLES[domain_of(use.entity_id)], t, use.hold_median_min, use.id, rng
        )
        first = t[rng.random(len(t)) < use.override]
        lead = (rng.uniform(2, 12, len(first)) * US_PER_S).astype(np.int64)
        switch_by_hand(
            buffer,
            use.action_entity,
            TOGGLES[domain_of(use.action_entity)],
            first - lead,
            use.hold_median_min,
            use.id,
            rng,
        )
