"""Lifecycle transitions (parcel_transitions), append-only

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 20:45:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_MESSAGE = '生命周期流转记录只能追加，不能修改或删除'


def upgrade() -> None:
    op.create_table('parcel_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('transition', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=30), nullable=False),
    sa.Column('to_state', sa.String(length=30), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('parcel_version', sa.Integer(), nullable=False),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_parcel_transitions_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel_transitions'))
    )
    op.create_index('ix_parcel_transitions_parcel_at', 'parcel_transitions', ['parcel_id', 'at'], unique=False)
    # Append-only, like the change log (migration 0001).
    create_append_only(op, 'parcel_transitions', _MESSAGE)


def downgrade() -> None:
    drop_append_only(op, 'parcel_transitions')
    op.drop_index('ix_parcel_transitions_parcel_at', table_name='parcel_transitions')
    op.drop_table('parcel_transitions')
