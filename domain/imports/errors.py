"""Whole-file refusals of an import (G4-27, AMB-06, H-36): the file is not imported at all."""

from __future__ import annotations

from domain.refusals import Refusal


class FileRefused(Refusal):
    """The uploaded file as a whole is refused (422, field `file`)."""

    code = "import_refused"
    field = "file"


class Unreadable(FileRefused):
    code = "import_unreadable"
    message_zh = "导入文件无法读取，请上传xlsx或UTF-8编码的csv文件"
    message_en = "The import file cannot be read: upload an xlsx file or a UTF-8 csv file"


class TemplateMismatch(FileRefused):
    """A required column is missing (named in the message), or a column name repeats."""

    code = "import_template_mismatch"
    message_zh = "导入模板不正确"
    message_en = "The import template is not correct"

    def __init__(self, missing: list[str], repeated: list[str] | None = None) -> None:
        zh, en = [], []
        if missing:
            zh.append("缺少列：" + "、".join(missing))
            en.append("missing column(s): " + ", ".join(missing))
        if repeated:
            zh.append("重复列：" + "、".join(repeated))
            en.append("repeated column(s): " + ", ".join(repeated))
        super().__init__(message_zh=f"{self.message_zh}（{'；'.join(zh)}）",
                         message_en=f"{self.message_en} ({'; '.join(en)})")
        self.missing = missing


class EmptyFile(FileRefused):
    code = "import_empty"
    message_zh = "导入文件没有数据"
    message_en = "The import file has no data"


class TooManyRows(FileRefused):
    code = "import_too_many_rows"

    def __init__(self, limit: int) -> None:
        super().__init__(message_zh=f"单次导入不可超过{limit}行",
                         message_en=f"At most {limit:,} rows per import")
        self.limit = limit


class TooLarge(FileRefused):
    code = "import_too_large"

    def __init__(self, limit_bytes: int) -> None:
        mb = limit_bytes // (1 << 20)
        super().__init__(message_zh=f"导入文件不可超过{mb}MB",
                         message_en=f"The import file must not exceed {mb} MB")


class SettlementTotalMismatch(FileRefused):
    """H-36: the lines of a settlement statement do not add up to its total."""

    code = "settlement_total_mismatch"
    message_zh = "结算明细合计与结算总额不一致"
    message_en = "The settlement lines do not add up to the settlement total"


class BadSettlementHeader(Refusal):
    """A header field of a settlement upload (factory_id, period, total_fen) is not valid."""

    code = "settlement_header_invalid"
