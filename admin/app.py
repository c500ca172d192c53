"""The admin web app (FastAPI): health now; pages, ledger and API are added here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text


def create_app(app: Any) -> FastAPI:
    api = FastAPI(title="说事 shuoshi", docs_url="/api/docs", openapi_url="/api/openapi.json")

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    def readyz() -> JSONResponse:
        try:
            with app.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # the database is what "ready" means here
            return JSONResponse({"status": "down", "error": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok"})

    return api
