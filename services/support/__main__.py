from services.support.app import MIGRATIONS, SCHEMA, SupportSettings, create_app
from shared.service_main import run_service

settings = SupportSettings()
run_service(
    name="support",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
