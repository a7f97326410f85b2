"""The pure rules of the delivery workflow's people (domain/delivery/people.py): login
suffixes, landlines, staff loads, business roles, and who may see or manage whose people."""

from __future__ import annotations

import pytest

from domain.delivery import people as rules


@pytest.mark.req("I-06")
def test_a_login_carries_its_tenant_suffix() -> None:
    assert rules.full_login("zhang", "t1") == "zhang@t1"
    assert rules.full_login("zhang@t1", "t1") == "zhang@t1"
    for wrong in ("zhang@t2", "@t1", "a b", "x" * 25, "zh@ng@t1"):
        with pytest.raises(rules.LoginInvalid):
            rules.full_login(wrong, "t1")
    with pytest.raises(rules.LoginInvalid):
        rules.full_login("x" * 24, "t" * 40)  # 65 characters: over every login's 64


@pytest.mark.req("I-06")
def test_a_landline_is_area_code_number_extension() -> None:
    for good in ("010-12345678", "0755-1234567-8", "021-87654321-12345"):
        assert rules.check_landline(good) == good
    assert rules.check_landline("") is None
    for bad in ("12345678", "010 12345678", "010-123-4", "10-12345678"):
        with pytest.raises(rules.LandlineInvalid):
            rules.check_landline(bad)


@pytest.mark.req("I-30")
@pytest.mark.parametrize("value", [0, 50, 7, "7", 7.0])
def test_a_staff_load_is_an_integer_0_to_50(value: object) -> None:
    assert rules.staff_load(value) == int(float(str(value)))


@pytest.mark.req("I-30")
@pytest.mark.parametrize("value", [-1, 51, 1.5, "1.5", "", "x", True, None])
def test_other_staff_loads_are_refused_with_the_spec_message(value: object) -> None:
    with pytest.raises(rules.LoadInvalid) as refused:
        rules.staff_load(value, "3.max_load")
    assert refused.value.message_zh == "持单量可设置范围为0-50"
    assert refused.value.field == "3.max_load"


@pytest.mark.req("I-05")
@pytest.mark.req("I-08")
def test_business_roles_are_presets_of_the_provider_side() -> None:
    presets = ("服务商管理员", "客户经理", "设计师", "工程师", "服务人员")
    assert rules.business_roles("provider_staff", ["设计师", "设计师", "客户经理"],
                                presets) == ["设计师", "客户经理"]
    assert rules.business_roles("vendor_pm", ["设计师"], presets) == ["项目经理"]
    assert rules.business_roles("vendor_admin", [], presets) == ["厂商管理员", "服务商管理员"]
    for wrong in ([], ["厨师"], ["服务商管理员"]):
        with pytest.raises(rules.BusinessRolesInvalid):
            rules.business_roles("provider_staff", wrong, presets)


@pytest.mark.req("X-03")
def test_who_sees_and_manages_whose_people() -> None:
    assert rules.people_scope("provider_admin", "t1", "t1", write=True) == "ok"
    assert rules.people_scope("provider_admin", "t1", "t2", write=False) == "hidden"
    assert rules.people_scope("provider_staff", "t1", "t1", write=True) == "forbidden"
    assert rules.people_scope("provider_staff", "t1", "t1", write=False) == "forbidden"
    assert rules.people_scope("vendor_pm", "t1", "t1", write=False) == "forbidden"
    assert rules.people_scope("platform_ops", None, "t1", write=False) == "ok"
    assert rules.people_scope("platform_ops", None, "t1", write=True) == "forbidden"
    assert rules.people_scope("enterprise_admin", None, "t1", write=False) == "forbidden"
    assert rules.load_scope("vendor_pm", "t1", "t1", write=False) == "forbidden"
    assert rules.load_scope("vendor_pm", "t1", "t2", write=False) == "hidden"
    assert rules.load_scope("vendor_admin", "t1", "t1", write=True) == "ok"
    assert rules.may_create("vendor_admin", "vendor_pm")
    assert not rules.may_create("vendor_admin", "provider_admin")
    assert rules.may_create("admin", "vendor_admin")
    assert not rules.may_toggle_own("vendor_pm")
