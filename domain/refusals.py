"""Business refusals (specs/business.md C-06): a rule said no, with a stable `code` and the
message a person reads in Chinese and English. The API maps them once (`api/errors.py`): a
refusal about one field answers 422 in FastAPI's list shape with the three extra keys; any
other (a state conflict, a balance) answers 409 `{"detail": {"code", "message_zh",
"message_en"}}`. Modules subclass `Refusal` with class attributes, or raise it with values."""

from __future__ import annotations


class Refusal(Exception):
    """A request a business rule refuses. `field` names the input at fault (then 422)."""

    code = "refused"
    message_zh = "请求被拒绝"
    message_en = "The request was refused"
    field: str | None = None

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 message_zh: str | None = None, message_en: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(detail or message_en or self.message_en)
        if code is not None:
            self.code = code
        if message_zh is not None:
            self.message_zh = message_zh
        if message_en is not None:
            self.message_en = message_en
        if field is not None:
            self.field = field

    def as_detail(self) -> dict[str, str]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}
