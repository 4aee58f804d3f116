"""Wiring of the policy service: `python -m services.policy.main` serves its internal API.

The process loads the policyengine-us parameter tree once, in a background thread
started with the app; `/readyz` says "not ready" and creating a policy answers 503
until it is loaded.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.policy.api import metadata as metadata_routes
from services.policy.api import policyengine_v1
from services.policy.api.routes import router
from services.policy.db.tables import metadata
from services.policy.domain.metadata import WarmCatalog
from services.policy.domain.parameters import WarmParameterTree
from shared.service import ServiceProcess, create_service_app, serve
from shared.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, *, parameter_tree: WarmParameterTree | None = None
) -> FastAPI:
    """The policy API. Pass `parameter_tree` to share one loaded tree between apps (tests)."""
    settings = settings or get_settings()
    process = ServiceProcess("policy", settings, metadata)
    warm = parameter_tree or WarmParameterTree()
    process.readiness_checks.append(("parameters", warm.check))
    # Parameter and variable metadata, indexed once the tree is loaded.
    catalog = WarmCatalog.for_tree(warm)
    process.readiness_checks.append(("metadata", catalog.check))

    async def start_loading() -> None:
        warm.start()
        catalog.start()

    app = create_service_app(
        process,
        [router, metadata_routes.router, policyengine_v1.router],
        title="Fiscus policy service",
        description="Reforms in PolicyEngine's format, validated against policyengine-us.",
        on_start=[start_loading],
    )
    app.state.parameter_tree = warm
    app.state.metadata_catalog = catalog
    return app


def main() -> None:
    settings = get_settings()
    serve(lambda: create_app(settings), "policy", settings.policy_port, settings)


if __name__ == "__main__":
    main()
