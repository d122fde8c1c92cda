from services.registration.app import MIGRATIONS, SCHEMA, RegistrationSettings, create_app
from shared.service_main import run_service

settings = RegistrationSettings()
run_service(
    name="registration",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
