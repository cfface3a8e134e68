"""The state history: which events become `states` rows (HA records changes only), each row's
`old_state_id` chain and timestamps, and the deduplicated `state_attributes`."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homesim.ha.recorder.columns import Columns, fnv1a_32
from homesim.ha.recorder.tables import ORIGIN_LOCAL, FloatArray, IntArray
from homesim.schema.home import Entity, Home


@dataclass(frozen=True)
class History:
    """Which events become `states` rows, and each row's chain and timestamps (all in event order)."""

    #: Indices of the events that become rows; row k gets state_id k + 1.
    kept: IntArray
    old_state_id: IntArray  # 0 = none
    last_changed: FloatArray  # NaN = equal to last_updated, stored as NULL
    last_reported: FloatArray  # NaN = equal to last_updated, stored as NULL

    @classmethod
    def build(cls, c: Columns) -> History:
        n = c.rows
        order = np.argsort(c.entity, kind="stable")  # grouped by entity, in time order within each
        entity, state, attrs = c.entity[order], c.state[order], c.attrs[order]
        first = np.ones(n, dtype=bool)
        first[1:] = entity[1:] != entity[:-1]
        same_state = np.zeros(n, dtype=bool)
        same_state[1:] = state[1:] == state[:-1]
        same_attrs = np.zeros(n, dtype=bool)
        same_attrs[1:] = attrs[1:] == attrs[:-1]
        # HA writes no row when neither state nor attributes change; it only moves last_reported.
        report = ~first & same_state & same_attrs
        keep = ~report
        kept_sorted = order[keep]  # kept events, grouped by entity
        keep_event = np.zeros(n, dtype=bool)
        keep_event[kept_sorted] = True
        state_id = np.cumsum(keep_event)  # state_id of each kept event (rows are numbered in time order)

        kept_first = first[keep]
        prev_id = np.zeros(len(kept_sorted), dtype=np.int64)
        prev_id[1:] = state_id[kept_sorted[:-1]]
        old = np.where(kept_first, 0, prev_id)

        kept_state = state[keep]
        changed = kept_first.copy()
        changed[1:] |= kept_state[1:] != kept_state[:-1]
        position = np.arange(len(kept_sorted))
        since = np.maximum.accumulate(np.where(changed, position, 0))
        last_changed = np.where(changed, np.nan, c.time_s[kept_sorted[since]])

        # The last report of each run of reports sets last_reported on the row the run follows.
        folded_into = np.cumsum(keep) - 1
        run_end = report.copy()
        run_end[:-1] &= ~report[1:]
        last_reported = np.full(len(kept_sorted), np.nan)
        last_reported[folded_into[run_end]] = c.time_s[order[run_end]]

        # HA stores both as NULL when they equal last_updated, which same-instant events can make them.
        updated = c.time_s[kept_sorted]
        last_changed[last_changed == updated] = np.nan
        last_reported[last_reported == updated] = np.nan
        in_time_order = np.argsort(kept_sorted)
        return cls(
            kept=kept_sorted[in_time_order],
            old_state_id=old[in_time_order],
            last_changed=last_changed[in_time_order],
            last_reported=last_reported[in_time_order],
        )


def insert_states(con: sqlite3.Connection, c: Columns, h: History, attribute_ids: IntArray) -> None:
    k = h.kept
    state_id = np.arange(1, len(k) + 1)
    # Binding a parameter costs as much as the value it carries, NULL included, so the mostly-NULL
    # columns are left out of the insert and filled afterwards where they have a value.
    con.executemany(
        "INSERT INTO states (state_id, state, last_updated_ts, old_state_id, attributes_id, origin_idx, "
        f"context_id_bin, metadata_id) VALUES (?, ?, ?, ?, ?, {ORIGIN_LOCAL}, ?, ?)",
        zip(
            state_id.tolist(),
            c.state_values[c.state[k]].tolist(),
            c.time_s[k].tolist(),
            _nullable_ids(h.old_state_id),
            attribute_ids.tolist(),
            blobs(c.context[k]),
            (c.entity[k] + 1).tolist(),
            strict=True,
        ),
    )
    changed, reported, parent = ~np.isnan(h.last_changed), ~np.isnan(h.last_reported), c.has_parent[k]
    for column, present, values in (
        ("last_changed_ts", changed, h.last_changed[changed].tolist()),
        ("last_reported_ts", reported, h.last_reported[reported].tolist()),
        ("context_parent_id_bin", parent, blobs(c.parent[k[parent]])),
    ):
        con.executemany(
            f"UPDATE states SET {column} = ? WHERE state_id = ?",
            zip(values, state_id[present].tolist(), strict=True),
        )


