"""The pure rules of service-flow templates and product providers (specs/business.md I-12,
I-22, I-27): keys for new nodes, the built-in start node, timeouts and provider boxes."""

from __future__ import annotations

import pytest

from domain.delivery.products import provider_problems, provider_status
from domain.delivery.templates import timeout_problem, with_start


@pytest.mark.req("I-12")
def test_new_nodes_get_free_keys_and_the_start_node_comes_first() -> None:
    made = with_start([{"kind": "assign_provider", "name": "x"},
                       {"key": "n2", "kind": "container", "children": [{"kind": "confirm"}]},
                       {"kind": "complete"}])
    assert [n["key"] for n in made] == ["assign_provider", "n2", "n3"]
    assert made[1]["children"][0]["key"] == "n1"
    assert made[0] == {"key": "assign_provider", "kind": "assign_provider",
                       "name": "分配服务商"}


@pytest.mark.req("I-22")
@pytest.mark.parametrize(("value", "problem"), [
    (None, None), ("", None), (0, None), ("0.1", None), (365, None), ("365.0", None),
    (2.5, None), ("1.50", None), ("365.1", "timeout"), (-1, "timeout"), ("x", "timeout"),
    (True, "timeout"), ("NaN", "timeout"), ("0.05", "timeout_decimals"),
    (1.25, "timeout_decimals")])
def test_timeouts(value: object, problem: str | None) -> None:
    assert timeout_problem(value) == problem


@pytest.mark.req("I-27")
def test_provider_boxes() -> None:
    rows, problems = provider_problems(
        [{"provider_id": "a"}, {"provider_id": "b", "weight": "100", "max_load": 0},
         {"provider_id": "c", "weight": 1, "max_load": "2000.0"}], {"a", "b", "c"})
    assert [(r.provider_id, r.weight, r.max_load) for r in rows] == [
        ("a", 10, 1000), ("b", 100, 0), ("c", 1, 2000)]
    assert problems == []
    _, problems = provider_problems([{"provider_id": "a", "weight": "1e5",
                                      "max_load": "NaN"}], {"a"})
    assert [(p.field, p.code) for p in problems] == [("weight", "provider_range"),
                                                    ("max_load", "provider_range")]
    assert provider_status(0) == "未配置" and provider_status(2) == "已配置"
