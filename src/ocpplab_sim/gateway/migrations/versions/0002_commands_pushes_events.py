"""command log, OCPI pushes, gateway events, security profiles, OCPI 2.1.1

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_events",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("gateway_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_events_cpo_id"), ["cpo_id"], unique=False)

    op.create_table(
        "ocpi_pushes",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.String(length=36), nullable=False),
        sa.Column("evse_uid", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("ocpi_status", sa.String(length=16), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("ocpi_status_code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("ocpi_pushes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocpi_pushes_cpo_id"), ["cpo_id"], unique=False)

    op.create_table(
        "ocpp_commands",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cpo_id"],
            ["cpos.id"],
        ),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("ocpp_commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocpp_commands_cpo_id"), ["cpo_id"], unique=False)

    with op.batch_alter_table("chargers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password", sa.String(length=64), nullable=True))

    with op.batch_alter_table("cpos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_params", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("ocpp_security_profile", sa.Integer(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "location_type", sa.String(length=32), server_default="UNKNOWN", nullable=False
            )
        )

    with op.batch_alter_table("ocpi_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ocpi_version", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("peer_locations_url", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ocpi_credentials", schema=None) as batch_op:
        batch_op.drop_column("peer_locations_url")
        batch_op.drop_column("ocpi_version")

    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_column("location_type")

    with op.batch_alter_table("cpos", schema=None) as batch_op:
        batch_op.drop_column("ocpp_security_profile")
        batch_op.drop_column("template_params")

    with op.batch_alter_table("chargers", schema=None) as batch_op:
        batch_op.drop_column("password")

    with op.batch_alter_table("ocpp_commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocpp_commands_cpo_id"))

    op.drop_table("ocpp_commands")
    with op.batch_alter_table("ocpi_pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocpi_pushes_cpo_id"))

    op.drop_table("ocpi_pushes")
    with op.batch_alter_table("gateway_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_events_cpo_id"))

    op.drop_table("gateway_events")