def blobs(rows: npt.NDArray[np.uint8]) -> list[bytes]:
    return list(np.ascontiguousarray(rows).view("V16").ravel().tolist())


def _nullable_ids(values: IntArray) -> list[int | None]:
    out = values.astype(object)
    out[values == 0] = None
    return list(out.tolist())


# ------------------------------------------------------------------------------------------- attributes


def state_attributes(home: Home, c: Columns, kept: IntArray) -> tuple[IntArray, list[tuple[int, int, str]]]:
    """Each row's attributes_id, and the deduplicated `state_attributes` rows in order of first use."""
    if len(kept) == 0:
        return np.zeros(0, dtype=np.int64), []
    # One JSON document per (entity, attributes) pair: few distinct pairs, however many events.
    key = c.entity[kept] * (len(c.attr_values) + 1) + (c.attrs[kept] + 1)
    pairs, first_row, inverse = np.unique(key, return_index=True, return_inverse=True)
    entities = {e.entity_id: e for e in home.entities}
    names = _friendly_names(home)
    ids_by_text: dict[str, int] = {}
    pair_ids = np.zeros(len(pairs), dtype=np.int64)
    for p in np.argsort(first_row):
        row = kept[first_row[p]]
        entity = entities[c.entity_names[c.entity[row]]]
        extra = c.attr_values[c.attrs[row]] if c.attrs[row] >= 0 else None
        text = _attributes_json(entity, names[entity.entity_id], extra)
        pair_ids[p] = ids_by_text.setdefault(text, len(ids_by_text) + 1)
    rows = [(i, fnv1a_32(text.encode()), text) for text, i in ids_by_text.items()]
    return pair_ids[inverse.ravel()], rows


def _friendly_names(home: Home) -> dict[str, str | None]:
    """HA's friendly_name: under has_entity_name the device's name, then the entity's; else the entity's own.

    An entity without a name of its own gets none (HA then shows its entity_id).
    """
    devices = {d.id: d.name for d in home.devices}
    names: dict[str, str | None] = {}
    for e in home.entities:
        device = devices.get(e.device_id or "")
        if e.has_entity_name and device is not None:
            names[e.entity_id] = f"{device} {e.original_name}" if e.original_name else device
        else:
            names[e.entity_id] = e.original_name
    return names


def _attributes_json(entity: Entity, friendly_name: str | None, extra: str | None) -> str:
    """The attributes as HA's recorder stores them: key order of `Entity._async_calculate_state`, compact."""
    attrs: dict[str, Any] = {}
    if entity.domain == "sensor" and entity.state_class is not None:
        attrs["state_class"] = entity.state_class  # a capability attribute, so it comes first
    if extra is not None:
        parsed = json.loads(extra)
        if not isinstance(parsed, dict):
            raise ValueError(f"{entity.entity_id}: attributes must be a JSON object, not {extra[:40]!r}")
        attrs.update(parsed)
    if entity.unit_of_measurement is not None:
        attrs["unit_of_measurement"] = entity.unit_of_measurement
    if entity.device_class is not None:
        attrs["device_class"] = entity.device_class
    if friendly_name is not None:
        attrs["friendly_name"] = friendly_name
    # orjson's output, which HA hashes: no spaces, UTF-8 kept as is.
    return json.dumps(attrs, separators=(",", ":"), ensure_ascii=False)
