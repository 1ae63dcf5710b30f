"""``feedbackloop ui``: the operator console, a small Starlette app over gold and the vector index.

Pages are server-rendered (Jinja2, autoescaped) with inline SVG charts, so it works offline and needs
no JavaScript. Every SQL value is a bound parameter (``queries.py``); every page value is escaped.
Review decisions go through ``feedbackloop.label.review.record_reviews``, the store the CLI uses.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedbackloop.console import charts, queries
from feedbackloop.index.base import FILTER_FIELDS, SearchIndexError, StopWordsOnlyError, make_filters
from feedbackloop.settings import Settings

HERE = Path(__file__).parent
# Drop-downs the search page offers; any FILTER_FIELDS name also works as a URL parameter.
SEARCH_FILTERS = ("source", "category", "severity", "sentiment", "platform")
MAX_FORM_BYTES = 64_000
MAX_QUERY_CHARS = 500
REVIEW_PAGE_ITEMS = 50  # oldest first; the rest wait for the next page load


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _safe_url(url: Any) -> str | None:
    """Only http(s) links leave the console: a ``javascript:`` external_url must not become a link."""
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


class Console:
    """The app's state: settings, the warehouse connection, the vector index and the embedder."""

    def __init__(self, settings: Settings, warm: bool = True) -> None:
        self.settings = settings
        self.warehouse = queries.Warehouse(settings)
        self.csrf_token = secrets.token_urlsafe(24)
        self._index: Any = None
        self._index_lock = threading.Lock()
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(duration=_duration, safe_url=_safe_url, percent=_percent)
        self.env.globals.update(charts=charts, csrf_token=self.csrf_token)
        if warm:
            threading.Thread(target=self._warm, daemon=True).start()

    def _warm(self) -> None:
        """Load the embedder and the index before the first search, so it does not pay seconds."""
        try:
            from feedbackloop.embed.model import get_embedder

            get_embedder(self.settings).embed(["warm up"])
            self.index().info()
        except Exception:
            pass

    def index(self) -> Any:
        """One index object per app: the local backend caches its committed generation in memory."""
        with self._index_lock:
            if self._index is None:
                from feedbackloop.index import open_index

                self._index = open_index(self.settings)
            return self._index

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        started = time.perf_counter()
        html = self.env.get_template(name).render(**context)
        response = HTMLResponse(html, status_code=status_code)
        response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response


# -- pages -----------------------------------------------------------------------------------------
def overview(request: Request) -> Response:
    console: Console = request.app.state.console
    with console.warehouse.cursor() as r:
        data = queries.overview(r)
        context: dict[str, Any] = {
            "page": "overview",
            "data": data,
            "themes": queries.top_themes(r),
            "incidents": queries.incidents(r, limit=8),
            "detection": queries.detection_summary(r),
            "review_size": queries.review_queue_size(r),
            "open_actions": queries.open_action_count(r),
            "drift": next(iter(queries.drift_reports(r, limit=1)), None),
            "run_metrics": queries.latest_run_metrics(r),
        }
    return console.render("overview.html", **context)


def incident_list(request: Request) -> Response:
    console: Console = request.app.state.console
    status = request.query_params.get("status") or None
    with console.warehouse.cursor() as r:
        rows = queries.incidents(r, status=status, limit=200)
        detection = queries.detection_summary(r)
    return console.render("incidents.html", page="incidents", incidents=rows, status=status, detection=detection)


def incident_page(request: Request) -> Response:
    console: Console = request.app.state.console
    incident_id = request.path_params["incident_id"]
    with console.warehouse.cursor() as r:
        item = queries.incident(r, incident_id)
        if item is None:
            return console.render("not_found.html", 404, page="incidents", what=f"incident {incident_id}")
        member_days, member_series = queries.member_days(item["members"])
        tele_days, tele_series = queries.telemetry_around(r, item.get("first_seen_at"), item.get("last_seen_at"))
    return console.render(
        "incident.html",
        page="incidents",
        incident=item,
        member_chart=charts.stacked_bars("members per day by source", member_days, member_series),
        telemetry_chart=charts.lines("error-like telemetry per day", tele_days, tele_series) if tele_days else None,
    )


