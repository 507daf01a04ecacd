"""Alembic environment of the gateway: runs on the connection :func:`..db.alembic_config` gives.

The gateway drives Alembic programmatically (``Database.migrate``), always with an open
connection, so there is no offline (SQL script) mode and no URL in a config file.
"""

from __future__ import annotations

from alembic import context

from ocpplab_sim.gateway.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("gateway migrations run only through Database.migrate()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables where needed.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
