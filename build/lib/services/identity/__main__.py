from services.identity.app import MIGRATIONS, SCHEMA, IdentitySettings, create_app
from shared.service_main import run_service

settings = IdentitySettings()
run_service(
    name="identity",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
