"""The import task list through the API (X-05, X-06, G4-27, AMB-06): uploads checked as a
whole and row by row, valid rows handed to the kind's registered `apply` in chunks, the
failure file, re-uploads within 24 h, and who may do what (§7.2 H). The `apply` here is the
test's own: the commission engine registers the real ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.clock import CLOCK, now
from core.money import Fen
from core.settings import Settings
from domain.imports.kinds import KINDS, RealNameRow, SettlementLine, VerificationRow
from store import imports
from store.db import Conn
from store.imports import Applied, ImportTask, RowFailure
from tests.support.cards import add_cards
from tests.support.dates import store_clock
from tests.support.imports import Value, csv_bom, read_xlsx, xlsx
from tests.support.pricing import Market, agent, market, ok

pytestmark = pytest.mark.integration
A, B, C = "89860000000000000011", "89860000000000000022", "89860000000000000033"
LONG = ["ICCID", "在网状态", "是否三无"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Recorder:
    """A test `apply`: records every chunk; fails card B's rows; raises if told to."""

    chunks: list[list[Any]] = field(default_factory=list)
    explode: bool = False

    async def __call__(self, conn: Conn, task: ImportTask, rows: Sequence[Any]) -> Applied:
        await conn.execute("SELECT 1")
        if self.explode:
            raise RuntimeError("the apply step broke")
        self.chunks.append(list(rows))
        failures = [RowFailure(row.row_no, "该卡无冻结中的长期佣金",
                               "This card has no frozen long-term commission")
                    for row in rows if row.iccid == B]
        return Applied(failures, {"applied": len(rows) - len(failures),
                                  "iccids": [row.iccid for row in rows]})


@dataclass
class Desk:
    market: Market
    apply: Recorder

    def who(self, name: str) -> httpx.AsyncClient:
        return self.market.admin if name == "admin" else self.market.people[name]

    async def upload(self, kind: str, body: bytes, code: int = 201, name: str = "f.xlsx",
                     as_: str = "ops1", **form: Any) -> Any:
        return await ok(self.who(as_).post(f"/v1/imports/{kind}", files={
            "file": (name, body, XLSX)}, data=form), code)

    async def task(self, task_id: str) -> Any:
        return await ok(self.who("ops1").get(f"/v1/imports/{task_id}"))


@pytest.fixture
async def desk(settings: Settings) -> AsyncIterator[Desk]:
    recorder = Recorder()
    for kind in KINDS:
        imports.register(kind, recorder)
    add_cards(settings, [A, B, C], "onelink")
    try:
        async with market(settings) as made:
            await agent(made.admin, "A")
            await made.person("ops1", "platform_operator")
            await made.person("fin1", "platform_finance")
            await made.person("aa1", "agent_admin", agent="A")
            yield Desk(made, recorder)
    finally:
        for kind in KINDS:
            imports.unregister(kind)
        CLOCK.set_offset(0)


@pytest.mark.req("H-20", "G4-27", "AMB-48", "X-05")
async def test_rows_are_checked_one_by_one_and_the_failure_file_says_why(desk: Desk) -> None:
    body = xlsx(LONG, [[A, "正常", "否"], ["", "停机", ""], [B, "非正常", "是"],
                       ["89860000000000000099", "正常", "不知道"], [C, "正常", "是"]])
    made = await desk.upload("long_term_verification", body)
    assert (made["kind"], made["rows_total"], made["failures_url"]) == (
        "long_term_verification", 5, f"/v1/imports/{made['task_id']}/failures.xlsx")
    done = await desk.task(made["task_id"])
    assert (done["status"], done["outcome"], done["outcome_zh"]) == ("done", "partly_succeeded",
                                                                     "部分成功")
    assert (done["rows_done"], done["rows_ok"], done["rows_failed"]) == (5, 2, 3)
    assert done["result"] == {"applied": 2, "iccids": [A, B, C]}
    assert desk.apply.chunks == [[VerificationRow(2, A, True, False),
                                  VerificationRow(4, B, False, True),
                                  VerificationRow(6, C, True, True)]]
    answer = await desk.who("fin1").get(made["failures_url"])
    assert (answer.status_code, answer.headers["content-type"]) == (200, XLSX)
    assert read_xlsx(answer.content) == [
        ["行号", "ICCID", "在网状态", "是否三无", "失败原因"],
        [3.0, "", "停机", "", "ICCID不可为空；在网状态只能填写正常或非正常；是否三无不可为空"],
        [4.0, B, "非正常", "是", "该卡无冻结中的长期佣金"],
        [5.0, "89860000000000000099", "正常", "不知道", "ICCID不存在；是否三无只能填写是或否"]]


