"""One place that turns domain errors and bad input into HTTP answers a person can read."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from models.errors import DomainError

VALIDATION_MESSAGES = {
    "missing": "缺少必填字段",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "string_type": "须为文本",
    "enum": "取值不在允许范围内",
    "date_from_datetime_parsing": "须为日期，格式 YYYY-MM-DD",
    "date_parsing": "须为日期，格式 YYYY-MM-DD",
    "datetime_from_date_parsing": "须为时间，格式 YYYY-MM-DDTHH:MM:SS+08:00",
    "datetime_parsing": "须为时间，格式 YYYY-MM-DDTHH:MM:SS+08:00",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "too_short": "至少须有一项",
    "too_long": "项数过多",
    "json_invalid": "请求体不是合法的 JSON",
    "model_attributes_type": "请求体须为 JSON 对象",
    "dict_type": "请求体须为 JSON 对象",
    "list_type": "须为列表",
    "value_error": "取值不合法",
}


class ServiceUnavailable(Exception):
    """Prefect (or another backing service) cannot be reached; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        body: dict = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(status_code=exc.status_code, content=body)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            field = _field(tuple(err.get("loc", ())))
            kind = err.get("type", "")
            text = VALIDATION_MESSAGES.get(kind, "取值不合法")
            if kind == "value_error":
                text = str(err.get("msg", "")).removeprefix("Value error, ")
            errors.append({"field": field, "message": text, "type": kind})
        first = errors[0] if errors else {"field": "body", "message": "请求不合法"}
        return JSONResponse(
            status_code=422,
            content={"detail": f"{first['field']}：{first['message']}", "errors": errors},
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(
            status_code=409, content={"detail": "与已有记录冲突，未做任何修改（可能是重复提交）"}
        )

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": exc.message})
