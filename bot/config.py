"""All settings, read once from the environment and .env (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_GRID = REPO_ROOT / "deploy" / "grid.demo.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///./data/shuoshi.db"
    grid_file: Path = DEMO_GRID
    data_dir: Path = Path("./data")
    log_level: str = "INFO"
    log_json: bool = False

    admin_host: str = "127.0.0.1"
    admin_port: int = 8000
    admin_secret: str = ""  # signs admin session cookies; generated into data_dir when empty

    telegram_bot_token: str = ""
    telegram_base_url: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""

    wechaty_puppet_service_endpoint: str = ""
    wechaty_puppet_service_token: str = ""
    wechaty_puppet_service_no_tls_insecure_client: bool = False

    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""

    outbox_max_tries: int = 8
    daily_todo: bool = True