@pytest.mark.req("G4-27", "AMB-06", "X-05")
async def test_a_file_refused_as_a_whole_is_listed_as_rejected(desk: Desk) -> None:
    wrong = await desk.upload("long_term_verification",
                              xlsx(["ICCID", "在网", "是否三无"], [[A, "正常", "否"]]), 422)
    [item] = wrong["detail"]
    assert (item["code"], item["message_zh"], item["loc"]) == (
        "import_template_mismatch", "导入模板不正确（缺少列：在网状态）", ["body", "file"])
    empty = await desk.upload("real_name", xlsx(["ICCID", "是否实名"], []), 422)
    assert (empty["detail"][0]["code"], empty["detail"][0]["message_zh"]) == (
        "import_empty", "导入文件没有数据")
    many = await desk.upload("real_name", csv_bom(["ICCID", "是否实名"], [[A, "是"]] * 10_001),
                             422, name="many.csv")
    assert (many["detail"][0]["code"], many["detail"][0]["message_zh"]) == (
        "import_too_many_rows", "单次导入不可超过10000行")
    listed = await ok(desk.who("fin1").get("/v1/imports", params={"status": "rejected"}))
    assert [(t["kind"], t["error"]["code"]) for t in listed] == [
        ("real_name", "import_too_many_rows"), ("real_name", "import_empty"),
        ("long_term_verification", "import_template_mismatch")]
    assert desk.apply.chunks == []


@pytest.mark.req("H-41", "X-05")
async def test_real_name_results_from_a_csv_with_a_bom(desk: Desk) -> None:
    made = await desk.upload("real_name", csv_bom(["ICCID", "是否实名", "实名时间"], [
        [A, "是", "2020-01-02 03:04:05"], [C, "否", ""], [B, "不", ""]]), name="rn.csv")
    done = await desk.task(made["task_id"])
    assert (done["rows_ok"], done["rows_failed"], done["outcome"]) == (2, 1, "partly_succeeded")
    [[first, second]] = desk.apply.chunks
    assert isinstance(first, RealNameRow) and isinstance(second, RealNameRow)
    assert (first.iccid, first.verified, first.verified_at.isoformat()) == (
        A, True, "2020-01-02T03:04:05+08:00")
    assert (second.iccid, second.verified) == (C, False)
    assert abs(second.verified_at - now()) < timedelta(minutes=1)
    [row] = await imports.failures(await _conn(desk), made["task_id"])
    assert (row.row_no, row.error_zh, row.error_en) == (4, "是否实名只能填写是或否",
                                                        "是否实名 must be 是 or 否")


async def _conn(desk: Desk) -> Conn:
    conn: Conn = await desk.market.app.state.resources.pool.getconn()
    await desk.market.app.state.resources.pool.putconn(conn)
    return conn


@pytest.mark.req("H-31", "H-36", "X-05")
async def test_a_settlement_must_add_up_and_is_imported_once_per_factory_and_period(
        desk: Desk) -> None:
    lines: list[list[Value]] = [[A, 5000], [B, "2500"], ["89861000000000000001", 0]]
    wrong = await desk.upload("number_card_settlement", xlsx(["ICCID", "金额(分)"], lines), 422,
                              total_fen="7600", factory_id="F1", period="2026-03")
    [item] = wrong["detail"]
    assert (item["code"], item["message_zh"]) == ("settlement_total_mismatch",
                                                  "结算明细合计与结算总额不一致")
    bad = await desk.upload("number_card_settlement", xlsx(["ICCID", "金额(分)"], lines), 422,
                            factory_id="F1", period="2026-3", total_fen="7500")
    assert bad["detail"][0]["loc"] == ["body", "period"]
    made = await desk.upload("number_card_settlement",
                             xlsx(["ICCID", "金额(分)"], [*lines, [A, 1]]),
                             total_fen="7501", factory_id="F1", period="2026-03")
    assert made["params"] == {"factory_id": "F1", "period": "2026-03", "total_fen": 7501,
                              "lines_fen": 7500}
    done = await desk.task(made["task_id"])
    assert (done["rows_ok"], done["rows_failed"]) == (2, 2)
    assert desk.apply.chunks == [[SettlementLine(2, A, Fen(5000)), SettlementLine(3, B, Fen(2500)),
                                  SettlementLine(4, "89861000000000000001", Fen(0))]]
    failed = read_xlsx((await desk.who("ops1").get(made["failures_url"])).content)
    assert failed[1:] == [[3.0, B, "2500", "该卡无冻结中的长期佣金"], [5.0, A, "1", "ICCID重复"]]
    again = await desk.upload("number_card_settlement",
                              xlsx(["ICCID", "金额(分)"], [[C, 7501]]), 409,
                              total_fen="7501", factory_id="F1", period="2026-03")
    assert again["detail"] == {"code": "settlement_exists",
                               "message_zh": "该厂家该周期的结算单已导入",
                               "message_en": "This factory's settlement for this period has "
                                             "already been imported"}