def action_list(request: Request) -> Response:
    console: Console = request.app.state.console
    status = request.query_params.get("status") or None
    with console.warehouse.cursor() as r:
        rows = queries.actions(r, status=status)
        counts = queries.action_counts(r)
    return console.render("actions.html", page="actions", actions=rows, counts=counts, status=status)


def drift_page(request: Request) -> Response:
    console: Console = request.app.state.console
    with console.warehouse.cursor() as r:
        reports = queries.drift_reports(r)
    for report in reports:
        report["has_html"] = _report_file(report) is not None
    return console.render("drift.html", page="drift", reports=reports)


def _report_file(report: dict[str, Any]) -> Path | None:
    path = Path(str(report.get("html_path") or ""))
    return path if path.suffix.lower() in (".html", ".htm") and path.is_file() else None


def drift_report_file(request: Request) -> Response:
    """The Evidently HTML named by a gold.fct_drift_reports row; the path comes from the table, never the URL."""
    console: Console = request.app.state.console
    report_id = request.path_params["report_id"]
    with console.warehouse.cursor() as r:
        report = queries.drift_report(r, report_id)
    path = _report_file(report) if report else None
    if path is None:
        return console.render("not_found.html", 404, page="drift", what=f"drift report {report_id}")
    return FileResponse(path, media_type="text/html")


def drift_latest(request: Request) -> Response:
    console: Console = request.app.state.console
    with console.warehouse.cursor() as r:
        latest = next(iter(queries.drift_reports(r, limit=1)), None)
    if latest is None:
        return RedirectResponse("/drift", status_code=303)
    return RedirectResponse(f"/drift/{latest['report_id']}", status_code=303)


# -- search ----------------------------------------------------------------------------------------
def _search_options(params: Any) -> dict[str, list[str]]:
    return {
        name: [v for v in params.getlist(name) if v] for name in FILTER_FIELDS if any(v for v in params.getlist(name))
    }


def run_search(console: Console, params: Any) -> dict[str, Any]:
    """Search state for the page and the JSON API: results, or a message saying what to change."""
    from feedbackloop.index.search import more_like_this, search

    text = (params.get("q") or "").strip()
    like = (params.get("like") or "").strip()
    state: dict[str, Any] = {"q": text, "like": like, "results": [], "error": None, "ms": None, "status": 200}
    state["since"], state["until"] = params.get("since") or "", params.get("until") or ""
    try:
        k = int(params.get("k") or 10)
    except ValueError:
        k = 10
    state["k"] = k = max(1, min(k, 50))
    options = _search_options(params)
    state["selected"] = options
    if not text and not like:
        return state
    if len(text) > MAX_QUERY_CHARS:
        state["error"] = f"search text is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}"
        state["status"] = 400
        return state
    started = time.perf_counter()
    try:
        filters = make_filters(options, state["since"] or None, state["until"] or None)
        if like:
            results = more_like_this(console.settings, like, filters, k, index=console.index())
        else:
            results = search(console.settings, text, filters, k, index=console.index())
    except StopWordsOnlyError as error:  # not a failure: the page says what to type instead
        state["error"] = str(error)
    except ValueError as error:  # an invalid filter, date or k
        state["error"], state["status"] = str(error), 400
    except LookupError as error:  # nothing indexed yet (a first run), or an unknown doc for "more like this"
        state["error"] = str(error)
    except SearchIndexError as error:
        state["error"], state["status"] = str(error), 503
    else:
        state["results"] = [r.as_dict() for r in results]
    state["ms"] = (time.perf_counter() - started) * 1000
    return state


def search_page(request: Request) -> Response:
    console: Console = request.app.state.console
    state = run_search(console, request.query_params)
    with console.warehouse.cursor() as r:
        choices = queries.filter_choices(r)
        indexed = queries.feedback_count(r)
    return console.render(
        "search.html",
        state["status"],
        page="search",
        s=state,
        choices=choices,
        filters=SEARCH_FILTERS,
        indexed=indexed,
    )


def search_api(request: Request) -> Response:
    state = run_search(request.app.state.console, request.query_params)
    return JSONResponse(
        {k: state.get(k) for k in ("q", "like", "k", "selected", "results", "error", "ms")},
        status_code=state["status"],
    )


