"""Charging-profile payloads of both versions ⇄ the station's :class:`ChargingProfile`.

OCPP 1.6 §5.16 SetChargingProfile, §5.7 GetCompositeSchedule, §7.8 ChargingProfile; OCPP 2.0.1
Part 2, K01 SetChargingProfile, K08 GetCompositeSchedule (ChargingProfileType). Pure functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from ocpplab_sim.station import ChargingProfile, SchedulePeriod

__all__ = ["composite_payload", "parse_profile", "parse_time"]

Payload = dict[str, Any]

_PURPOSE = {"ChargingStationMaxProfile": "ChargePointMaxProfile"}


def parse_time(text: str) -> float:
    """An OCPP ``date-time`` string as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _opt_time(payload: Payload, key: str) -> float | None:
    value = payload.get(key)
    return None if value is None else parse_time(str(value))


def parse_profile(
    raw: Payload, evse: int, *, version: str, transaction_id: str | None = None
) -> ChargingProfile:
    """A 1.6 ``csChargingProfiles`` or a 2.0.1 ``chargingProfile`` object. Raises ValueError
    for what the model cannot represent (e.g. ChargingStationExternalConstraints)."""
    schedule = raw["chargingSchedule"]
    if version == "2.0.1":
        schedule = schedule[0]
    purpose = _PURPOSE.get(raw["chargingProfilePurpose"], raw["chargingProfilePurpose"])
    if purpose not in ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"):
        raise ValueError(f"unsupported purpose {purpose}")
    unit = schedule["chargingRateUnit"]
    periods = tuple(
        SchedulePeriod(float(p["startPeriod"]), float(p["limit"]), p.get("numberPhases"))
        for p in sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    )
    duration = schedule.get("duration")
    return ChargingProfile(
        id=int(raw["chargingProfileId"] if version == "1.6" else raw["id"]),
        evse=evse,
        stack_level=int(raw["stackLevel"]),
        purpose=cast(Any, purpose),
        kind=raw["chargingProfileKind"],
        unit="A" if unit == "A" else "W",
        periods=periods,
        schedule_start=_opt_time(schedule, "startSchedule"),
        duration_s=None if duration is None else float(duration),
        recurrency=raw.get("recurrencyKind"),
        valid_from=_opt_time(raw, "validFrom"),
        valid_to=_opt_time(raw, "validTo"),
        transaction_id=transaction_id,
        min_rate=schedule.get("minChargingRate"),
    )


def composite_payload(
    periods: list[tuple[float, float]],
    *,
    unit: str,
    watts_per_amp: float,
    duration_s: int,
) -> Payload:
    """A ChargingSchedule (1.6) / CompositeScheduleType periods body in ``unit`` (A or W)."""
    out = []
    for offset, limit_w in periods:
        limit = limit_w / watts_per_amp if unit == "A" else limit_w
        out.append({"startPeriod": int(offset), "limit": round(limit, 1)})
    return {"duration": duration_s, "chargingRateUnit": unit, "chargingSchedulePeriod": out}
