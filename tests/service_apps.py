"""Each service's app as its process builds it (not started: nothing connects), for tests of what the apps declare."""

from __future__ import annotations

import importlib

from aiohttp import web

# The services that keep figures and consume events (the portal and the gateway do neither).
SERVICES = ("identity", "registration", "contracts", "updates", "notifications", "support")


def service_app(service: str) -> web.Application:
    """`services.<service>.app.create_app` with the service's settings as the environment gives them."""
    module = importlib.import_module(f"services.{service}.app")
    settings = next(
        getattr(module, name) for name in dir(module) if name.endswith("Settings") and name != "BaseServiceSettings"
    )
    app: web.Application = module.create_app(settings())
    return app