# -- review ----------------------------------------------------------------------------------------
def review_page(request: Request, message: str | None = None, error: str | None = None, status: int = 200) -> Response:
    from feedbackloop.label.decision import ACTIONS, SENTIMENTS, SEVERITIES
    from feedbackloop.label.review import open_queue
    from feedbackloop.label.tables import REVIEW_REASONS
    from feedbackloop.label.taxonomy import load_taxonomy

    console: Console = request.app.state.console
    reason = request.query_params.get("reason") or None
    with console.warehouse.cursor() as r:
        items = open_queue(console.settings, limit=REVIEW_PAGE_ITEMS, reason=reason, conn=r.cur)
        total = queries.review_queue_size(r, reason)
    taxonomy = load_taxonomy(console.settings.label_taxonomy_path)
    return console.render(
        "review.html",
        status,
        page="review",
        items=items,
        total=total,
        reason=reason,
        reasons=REVIEW_REASONS,
        categories=taxonomy.names,
        severities=SEVERITIES,
        sentiments=SENTIMENTS,
        actions=ACTIONS,
        message=message or request.query_params.get("done"),
        error=error,
        reviewer=request.cookies.get("reviewer", ""),
    )


async def review_submit(request: Request) -> Response:
    """Accept or correct one item: the same ReviewDecision and store as ``feedbackloop review``."""
    from feedbackloop.label.review import CORRECTABLE, ReviewDecision, latest_labels, record_reviews
    from feedbackloop.label.taxonomy import load_taxonomy

    console: Console = request.app.state.console
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return await run_in_threadpool(review_page, request, None, "the form is too large", 413)
    form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    if not secrets.compare_digest(form.get("csrf", ""), console.csrf_token):
        return await run_in_threadpool(
            review_page, request, None, "the form expired (the console restarted): reload the page", 403
        )
    doc_id = request.path_params["doc_id"]
    action = form.get("action", "")
    changes: dict[str, str | None] = {}
    if action == "correct":
        # The form shows every field pre-filled with the proposal; only what the reviewer changed is a correction.
        before = (await run_in_threadpool(latest_labels, console.settings, [doc_id])).get(doc_id, {})
        changes = {n: form.get(n) or None for n in CORRECTABLE if form.get(n) and form.get(n) != before.get(n)}
        if before and not changes:
            return await run_in_threadpool(
                review_page, request, None, f"review of doc {doc_id}: nothing was changed; use Accept instead", 400
            )
    decision = ReviewDecision(
        doc_id=doc_id,
        reviewer=form.get("reviewer", ""),
        action=action,
        changes=changes,
        note=form.get("note") or None,
        source="console",
    )
    settings = console.settings
    taxonomy = load_taxonomy(settings.label_taxonomy_path)
    _, errors = await run_in_threadpool(record_reviews, settings, taxonomy, [decision])
    if errors:
        return await run_in_threadpool(review_page, request, None, "; ".join(errors), 400)
    done = f"{'accepted' if action == 'accept' else 'corrected'} {doc_id}"
    response = RedirectResponse("/review?" + urlencode({"done": done}), status_code=303)
    response.set_cookie("reviewer", decision.reviewer.strip()[:100], httponly=True, samesite="strict")
    return response


def health(request: Request) -> Response:
    console: Console = request.app.state.console
    with console.warehouse.cursor() as r:
        return JSONResponse({"status": "ok", "feedback": queries.feedback_count(r)})


CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"


class SecurityHeaders:
    """Defence in depth behind autoescaping: no script may run on a console page at all.

    The served Evidently report (``/drift/<id>``) is the exception: it is the drift stage's own
    self-contained HTML and needs its inline scripts.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        strict = not scope["path"].startswith("/drift/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if strict:
                    headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: Settings, warm: bool = True) -> Starlette:
    console = Console(settings, warm=warm)
    app = Starlette(
        middleware=[Middleware(SecurityHeaders)],
        routes=[
            Route("/", overview),
            Route("/incidents", incident_list),
            Route("/incidents/{incident_id}", incident_page),
            Route("/actions", action_list),
            Route("/review", review_page),
            Route("/review/{doc_id}", review_submit, methods=["POST"]),
            Route("/search", search_page),
            Route("/api/search", search_api),
            Route("/drift", drift_page),
            Route("/drift/latest", drift_latest),
            Route("/drift/{report_id}", drift_report_file),
            Route("/health", health),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
    )
    app.state.console = console

    return app


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
