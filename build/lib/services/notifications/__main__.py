from services.notifications.app import MIGRATIONS, SCHEMA, NotificationsSettings, create_app
from shared.service_main import run_service

settings = NotificationsSettings()
run_service(
    name="notifications",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
