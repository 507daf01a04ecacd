"""initial schema (as made by the first gateway version)

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cpos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("party_id", sa.String(length=3), nullable=False),
        sa.Column("name_prefix", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("mapping_profile", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("ttl_seconds", sa.Integer(), nullable=True),
        sa.Column("n_locations", sa.Integer(), nullable=False),
        sa.Column("n_chargers", sa.Integer(), nullable=False),
        sa.Column("n_evses", sa.Integer(), nullable=False),
        sa.Column("n_connectors", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("cpos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cpos_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_cpos_status"), ["status"], unique=False)

    op.create_table(
        "locations",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ocpi_id", sa.String(length=36), nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=4), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("postal_code", sa.String(), nullable=True),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("time_zone", sa.String(), nullable=False),
        sa.Column("owner_name", sa.String(), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("ocpi_id"),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_locations_cpo_id"), ["cpo_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_locations_last_updated"), ["last_updated"], unique=False
        )

    op.create_table(
        "ocpi_credentials",
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("token_a", sa.String(length=64), nullable=True),
        sa.Column("token_c", sa.String(length=64), nullable=True),
        sa.Column("peer_token_b", sa.String(length=64), nullable=True),
        sa.Column("peer_url", sa.String(), nullable=True),
        sa.Column("peer_roles", sa.JSON(), nullable=True),
        sa.Column("registered_at", sa.DateTime(), nullable=True),
        sa.Column("peer_check_ok", sa.Boolean(), nullable=True),
        sa.Column("peer_check_at", sa.DateTime(), nullable=True),
        sa.Column("peer_check_detail", sa.String(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("cpo_id"),
    )
    op.create_table(
        "ocpp_connection_events",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("ocpp_connection_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ocpp_connection_events_cpo_id"), ["cpo_id"], unique=False
        )

    op.create_table(
        "ocpp_message_counts",
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("cpo_id", "action"),
    )
    op.create_table(
        "chargers",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("location_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("ocpp_version", sa.String(length=8), nullable=False),
        sa.Column("connector_type", sa.String(), nullable=False),
        sa.Column("vendor", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("station_status", sa.String(), nullable=True),
        sa.Column("firmware_version", sa.String(), nullable=True),
        sa.Column("connected_at", sa.DateTime(), nullable=True),
        sa.Column("last_boot_at", sa.DateTime(), nullable=True),
        sa.Column("last_heartbeat_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.ForeignKeyConstraint(
            ["location_pk"],
            ["locations.pk"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("identity"),
    )
    with op.batch_alter_table("chargers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chargers_cpo_id"), ["cpo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chargers_location_pk"), ["location_pk"], unique=False)

    op.create_table(
        "evses",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("location_pk", sa.Integer(), nullable=False),
        sa.Column("charger_pk", sa.Integer(), nullable=False),
        sa.Column("ocpp_number", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.String(length=48), nullable=False),
        sa.Column("ocpp_status", sa.String(), nullable=True),
        sa.Column("ocpp_status_at", sa.DateTime(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("ocpi_status", sa.String(length=16), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.Column("standard", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("power_type", sa.String(), nullable=False),
        sa.Column("max_voltage", sa.Integer(), nullable=False),
        sa.Column("max_amperage", sa.Integer(), nullable=False),
        sa.Column("max_electric_power", sa.Integer(), nullable=False),
        sa.Column("connector_last_updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_pk"],
            ["chargers.pk"],
        ),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.ForeignKeyConstraint(
            ["location_pk"],
            ["locations.pk"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("charger_pk", "ocpp_number"),
        sa.UniqueConstraint("uid"),
    )
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evses_charger_pk"), ["charger_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_evses_cpo_id"), ["cpo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evses_location_pk"), ["location_pk"], unique=False)

    op.create_table(
        "ocpp_transactions",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("charger_pk", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(), nullable=False),
        sa.Column("ocpp_number", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("id_token", sa.String(), nullable=True),
        sa.Column("meter_start_wh", sa.Double(), nullable=True),
        sa.Column("meter_stop_wh", sa.Double(), nullable=True),
        sa.Column("last_meter_wh", sa.Double(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stop_reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["charger_pk"],
            ["chargers.pk"],
        ),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("charger_pk", "transaction_id"),
    )
    with op.batch_alter_table("ocpp_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocpp_transactions_cpo_id"), ["cpo_id"], unique=False)

    op.create_table(
        "topologies",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("location_pk", sa.Integer(), nullable=False),
        sa.Column("charger_pk", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(), nullable=False),
        sa.Column("evse_uid", sa.String(length=36), nullable=True),
        sa.Column("ocpp_number", sa.Integer(), nullable=True),
        sa.Column("is_default_for_location", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_pk"],
            ["chargers.pk"],
        ),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.ForeignKeyConstraint(
            ["location_pk"],
            ["locations.pk"],
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("evse_uid"),
    )
    with op.batch_alter_table("topologies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topologies_cpo_id"), ["cpo_id"], unique=False)

    op.create_table(
        "evse_status_history",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("evse_pk", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ocpp_status", sa.String(), nullable=True),
        sa.Column("ocpi_status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.ForeignKeyConstraint(
            ["evse_pk"],
            ["evses.pk"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("evse_status_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evse_status_history_cpo_id"), ["cpo_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evse_status_history_evse_pk"), ["evse_pk"], unique=False
        )

    op.create_table(
        "ocpp_meter_values",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("charger_pk", sa.Integer(), nullable=False),
        sa.Column("ocpp_number", sa.Integer(), nullable=True),
        sa.Column("transaction_pk", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("sampled_values", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_pk"],
            ["chargers.pk"],
        ),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transaction_pk"],
            ["ocpp_transactions.pk"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("ocpp_meter_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocpp_meter_values_cpo_id"), ["cpo_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ocpp_meter_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocpp_meter_values_cpo_id"))

    op.drop_table("ocpp_meter_values")
    with op.batch_alter_table("evse_status_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evse_status_history_evse_pk"))
        batch_op.drop_index(batch_op.f("ix_evse_status_history_cpo_id"))

    op.drop_table("evse_status_history")
    with op.batch_alter_table("topologies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topologies_cpo_id"))

    op.drop_table("topologies")
    with op.batch_alter_table("ocpp_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocpp_transactions_cpo_id"))

    op.drop_table("ocpp_transactions")
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evses_location_pk"))
        batch_op.drop_index(batch_op.f("ix_evses_cpo_id"))
        batch_op.drop_index(batch_op.f("ix_evses_charger_pk"))

    op.drop_table("evses")
    with op.batch_alter_table("chargers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chargers_location_pk"))
        batch_op.drop_index(batch_op.f("ix_chargers_cpo_id"))

    op.drop_table("chargers")
    op.drop_table("ocpp_message_counts")
    with op.batch_alter_table("ocpp_connection_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocpp_connection_events_cpo_id"))

    op.drop_table("ocpp_connection_events")
    op.drop_table("ocpi_credentials")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_last_updated"))
        batch_op.drop_index(batch_op.f("ix_locations_cpo_id"))

    op.drop_table("locations")
    with op.batch_alter_table("cpos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cpos_status"))
        batch_op.drop_index(batch_op.f("ix_cpos_expires_at"))

    op.drop_table("cpos")
