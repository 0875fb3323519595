"""The three-season tariff of ``support.three_season`` as plain rules, written out by hand:
the independent expectation the stored ``energy_cost`` points are compared with."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("America/Los_Angeles")


def period(local: datetime) -> tuple[str, str]:
    """(season, period) at a wall-clock time."""
    hour, weekday, month = local.hour, local.weekday(), local.month
    if 6 <= month <= 9:
        if weekday <= 4:
            if 16 <= hour < 21:
                return "Summer", "ON_PEAK"
            return "Summer", "PARTIAL_PEAK" if hour == 15 or hour >= 21 else "OFF_PEAK"
        return "Summer", "PARTIAL_PEAK" if 16 <= hour < 21 else "OFF_PEAK"
    season = "Autumn" if month in (10, 11) else "Winter"
    return season, "ON_PEAK" if 17 <= hour < 20 else "OFF_PEAK"


BUY = {("Summer", "ON_PEAK"): 0.55, ("Summer", "PARTIAL_PEAK"): 0.42,
       ("Summer", "OFF_PEAK"): 0.33, ("Autumn", "ON_PEAK"): 0.50, ("Autumn", "OFF_PEAK"): 0.31,
       ("Winter", "ON_PEAK"): 0.45, ("Winter", "OFF_PEAK"): 0.30}
SELL = {("Summer", "ON_PEAK"): 0.12, ("Summer", "PARTIAL_PEAK"): 0.08,
        ("Summer", "OFF_PEAK"): 0.04, ("Autumn", "ON_PEAK"): 0.06, ("Autumn", "OFF_PEAK"): 0.05,
        ("Winter", "ON_PEAK"): 0.10, ("Winter", "OFF_PEAK"): 0.03}


def prices(epoch: float) -> tuple[float, float]:
    key = period(datetime.fromtimestamp(epoch, UTC).astimezone(ZONE))
    return BUY[key], SELL[key]


def bucket(row: dict) -> dict[str, float]:
    """The expected energy_cost fields of one simulator energy row."""
    stamp = datetime.fromisoformat(row["timestamp"]).timestamp()
    buy, sell = prices(stamp)
    imported = row.get("grid_energy_imported", 0)
    exported = row.get("total_grid_energy_exported", 0)
    home = row.get("total_home_usage", 0)
    import_cost, credit = imported / 1000 * buy, exported / 1000 * sell
    return {"time": int(stamp), "buy_price": buy, "sell_price": sell,
            "import_cost": import_cost, "export_credit": credit,
            "net_cost": import_cost - credit, "baseline_cost": home / 1000 * buy,
            "savings": home / 1000 * buy - (import_cost - credit)}


def session_cost(start: int, seconds: int, energy_wh: float) -> float:
    """Minute by minute: the energy spread evenly, each second priced at its minute's price."""
    if seconds <= 0:
        return energy_wh / 1000 * prices(start)[0]
    total, cursor = 0.0, start
    while cursor < start + seconds:
        stop = min(start + seconds, (cursor // 60 + 1) * 60)
        total += energy_wh * (stop - cursor) / seconds / 1000 * prices(cursor)[0]
        cursor = stop
    return total
