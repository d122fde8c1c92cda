from services.updates.app import MIGRATIONS, SCHEMA, UpdatesSettings, create_app
from shared.service_main import run_service

settings = UpdatesSettings()
run_service(
    name="updates",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
