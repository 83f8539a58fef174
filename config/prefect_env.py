"""Environment every Xieshang process hands to Prefect (set before prefect is imported)."""

from __future__ import annotations

import os

from config.settings import Settings, get_settings


def prefect_environment(settings: Settings | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    return {
        "PREFECT_API_URL": settings.resolved_prefect_api_url,
        "PREFECT_HOME": str(settings.data_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(settings.run_heartbeat_seconds),
        "PREFECT_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "XS_DATA_DIR": str(settings.data_dir),
        "XS_DATABASE_URL": settings.resolved_database_url,
    }


def apply_prefect_environment(settings: Settings | None = None) -> None:
    """Point this process at the configured Prefect API unless the caller already chose one."""
    for key, value in prefect_environment(settings).items():
        if key in ("PREFECT_API_URL", "PREFECT_HOME"):
            os.environ.setdefault(key, value)
        else:
            os.environ[key] = value
