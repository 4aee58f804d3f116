from services.webhooks.db.tables import metadata
from shared.migrations import run_migrations_online

run_migrations_online(metadata)
