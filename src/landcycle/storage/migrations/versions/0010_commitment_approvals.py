"""Commitment-based approvals (approval_cases, approval_events append-only)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_MESSAGE = '审批事项记录只能追加，不能修改或删除'


def upgrade() -> None:
    op.create_table('approval_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('track', sa.String(length=30), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('project', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_approval_cases_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_approval_cases_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_cases'))
    )
    op.create_index('ix_approval_cases_parcel', 'approval_cases', ['parcel_id'], unique=False)
    op.create_index('ix_approval_cases_state', 'approval_cases', ['state'], unique=False)
    op.create_table('approval_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=30), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_after', sa.String(length=20), nullable=False),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['approval_cases.id'], name=op.f('fk_approval_events_case_id_approval_cases')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_approval_events_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_events'))
    )
    op.create_index('ix_approval_events_case', 'approval_events', ['case_id', 'id'], unique=False)
    # Append-only, like parcel_transitions (migration 0009).
    create_append_only(op, 'approval_events', _MESSAGE)


def downgrade() -> None:
    drop_append_only(op, 'approval_events')
    op.drop_index('ix_approval_events_case', table_name='approval_events')
    op.drop_table('approval_events')
    op.drop_index('ix_approval_cases_state', table_name='approval_cases')
    op.drop_index('ix_approval_cases_parcel', table_name='approval_cases')
    op.drop_table('approval_cases')
