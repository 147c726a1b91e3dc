"""``/healthz`` and ``/metrics`` for ops: source states and counts, never message content.

``health_routes(metrics)`` returns Starlette routes the console app mounts through
``create_app(..., extra_routes=...)``; the daemon serves them on the console's port.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.metrics import Metrics


def health_routes(metrics: Metrics) -> list[BaseRoute]:
    """Routes for ``GET /healthz`` (JSON, 200 or 503) and ``GET /metrics`` (Prometheus text)."""

    async def healthz(request: Request) -> Response:
        sources = [
            {"source": s.source, "mailbox": s.mailbox, "state": s.state, "lag": s.lag,
             "processed": s.processed, "failed": s.failed}
            for s in metrics.sources()
        ]
        ok = metrics.healthy()
        return JSONResponse({"status": "ok" if ok else "degraded", "sources": sources}, status_code=200 if ok else 503)

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics_text, methods=["GET"])]
