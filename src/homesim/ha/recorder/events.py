"""The events an automation run fires (`automation_triggered`, `call_service`) as `events`, `event_types` and
`event_data` rows, with the service an automation calls to put an entity into a state."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from homesim.ha.recorder.columns import Columns, encode, fnv1a_32
from homesim.ha.recorder.states import blobs
from homesim.ha.recorder.tables import ORIGIN_LOCAL, IntArray
from homesim.schema.naming import slugify

# The service an automation calls to put an entity into a state: (service, extra service data key).
_SERVICES: dict[str, dict[str, tuple[str, str | None]]] = {
    **{
        domain: {"on": ("turn_on", None), "off": ("turn_off", None)}
        for domain in ("light", "switch", "fan", "humidifier", "input_boolean", "siren")
    },
    "cover": {"open": ("open_cover", None), "closed": ("close_cover", None)},
    "valve": {"open": ("open_valve", None), "closed": ("close_valve", None)},
    "lock": {"locked": ("lock", None), "unlocked": ("unlock", None), "open": ("open", None)},
    "media_player": {
        "on": ("turn_on", None),
        "off": ("turn_off", None),
        "playing": ("media_play", None),
        "paused": ("media_pause", None),
    },
    "vacuum": {
        "cleaning": ("start", None),
        "returning": ("return_to_base", None),
        "docked": ("return_to_base", None),
    },
    "alarm_control_panel": {
        "disarmed": ("alarm_disarm", None),
        "armed_home": ("alarm_arm_home", None),
        "armed_away": ("alarm_arm_away", None),
        "armed_night": ("alarm_arm_night", None),
        "armed_vacation": ("alarm_arm_vacation", None),
    },
}
# Domains whose every state is set through one service with the state as a data field.
_VALUE_SERVICES: dict[str, tuple[str, str]] = {
    "climate": ("set_hvac_mode", "hvac_mode"),
    "water_heater": ("set_operation_mode", "operation_mode"),
    "select": ("select_option", "option"),
    "number": ("set_value", "value"),
}


@dataclass(frozen=True)
class _EventRows:
    types: list[tuple[int, str]]
    data: list[tuple[int, int, str]]
    events: list[tuple[Any, ...]]

    @property
    def count(self) -> int:
        return len(self.events)

    def insert(self, con: sqlite3.Connection) -> None:
        con.executemany("INSERT INTO event_types VALUES (?, ?)", self.types)
        con.executemany("INSERT INTO event_data VALUES (?, ?, ?)", self.data)
        con.executemany(
            "INSERT INTO events (event_id, event_type_id, time_fired_ts, context_id_bin, "
            f"context_parent_id_bin, data_id, origin_idx) VALUES (?, ?, ?, ?, ?, ?, {ORIGIN_LOCAL})",
            self.events,
        )


_TRIGGERED, _CALL = "automation_triggered", "call_service"


def automation_events(c: Columns) -> _EventRows:
    """`automation_triggered` once per automation run (one context), then a `call_service` per action.

    Event data depends only on (automation, trigger entity) or (entity, state), so JSON is built once per
    distinct pair and the events themselves are assembled as arrays.
    """
    rows = c.automation
    if len(rows) == 0:
        return _EventRows([], [], [])
    taken = pa.array(rows)
    run_codes, _ = encode(c.context_ids.take(taken))
    run_start = np.zeros(len(rows), dtype=bool)
    run_start[np.unique(run_codes, return_index=True)[1]] = True
    # The trigger of a run is the entity whose change carries the run's parent context.
    trigger_row = pc.index_in(c.parent_ids.take(taken), value_set=c.context_ids).fill_null(-1).to_numpy()
    trigger = np.where(trigger_row >= 0, c.entity[np.maximum(trigger_row, 0)], -1)
    cause_codes, cause_names = encode(c.cause_ids.take(taken))

    texts: dict[str, int] = {}
    triggered = np.flatnonzero(run_start)
    triggered_text = _texts_by_key(
        cause_codes[triggered] * (len(c.entity_names) + 1) + trigger[triggered] + 1,
        lambda i: _run_data(
            cause_names[cause_codes[triggered[i]]] if cause_codes[triggered[i]] >= 0 else None,
            c.entity_names[trigger[triggered[i]]] if trigger[triggered[i]] >= 0 else None,
        ),
        texts,
    )
    call_text = _texts_by_key(
        c.entity[rows] * len(c.state_values) + c.state[rows],
        lambda i: _service_call(c.entity_names[c.entity[rows[i]]], str(c.state_values[c.state[rows[i]]])),
        texts,
    )
    calls = np.flatnonzero(call_text >= 0)

    position = np.concatenate((triggered, calls))
    kind = np.concatenate((np.zeros(len(triggered), np.int64), np.ones(len(calls), np.int64)))
    text_id = np.concatenate((triggered_text, call_text[calls]))
    order = np.lexsort((kind, position))  # each run's trigger event precedes its service calls
    position, kind, text_id = position[order], kind[order], text_id[order]
    event_rows = rows[position]
    # Ids in order of first use, as HA assigns them while recording.
    used, first_use, inverse = np.unique(text_id, return_index=True, return_inverse=True)
    rank = np.empty(len(used), dtype=np.int64)
    rank[np.argsort(first_use)] = np.arange(1, len(used) + 1)
    text_of = {i: text for text, i in texts.items()}
    type_names = [_TRIGGERED, _CALL] if len(calls) else [_TRIGGERED]
    parent = np.array(blobs(c.parent[event_rows]), dtype=object)
    parent[~c.has_parent[event_rows]] = None
    events = list(
        zip(
            range(1, len(order) + 1),
            (kind + 1).tolist(),
            c.time_s[event_rows].tolist(),
            blobs(c.context[event_rows]),
            parent.tolist(),
            rank[inverse.ravel()].tolist(),
            strict=True,
        )
    )
    data = [(int(rank[j]), fnv1a_32(text_of[int(u)].encode()), text_of[int(u)]) for j, u in enumerate(used)]
    return _EventRows(
        types=list(enumerate(type_names, start=1)),
        data=sorted(data),
        events=events,
    )


def _texts_by_key(
    keys: IntArray, make: Callable[[int], dict[str, Any] | None], texts: dict[str, int]
) -> IntArray:
    """The event-data text id of each row (-1 for none), calling `make` once per distinct key."""
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    ids = np.full(len(unique), -1, dtype=np.int64)
    for u, row in enumerate(first.tolist()):
        payload = make(row)
        if payload is not None:
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            ids[u] = texts.setdefault(text, len(texts))
    return ids[inverse.ravel()]


def _run_data(automation: str | None, trigger: str | None) -> dict[str, Any]:
    """`automation_triggered` data: the automation's name and entity, and what triggered it."""
    data: dict[str, Any] = {
        "name": automation or "homesim",
        "entity_id": f"automation.{slugify(automation or 'homesim')}",
    }
    if trigger is not None:
        data["source"] = f"state of {trigger}"
    return data


def _service_call(entity_id: str, state: str) -> dict[str, Any] | None:
    """The `call_service` event data of the action that set `entity_id` to `state`, if a service does."""
    domain = entity_id.partition(".")[0]
    service_data: dict[str, Any] = {}
    if domain in _VALUE_SERVICES:
        service, field = _VALUE_SERVICES[domain]
        service_data[field] = state
    elif state in _SERVICES.get(domain, {}):
        service = _SERVICES[domain][state][0]
    else:
        return None
    service_data["entity_id"] = [entity_id]
    return {"domain": domain, "service": service, "service_data": service_data}
