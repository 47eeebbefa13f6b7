"""Reflex configuration, read from the same settings as every other Flowbot process."""

import reflex as rx
from reflex.plugins import SitemapPlugin

from engine.api.origins import allowed_origins
from engine.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="flowbot_ui",
    # Production mode serves the UI, its backend and the REST API on one port.
    frontend_port=_settings.port,
    backend_port=_settings.port,
    backend_host=_settings.host,
    api_url=_settings.effective_public_url,
    redis_url=_settings.redis_url,
    # The websocket (and Reflex's CORS) answer only pages of the public URL's origin.
    cors_allowed_origins=allowed_origins(),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
)
