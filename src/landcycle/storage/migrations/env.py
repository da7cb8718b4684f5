"""Alembic environment: migrations run on a connection handed over by ``storage.db``."""

from alembic import context

from landcycle.storage.schema import Base
import landcycle.storage.evaluation_schema  # noqa: F401,E402  (registers the evaluation tables)
import landcycle.storage.publicity_schema  # noqa: F401,E402  (registers the 公示 tables)
import landcycle.storage.import_schema  # noqa: F401,E402  (registers the 标图入库 batch tables)
import landcycle.storage.account_schema  # noqa: F401,E402  (accounts, sessions, login attempts)
import landcycle.storage.supply_schema  # noqa: F401,E402  (年度可供土地清单 entries)

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used by `alembic revision` during development
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
