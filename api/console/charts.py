"""ECharts options built on the server (plain dicts, sent as JSON in a data attribute and drawn
by static/console.js), so pages carry no chart code of their own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Option = dict[str, Any]
PALETTE = ["#0550ae", "#b42318", "#1a7f37", "#9a6700", "#8250df", "#57606a"]


def pie(items: Sequence[tuple[str, int]], name: str) -> Option:
    """A ring of named counts."""
    return {"color": PALETTE, "tooltip": {"trigger": "item"},
            "legend": {"bottom": 0},
            "series": [{"type": "pie", "name": name, "radius": ["40%", "70%"],
                        "data": [{"name": label, "value": value} for label, value in items]}]}


def bars(categories: Sequence[str], values: Sequence[int | float], name: str,
         *, horizontal: bool = False) -> Option:
    category = {"type": "category", "data": list(categories)}
    value: Option = {"type": "value"}
    return {"color": PALETTE, "tooltip": {"trigger": "axis"}, "grid": {"containLabel": True},
            "xAxis": value if horizontal else category,
            "yAxis": category if horizontal else value,
            "series": [{"type": "bar", "name": name, "data": list(values)}]}


def lines(x: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
          unit: str = "", marks: Sequence[tuple[str, float]] = ()) -> Option:
    """Lines over a category axis (times as text), optional horizontal marks (a limit)."""
    out: list[Option] = [{"type": "line", "name": name, "data": list(values), "showSymbol": False}
                         for name, values in series]
    if marks and out:
        out[0]["markLine"] = {"symbol": "none", "data": [
            {"name": label, "yAxis": value, "label": {"formatter": label}}
            for label, value in marks]}
    return {"color": PALETTE, "tooltip": {"trigger": "axis"}, "legend": {"bottom": 0},
            "grid": {"containLabel": True, "bottom": 40},
            "xAxis": {"type": "category", "data": list(x)},
            "yAxis": {"type": "value", "name": unit}, "series": out}


def dashed(option: Option, index: int) -> Option:
    """The option with its `index`th series drawn dashed (a projection, not a measurement)."""
    option["series"][index]["lineStyle"] = {"type": "dashed"}
    return option
