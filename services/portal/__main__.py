from services.portal.app import MIGRATIONS, SCHEMA, PortalSettings, create_app
from shared.service_main import run_service

settings = PortalSettings()
run_service(
    name="portal",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
