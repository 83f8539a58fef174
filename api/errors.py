"""One place that turns domain errors and bad input into HTTP answers a person can read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from config.db import database_unavailable
from models.errors import DomainError, NotSignedIn, TooManyRequests, VersionConflict

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
    "extra_forbidden": "不是可填写的字段（请检查字段名）",
    "int_from_float": "须为整数",
}


# What Starlette itself answers (no such address, wrong method, a body it cannot read), as a
# person reads it.
FRAMEWORK_MESSAGES = {
    400: "请求体无法解析：须为 UTF-8 编码的 JSON",
    404: "未找到该地址",
    405: "该地址不支持此请求方法",
}


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer: a sentence for the person, and for bad input the fields at fault."""

    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None
    current_version: int | None = Field(
        default=None, description="记录已被他人修改时：记录当前的版本号"
    )


def _described(text: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": text}


# Declared on every route (an id in the path may not exist, a state may refuse the action, the
# person may not be allowed, and the database may be briefly unavailable).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("请求体无法解析（不是 UTF-8 编码的 JSON）"),
    401: _described("未登录，或登录已失效"),
    403: _described("无权办理"),
    404: _described("记录不存在"),
    409: _described(
        "当前状态不允许该操作、记录已被他人修改（带 current_version），或与已有记录冲突"
    ),
    413: _described("请求体过大"),
    422: _described("输入不合法（逐项列出字段和原因）"),
    429: _described("操作过于频繁，请稍后再试"),
    503: _described("依赖的服务（数据库、流程引擎）暂不可用"),
}


RETRY_AFTER_SECONDS = 5


class ServiceUnavailable(Exception):
    """Prefect (or another backing service) cannot be reached; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _field(loc: tuple, kind: str = "") -> str:
    if kind == "json_invalid":
        return "body"  # the location is a byte offset, not a field
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method the address answers to, across all the routes that share its path (Starlette
    names only the first route it tried, so `Allow` on /topics said POST and hid GET). Asks each
    route whether it would take the request with that method instead."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def document_errors(app: FastAPI, *extra: Callable[[dict[str, Any]], None]) -> None:
    """The OpenAPI shows the error shape the handlers really answer with, not FastAPI's (and
    whatever `extra` documents: headers the middleware and dependencies read)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                answer = operation.get("responses", {}).get("422")
                if answer:
                    answer["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                    }
        for document in extra:
            document(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        body: dict = {"detail": exc.message}
        if exc.field:
            # The same shape as a validation error: the field at fault and why.
            body["field"] = exc.field
            body["errors"] = [{"field": exc.field, "message": exc.message, "type": "invalid"}]
        headers = {}
        if isinstance(exc, NotSignedIn):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, VersionConflict) and exc.current_version is not None:
            body["current_version"] = exc.current_version
            headers["ETag"] = f'"{exc.current_version}"'
        return JSONResponse(status_code=exc.status_code, content=body, headers=headers)

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        """A write based on a row someone changed meanwhile, where no request session could
        name the record (api.deps does where it can): refused, never a lost update."""
        return JSONResponse(
            status_code=409,
            content={"detail": "记录在办理期间已被他人修改；请刷新后再操作，本次未做任何修改"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            kind = err.get("type", "")
            field = _field(tuple(err.get("loc", ())), kind)
            text = VALIDATION_MESSAGES.get(kind, "取值不合法")
            ctx = err.get("ctx") or {}
            if kind == "value_error":
                text = str(err.get("msg", "")).removeprefix("Value error, ")
            elif kind == "string_too_short" and "min_length" in ctx:
                text = f"不能为空，且不少于 {ctx['min_length']} 个字（首尾空白不计）"
            elif kind == "string_too_long" and "max_length" in ctx:
                text = f"不能超过 {ctx['max_length']} 个字"
            elif kind in ("greater_than_equal", "less_than_equal") and ctx:
                bound = ctx.get("ge", ctx.get("le"))
                text = f"{text}（{'不小于' if 'ge' in ctx else '不大于'} {bound}）"
            errors.append({"field": field, "message": text, "type": kind})
        first = errors[0] if errors else {"field": "body", "message": "请求不合法"}
        return JSONResponse(
            status_code=422,
            content={"detail": f"{first['field']}：{first['message']}", "errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _framework(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = FRAMEWORK_MESSAGES.get(exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return JSONResponse(
            status_code=exc.status_code, content={"detail": detail}, headers=headers or None
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(
            status_code=409, content={"detail": "与已有记录冲突，未做任何修改（可能是重复提交）"}
        )

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        """The database down or restarting is a 503 the client may retry, never a 500; a value
        the database cannot store is the client's 422."""
        if database_unavailable(exc):
            return JSONResponse(
                status_code=503,
                content={"detail": "数据库暂不可用，本次操作未执行，请稍后重试"},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if isinstance(exc, DataError):
            return JSONResponse(
                status_code=422,
                content={"detail": "取值超出可存储的范围，未做任何修改", "field": "body"},
            )
        raise exc

    @app.exception_handler(PoolTimeout)
    async def _pool(_: Request, exc: PoolTimeout) -> JSONResponse:
        """Every connection busy for the pool's whole timeout: as the database being down."""
        return JSONResponse(
            status_code=503,
            content={"detail": "数据库繁忙，本次操作未执行，请稍后重试"},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": exc.message},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
