"""Disposal ledgers (处置台账): entries (versioned, one open per parcel and category) and
progress reports (append-only)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 16:00:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_APPEND_ONLY = {'disposal_reports': '处置台账进展报告只能追加，不能修改或删除'}


def upgrade() -> None:
    op.create_table('disposal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('area_mu', sa.Float(), nullable=False),
    sa.Column('cause', sa.Text(), nullable=True),
    sa.Column('measure', sa.String(length=30), nullable=True),
    sa.Column('plan', sa.Text(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('units', sa.JSON(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('source_result_id', sa.Integer(), nullable=True),
    sa.Column('source_note', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('closing_note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_disposal_entries_parcel_id_parcels')),
    sa.ForeignKeyConstraint(['source_run_id'], ['evaluation_runs.id'],
                            name=op.f('fk_disposal_entries_source_run_id_evaluation_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposal_entries'))
    )
    op.create_index('ix_disposal_entries_parcel_id', 'disposal_entries', ['parcel_id'], unique=False)
    op.create_index('ix_disposal_entries_category_status', 'disposal_entries', ['category', 'status'], unique=False)
    op.create_index('uq_disposal_entries_open', 'disposal_entries', ['parcel_id', 'category'], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_table('disposal_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=True),
    sa.Column('reported_by', sa.String(length=100), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['disposal_entries.id'],
                            name=op.f('fk_disposal_reports_entry_id_disposal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposal_reports'))
    )
    op.create_index('ix_disposal_reports_entry', 'disposal_reports', ['entry_id', 'id'], unique=False)
    for table, message in _APPEND_ONLY.items():
        create_append_only(op, table, message)


def downgrade() -> None:
    for table in _APPEND_ONLY:
        drop_append_only(op, table)
    op.drop_index('ix_disposal_reports_entry', table_name='disposal_reports')
    op.drop_table('disposal_reports')
    op.drop_index('uq_disposal_entries_open', table_name='disposal_entries')
    op.drop_index('ix_disposal_entries_category_status', table_name='disposal_entries')
    op.drop_index('ix_disposal_entries_parcel_id', table_name='disposal_entries')
    op.drop_table('disposal_entries')
