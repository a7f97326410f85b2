"""The import task list (X-05, X-06, G4-27): a task as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.imports import ImportTask

OUTCOME_ZH = {"all_succeeded": "全部成功", "partly_succeeded": "部分成功",
              "all_failed": "全部失败"}


class Refused(BaseModel):
    code: str
    message_zh: str
    message_en: str


class ImportTaskPublic(BaseModel):
    """One uploaded file: its status, counts (`rows_done` grows while it runs), the kind's
    summary, and where its failure file is."""

    task_id: str
    kind: str
    file_name: str
    file_sha256: str
    params: dict[str, Any] = Field(description="the upload's own fields (a settlement's "
                                               "factory_id, period, total_fen)")
    status: Literal["running", "done", "failed", "rejected"]
    outcome: Literal["all_succeeded", "partly_succeeded", "all_failed"] | None
    outcome_zh: str | None = Field(description="全部成功 / 部分成功 / 全部失败")
    rows_total: int
    rows_done: int
    rows_ok: int
    rows_failed: int
    error: Refused | None = Field(description="why the file was rejected, or the run failed")
    result: dict[str, Any] = Field(description="the kind's summary of what it applied")
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    failures_url: str

    @classmethod
    def of(cls, task: ImportTask) -> ImportTaskPublic:
        outcome = task.outcome
        return cls(
            task_id=task.task_id, kind=task.kind, file_name=task.file_name,
            file_sha256=task.file_sha256, params=task.params, status=task.status,
            outcome=outcome, outcome_zh=OUTCOME_ZH[outcome] if outcome else None,
            rows_total=task.rows_total, rows_done=task.rows_done, rows_ok=task.rows_ok,
            rows_failed=task.rows_failed,
            error=Refused(**task.error) if task.error else None, result=task.result,
            created_by=task.created_by, created_at=task.created_at,
            finished_at=task.finished_at,
            failures_url=f"/v1/imports/{task.task_id}/failures.xlsx")
