from services.contracts.app import MIGRATIONS, SCHEMA, ContractsSettings, create_app
from shared.service_main import run_service

settings = ContractsSettings()
run_service(
    name="contracts",
    schema=SCHEMA,
    migrations_dir=MIGRATIONS,
    settings=settings,
    create_app=lambda: create_app(settings),
)
