"""The admin web app (FastAPI): pages for people (Jinja2, server-rendered), a JSON API and
Open311 for programs, the ledger export, the 模拟群聊 web chat, /healthz and /readyz.

Every change made here goes through the same handler functions as the chat commands."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from swagger_ui_bundle import swagger_ui_path

from admin import api, pages, readiness, report, simchat, votes
from admin.auth import LoginLimits, load_secret
from admin.security import AdminOptions, SecureCookies, admin_options
from admin.web import HERE, LoginRequired, chat_enabled, make_templates
from handlers.deps import Deps
from ports.runtime import Runtime

SESSION_COOKIE = "shuoshi_session"


def create_app(
    app: Runtime[Deps], options: AdminOptions | None = None, limits: LoginLimits | None = None
) -> FastAPI:
    """The admin over this runtime. `options` (public URL, Secure cookies, trusted proxies)
    come from the settings unless given; `limits` are the log-in limits."""
    web = FastAPI(
        title="说事 shuoshi",
        description="村里说事群的事项：列表、详情、统计（JSON）；Open311 GeoReport v2 只读接口。",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    settings = app.settings
    web.state.shuoshi = app
    web.state.templates = make_templates(app.clock.tz)
    web.state.options = options = options or admin_options(settings)
    web.state.login_limits = limits or LoginLimits()
    web.add_middleware(
        SessionMiddleware,
        secret_key=load_secret(settings.admin_secret, settings.data_dir),
        session_cookie=SESSION_COOKIE,
        max_age=settings.admin_session_hours * 3600,
        same_site="lax",
        https_only=options.always_secure,
    )
    if options.secure_cookie is None and not options.always_secure:
        web.add_middleware(SecureCookies, options=options)  # Secure on what came over HTTPS

    @web.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/api/docs"):  # Swagger UI loads its own scripts
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'; form-action 'self'",
            )
        return response

    web.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # Swagger UI from the installed package: these servers may have no internet (no CDN).
    web.mount("/api/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @web.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="说事 API",
            swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs-assets/swagger-ui.css",
            swagger_favicon_url="/api/docs-assets/favicon-32x32.png",
        )

    web.include_router(pages.router)
    web.include_router(votes.router)  # 议事 and 回访 forms on the issue page
    web.include_router(simchat.router)
    web.include_router(api.router)
    web.include_router(api.open311)
    report.mount(web, app)  # 说事码: the phone page, tracking page, posters

    @web.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @web.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        page = web.state.templates.get_template("error.html").render(
            status=exc.status_code, detail=exc.detail
        )
        return HTMLResponse(page, status_code=exc.status_code, headers=exc.headers)

    @web.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        page = web.state.templates.get_template("error.html").render(
            status=422, detail="请求的内容不完整或格式不对。"
        )
        return HTMLResponse(page, status_code=422)

    @web.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @web.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        ready, report = readiness.check(app)
        return JSONResponse(report, status_code=200 if ready else 503)

    return web


def welcome(app: Runtime[Deps], command: str = "shuoshi") -> str:
    """What `shuoshi run` prints: where to open the admin (and the web chat, when it is on),
    and how to set a password, with the command as this installation runs it."""
    s = app.settings
    host = "127.0.0.1" if s.admin_host in ("0.0.0.0", "::", "") else s.admin_host
    base = f"http://{host}:{s.admin_port}"
    text = f"后台 {base}/issues"
    if chat_enabled(app):
        text = f"模拟群聊 {base}/chat ，" + text
    text += f"（登录密码：{command} set-password 姓名）"
    return text


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/open311/")) or "application/json" in request.headers.get(
        "accept", ""
    )
