"""SM-I-PROJECT / SM-I-NODE / SM-I-QUEUE as tables, and the engine's texts byte for byte
(I-35, I-36, I-50, I-43 … I-45, I-33, SM-I-PROJECT's closed rule)."""

from __future__ import annotations

import pytest

from domain.delivery import machines as m


@pytest.mark.req("I-50")
def test_flow_log_texts() -> None:
    assert (m.entered("方案确认"), m.completed("方案确认"), m.rejected("方案确认")) == (
        "进入方案确认", "方案确认已完成", "方案确认 未通过")
    assert (m.PROJECT_STARTED, m.CHANGE_OPERATOR) == ("项目开始", "更换操作人")
    assert m.provider_changed("北京服务商", "河北服务商") == "服务商由北京服务商更换为河北服务商"
    assert m.SYSTEM.name == "系统" and m.SYSTEM.user_id is None and m.PLATFORM_NAME == "小二"


@pytest.mark.req("I-35")
@pytest.mark.req("I-36")
@pytest.mark.req("AMB-36")
def test_queue_reasons() -> None:
    assert (m.PROVIDERS_FULL, m.NO_PROVIDER, m.NO_STAFF) == (
        "所有服务商员工持单量已满", "产品未配置服务商", "没有找到可接单的服务商员工")


@pytest.mark.req("SM-I-PROJECT")
def test_project_table() -> None:
    assert m.project_step("in_progress", "pause").to == "paused"
    assert m.project_step("paused", "resume").to == "in_progress"
    assert m.project_step("paused", "change_provider").to == "in_progress"  # restarted
    assert "provider_admin" in m.project_step("in_progress", "pause").who
    assert "vendor_admin" in m.project_step("paused", "cancel").who
    for closed in ("completed", "cancelled"):
        for event in ("pause", "change_provider", "change_operator", "cancel"):
            with pytest.raises(m.ProjectClosed) as caught:
                m.project_step(closed, event)
            assert caught.value.message_zh == "项目已完结"
    with pytest.raises(m.NotPaused):
        m.project_step("in_progress", "resume")
    with pytest.raises(m.ProjectPaused):
        m.project_step("paused", "pause")


@pytest.mark.req("SM-I-NODE")
@pytest.mark.req("SM-I-QUEUE")
def test_node_and_queue_tables() -> None:
    assert m.NODE[("active", "no_candidate")].to == "queued"
    assert m.NODE[("queued", "assigned")].to == "done"
    assert m.NODE[("active", "reject")].to == "rejected"
    assert m.NODE[("active", "timed_out")].to == "active"  # flagged, still running
    assert m.QUEUE[("queued", "none_found")].to == "queued"
    assert m.QUEUE[("queued", "cancelled")].to == m.GONE
    assert m.QUEUE_ASSIGNERS["staff"] >= {"provider_admin"}
    assert "vendor_admin" in m.QUEUE_ASSIGNERS["provider"]


@pytest.mark.req("I-43")
@pytest.mark.req("I-44")
@pytest.mark.req("I-45")
@pytest.mark.req("I-16")
@pytest.mark.req("I-33")
def test_refusal_messages() -> None:
    expected = {
        m.RemarkRequired: ("remark_required", "请填写备注"),
        m.ProviderLoadFull: ("provider_load_full", "所选服务商持单量已满"),
        m.RoleMismatch: ("role_mismatch", "只能在同一角色下更换操作人"),
        m.OperatorLoadFull: ("operator_load_full", "所选员工持单量已满"),
        m.RequirementFormMissing: ("requirement_form_missing", "请先填写需求表单"),
        m.NotClaimable: ("order_not_claimable", "订单不存在或不在待认领状态"),
        m.ClaimRoleMismatch: ("claim_role_mismatch", "您的角色不能认领该订单"),
        m.ProjectClosed: ("project_closed", "项目已完结"),
    }
    for refusal, (code, zh) in expected.items():
        assert (refusal.code, refusal.message_zh) == (code, zh)
    assert m.RoleMismatch.message_en == "The operator can only be changed within the same role"
    assert m.OperatorLoadFull.message_en == "The selected staff member's load is full"
    assert m.NotClaimable.message_en == "The order does not exist or is not awaiting claim"
    assert m.ClaimRoleMismatch.message_en == "Your role cannot claim this order"