@pytest.mark.req("X-06")
async def test_the_same_file_within_24_hours_returns_the_same_task(
        desk: Desk, settings: Settings) -> None:
    body = xlsx(LONG, [[A, "正常", "否"]])
    first = await desk.upload("long_term_verification", body)
    again = await desk.upload("long_term_verification", body, 200, name="renamed.xlsx")
    assert (again["task_id"], again["file_name"]) == (first["task_id"], "f.xlsx")
    assert len(desk.apply.chunks) == 1
    other_kind = await desk.upload("real_name", xlsx(["ICCID", "是否实名"], [[A, "是"]]))
    assert other_kind["task_id"] != first["task_id"]
    # the tenant is the platform's, whoever of its staff uploads (sessions end: the admin key)
    await store_clock(settings.require_database(), now() + timedelta(hours=23, minutes=59))
    same = await desk.upload("long_term_verification", body, 200, as_="admin")
    assert same["task_id"] == first["task_id"]
    await store_clock(settings.require_database(), now() + timedelta(minutes=2))
    later = await desk.upload("long_term_verification", body, as_="admin")
    assert later["task_id"] != first["task_id"]
    assert len(desk.apply.chunks) == 3


@pytest.mark.req("X-06", "X-05")
async def test_a_broken_apply_fails_the_task_and_the_file_may_be_uploaded_again(
        desk: Desk) -> None:
    body = xlsx(LONG, [[A, "正常", "否"], [C, "正常", "否"]])
    desk.apply.explode = True
    made = await desk.upload("long_term_verification", body)
    failed = await desk.task(made["task_id"])
    assert (failed["status"], failed["rows_done"], failed["rows_ok"]) == ("failed", 0, 0)
    assert failed["error"]["code"] == "import_failed"
    desk.apply.explode = False
    retried = await desk.upload("long_term_verification", body)
    assert retried["task_id"] != made["task_id"]
    assert (await desk.task(retried["task_id"]))["outcome"] == "all_succeeded"


@pytest.mark.req("H-31", "H-36", "X-05")
async def test_a_settlement_may_exceed_10000_lines_and_is_applied_whole(desk: Desk) -> None:
    """H-31: a statement is one batch, applied in one chunk (one transaction)."""
    lines: list[list[Value]] = [[f"8986200000{k:010d}", 100] for k in range(12_000)]
    made = await desk.upload("number_card_settlement", xlsx(["ICCID", "金额(分)"], lines),
                             factory_id="F2", period="2026-04", total_fen=str(12_000 * 100))
    done = await desk.task(made["task_id"])
    assert (done["status"], done["rows_done"], done["rows_ok"]) == ("done", 12_000, 12_000)
    assert [len(chunk) for chunk in desk.apply.chunks] == [12_000]
    assert done["result"]["applied"] == 12_000


@pytest.mark.req("X-05", "H-20", "H-41", "H-31")
async def test_templates_have_the_exact_columns(desk: Desk) -> None:
    expected = {"long_term_verification": LONG, "real_name": ["ICCID", "是否实名", "实名时间"],
                "number_card_settlement": ["ICCID", "金额(分)"]}
    for kind, header in expected.items():
        answer = await desk.who("fin1").get(f"/v1/imports/templates/{kind}.xlsx")
        assert answer.status_code == 200
        assert read_xlsx(answer.content) == [header]


@pytest.mark.req("X-05", "X-01")
async def test_platform_operators_import_finance_reads_agents_have_no_access(
        desk: Desk) -> None:
    body = xlsx(LONG, [[A, "正常", "否"]])
    await desk.upload("long_term_verification", body, 403, as_="fin1")
    await desk.upload("long_term_verification", body, 403, as_="aa1")
    made = await desk.upload("long_term_verification", body)
    for path in ("/v1/imports", f"/v1/imports/{made['task_id']}", made["failures_url"],
                 "/v1/imports/templates/real_name.xlsx"):
        assert (await desk.who("aa1").get(path)).status_code == 403
        assert (await desk.who("fin1").get(path)).status_code == 200
    by_admin = await ok(desk.market.admin.post("/v1/imports/real_name", files={
        "file": ("a.xlsx", xlsx(["ICCID", "是否实名"], [[A, "是"]]), XLSX)}), 201)
    assert by_admin["created_by"] == "admin"
    listed = await ok(desk.who("fin1").get("/v1/imports", params={"kind": "real_name"}))
    assert [t["task_id"] for t in listed] == [by_admin["task_id"]]
    await ok(desk.who("ops1").get("/v1/imports/IMPnope"), 404)


@pytest.mark.req("X-05")
async def test_a_kind_nothing_applies_is_unavailable(desk: Desk) -> None:
    imports.unregister("real_name")
    refused = await desk.upload("real_name", xlsx(["ICCID", "是否实名"], [[A, "是"]]), 409)
    assert refused["detail"]["code"] == "import_unavailable"
    assert await ok(desk.who("ops1").get("/v1/imports")) == []
