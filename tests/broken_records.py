"""Device-health records the collector must refuse, shared by the golden test and the frame-path test so
both feed the collector the same bad windows and features."""

from __future__ import annotations

from homesim.schema.records import DeviceHealthRecord


def broken_health(health: DeviceHealthRecord, window_id: str, features_id: str) -> list[DeviceHealthRecord]:
    """Two copies of `health`: one whose window lies after its home's span, one with a negative count."""
    return [
        health.model_copy(
            update={
                "record_id": window_id,
                "inputs": health.inputs.model_copy(
                    update={"window_start": "2031-01-01", "window_end": "2031-01-02"}
                ),
            }
        ),
        health.model_copy(
            update={
                "record_id": features_id,
                "inputs": health.inputs.model_copy(
                    update={"features": health.inputs.features.model_copy(update={"events": -3})}
                ),
            }
        ),
    ]
