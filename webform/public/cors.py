"""Cross-origin answers of the JSON API: only a form's allowed origins (and the app's own) may read them."""

from __future__ import annotations

import time
from collections.abc import Sequence

from flask import Response, g, make_response, request

from crm_store.capture import forms as webforms

from ..state import state

ORIGINS_TTL = 30.0  # seconds a form's allowed origins are remembered for answers refused before the view
ORIGINS_KEPT = 1000


def origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    """Whether `origin` is one of the allowed origins (`null` only when listed itself), or the app's own."""
    normal = webforms.normalise_origin(origin)
    own = webforms.normalise_origin(f"{request.scheme}://{request.host}".lower())
    return normal is not None and (normal in allowed or normal == own)


def preflight(origin: str | None, allowed: Sequence[str]) -> Response:
    """Answer a browser's preflight: 204, with CORS headers for an allowed origin only."""
    response = make_response("", 204)
    if origin and origin_allowed(origin, allowed):
        response.headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, X-Form-Key",
            "Access-Control-Max-Age": "600",
        })
    response.headers["Vary"] = "Origin"
    return response


def allow_origin(response: Response) -> Response:
    """Give every API answer (201, 422, and the 429/413 refused before the view) CORS for allowed origins."""
    if request.path.startswith("/api/") and "Access-Control-Allow-Origin" not in response.headers:
        origin = request.headers.get("Origin")
        origins = g.get("form_origins")
        if origins is None and origin and request.view_args:  # refused before the view ran (429, 413)
            origins = _origins_of(str(request.view_args.get("public_id", "")))
        if origins is not None and origin and origin_allowed(origin, origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        response.headers["Vary"] = "Origin"
    return response


def _origins_of(public_id: str) -> tuple[str, ...]:
    """A form's allowed origins, remembered briefly."""
    now = time.monotonic()
    cache = state().form_origins
    hit = cache.get(public_id)
    if hit is not None and now - hit[0] < ORIGINS_TTL:
        return hit[1]
    with state().readers() as session:
        form = webforms.live_form(session, public_id)
        origins = tuple(form.allowed_origins) if form is not None else ()
    if len(cache) > ORIGINS_KEPT:
        cache.clear()
    cache[public_id] = (now, origins)
    return origins
