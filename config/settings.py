"""Settings for every process (API, runners, CLI), read from XS_* environment variables."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets copied from examples and tutorials: never accepted outside development.
# The evidence file types the content sniffer (models/evidence.py) recognises.
EVIDENCE_KINDS = ("jpg", "png", "pdf", "docx", "xlsx")
WEAK_SECRETS = {"changeme", "changethis", "secret", "secret_key", "your-secret-key", "xieshang"}


class Settings(BaseSettings):
    """One settings object; child processes inherit it through the environment."""

    model_config = SettingsConfigDict(env_prefix="XS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="运行数据目录")
    database_url: str | None = Field(
        default=None, description="应用数据库，默认数据目录下的 SQLite"
    )
    prefect_api_url: str | None = Field(default=None, description="Prefect API；默认本机服务")
    prefect_database_url: str | None = Field(
        default=None,
        description="规模扩展模式（xieshang up --scale-out）下本机 Prefect 服务所用的 PostgreSQL 数据库"
        "（postgresql+asyncpg://…）；默认与应用数据库同一服务器上的 xs_prefect，不存在则创建",
    )
    apprise_config: Path | None = Field(default=None, description="Apprise 通知渠道配置文件")
    timezone: str = "Asia/Shanghai"
    environment: Literal["development", "production"] = Field(
        default="development",
        description="运行环境；production 时必须设置足够长的 XS_SECRET_KEY，且会话 Cookie 仅经 HTTPS 发送",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="安装密钥（签名审计校验点等）；不设时在数据目录生成 secret.key 并沿用",
    )
    audit_checkpoint: Path | None = Field(
        default=None,
        description="审计链校验点文件（应放在数据库之外、最好另一台机器的目录）；默认数据目录下",
    )

    # Sign-in (登录): token lifetime, lockout after repeated failures, attempts per minute.
    token_minutes: int = Field(default=30, ge=1, le=24 * 60, description="登录令牌有效期（分钟）")
    action_link_days: int = Field(default=14, ge=1, le=90, description="一次性办理链接有效期（天）")
    sign_in_failures: int = Field(default=5, ge=1, description="连续输错几次密码即锁定账号")
    lockout_minutes: int = Field(default=15, ge=1, description="账号锁定时长（分钟）")
    sign_in_per_minute: int = Field(default=10, ge=1, description="每个来源每分钟可尝试登录的次数")
    actions_per_minute: int = Field(
        default=120, ge=1, description="每人每分钟可发起的会触发通知的操作数"
    )

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="请求体大小上限（字节）；更大的请求答 413"
    )
    max_import_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="上传台账（POST /imports）的大小上限（字节）"
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    prefect_port: int = 4200
    public_url: str | None = Field(
        default=None, description="通知里链接所用的对外访问地址；默认 http://api_host:api_port"
    )
    # Monthly bulletin / quarterly review (月通报 / 季评估).
    bulletin_min_items_due: int = Field(
        default=3, ge=1, description="参加红黑榜排名的单位本期至少应办结的事项数"
    )
    bulletin_ranking_size: int = Field(default=3, ge=1, description="红榜、黑榜各列几个单位")
    bulletin_overdue_limit: int = Field(default=200, ge=1, description="通报逾期清单最多列出几项")

    follow_up_interval_seconds: int = Field(default=60, ge=5)
    # Runs served at the same time, per group: stage runs people start, and background runs
    # (recurring runs, 台账 imports). Separate slots: background runs never crowd out people.
    stage_run_limit: int = Field(default=8, ge=1, description="同时运行的环节流程数上限")
    background_run_limit: int = Field(
        default=5, ge=1, description="同时运行的定期任务与台账导入流程数上限"
    )
    # A flow run whose process dies while RUNNING stays RUNNING in Prefect unless somebody
    # notices: every run sends a heartbeat, and a run silent for `zombie_after_seconds` is
    # marked CRASHED by a Prefect automation, so its stage can be started again.
    run_heartbeat_seconds: int = Field(default=30, ge=30, description="流程运行心跳间隔（秒）")
    zombie_after_seconds: int = Field(
        default=90, ge=35, description="流程运行无心跳多久即判定为崩溃（秒）"
    )
    # Deadlines the domain counts in working days.
    approval_working_days: int = Field(default=3, ge=1)
    rsvp_working_days: int = Field(default=3, ge=1)
    # No single side (organizer, departments, residents …) above this share of the accepted
    # participants: the session must not be one side talking to itself.
    max_side_share: float = Field(default=0.5, gt=0, le=1)
    # An emergency topic (突发/应急) starts at once and must enter the regular loop (its
    # participants invited) within this many working days.
    emergency_conversion_working_days: int = Field(default=5, ge=1)
    ack_working_days: int = Field(default=3, ge=1)
    plan_working_days: int = Field(default=5, ge=1)
    rating_working_days: int = Field(default=5, ge=1)
    due_soon_working_days: int = Field(default=3, ge=1)
    # 退单拉锯战: after this many returns of one item the office decides who leads it.
    bounces_before_arbitration: int = Field(
        default=2, ge=1, description="同一事项被退回几次即提请协商办裁定牵头单位"
    )
    arbitration_working_days: int = Field(
        default=1, ge=1, description="协商办裁定反复退回事项的期限（工作日）"
    )
    extension_working_days: int = Field(
        default=2, ge=1, description="协商办审批延期申请的期限（工作日）"
    )
    evaluation_working_days: int = Field(
        default=10, ge=1, description="受指派的专家、监督员提交第三方评估的期限（工作日）"
    )
    # Evidence files (佐证材料): stored under the data directory, never in the database.
    evidence_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="单个佐证材料文件的大小上限（字节）"
    )
    evidence_types: Annotated[list[str], NoDecode] = Field(
        default=["jpg", "png", "pdf", "docx", "xlsx"],
        description="允许上传的佐证材料类型（按文件内容识别），逗号分隔：jpg,png,pdf,docx,xlsx",
    )
    # 回头看 after completion, and the deadline of the rework a failed one reopens.
    recheck_working_days: int = Field(default=20, ge=1)
    reopen_working_days: int = Field(default=20, ge=1)
    # Runs that may fail a message before it is flagged for an administrator; later runs keep
    # retrying it (hourly) until it is delivered or an administrator gives up on it.
    delivery_attempts: int = Field(default=5, ge=1)
    delivery_tries: int = Field(default=3, ge=1, description="每次投递对单个渠道的尝试次数")
    delivery_backoff_seconds: float = Field(default=0.5, ge=0, description="渠道重试退避基数（秒）")
    digest_lines: int = Field(default=30, ge=1, description="周调度摘要每类最多列出的事项数")

    @model_validator(mode="after")
    def _secret_outside_development(self) -> Settings:
        """Outside development a missing, short or well-known secret would let anyone forge
        sign-in tokens and action links: refuse to start."""
        if self.environment != "development":
            value = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(value) < 32 or value.lower() in WEAK_SECRETS or len(set(value)) < 8:
                raise ValueError(
                    "生产环境必须设置 XS_SECRET_KEY：至少 32 个字符的随机值"
                    "（例如 python3 -c 'import secrets; print(secrets.token_hex(32))'），不能为空或默认值"
                )
        return self

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @field_validator("evidence_types", mode="before")
    @classmethod
    def _type_list(cls, value: Any) -> Any:
        """XS_EVIDENCE_TYPES=jpg,pdf: a comma-separated list; only types the sniffer knows."""
        if isinstance(value, str):
            value = [v for v in (part.strip().lower() for part in value.split(",")) if v]
        unknown = sorted(set(value) - set(EVIDENCE_KINDS))
        if unknown:
            raise ValueError(
                f"不支持的佐证材料类型：{'、'.join(unknown)}（可选 {','.join(EVIDENCE_KINDS)}）"
            )
        return value

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Runner subprocesses start elsewhere; an absolute path keeps one case file.
        return value.expanduser().resolve()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'xieshang.db'}"

    @property
    def resolved_prefect_api_url(self) -> str:
        return self.prefect_api_url or f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def audit_checkpoint_path(self) -> Path:
        return self.audit_checkpoint or self.data_dir / "audit-checkpoint.json"

    def derived_key(self, purpose: str) -> bytes:
        """A key per purpose (sign-in tokens, CSRF, action links), derived from the secret, so
        a key of one kind never verifies another."""
        import hashlib
        import hmac

        return hmac.new(self.secret(), f"xieshang-{purpose}".encode(), hashlib.sha256).digest()

    def secret(self) -> bytes:
        """The installation's secret: XS_SECRET_KEY, or a random key kept in the data directory
        (created once, readable by the owner only)."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
