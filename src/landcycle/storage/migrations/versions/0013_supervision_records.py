"""Supervision records: acceptance inspections and idle notices (append-only), exit cases,
supply_contracts.building_disposal

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_APPEND_ONLY = {
    'acceptance_inspections': '验收记录只能追加，不能修改或删除',
    'idle_notices': '闲置土地处置记录只能追加，不能修改或删除',
}


def upgrade() -> None:
    op.create_table('acceptance_inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('measured', sa.JSON(), nullable=False),
    sa.Column('indicators', sa.JSON(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remark', sa.Text(), nullable=True),
    sa.Column('agreement_id', sa.Integer(), nullable=True),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_acceptance_inspections_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acceptance_inspections'))
    )
    op.create_index('ix_acceptance_inspections_parcel', 'acceptance_inspections', ['parcel_id', 'inspected_on'])
    op.create_table('idle_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('notice_date', sa.Date(), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.Column('point', sa.Date(), nullable=True),
    sa.Column('full_years', sa.Integer(), nullable=True),
    sa.Column('land_price_wan', sa.Float(), nullable=True),
    sa.Column('fee_rate', sa.Float(), nullable=True),
    sa.Column('amount_wan', sa.Float(), nullable=True),
    sa.Column('basis', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_idle_notices_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_notices'))
    )
    op.create_index('ix_idle_notices_parcel', 'idle_notices', ['parcel_id', 'notice_date'])
    op.create_table('exit_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('rescission_number', sa.String(length=100), nullable=False),
    sa.Column('rescission_approved_by', sa.String(length=100), nullable=False),
    sa.Column('rescission_date', sa.Date(), nullable=False),
    sa.Column('building_disposal', sa.String(length=30), nullable=False),
    sa.Column('auditor', sa.String(length=200), nullable=True),
    sa.Column('audit_date', sa.Date(), nullable=True),
    sa.Column('audited_cost_wan', sa.Float(), nullable=True),
    sa.Column('deductions_wan', sa.Float(), nullable=False),
    sa.Column('land_refund_wan', sa.Float(), nullable=False),
    sa.Column('building_value_wan', sa.Float(), nullable=True),
    sa.Column('buyback_price_wan', sa.Float(), nullable=True),
    sa.Column('computation', sa.JSON(), nullable=False),
    sa.Column('buyback_number', sa.String(length=100), nullable=True),
    sa.Column('buyback_date', sa.Date(), nullable=True),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['supply_contracts.id'], name=op.f('fk_exit_cases_contract_id_supply_contracts')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_exit_cases_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exit_cases')),
    sa.UniqueConstraint('contract_id', name='uq_exit_cases_contract_id')
    )
    op.create_index(op.f('ix_exit_cases_parcel_id'), 'exit_cases', ['parcel_id'])
    with op.batch_alter_table('supply_contracts') as batch:
        batch.add_column(sa.Column('building_disposal', sa.String(length=30), nullable=True))
    # Append-only, like the change log and parcel_transitions (0009).
    for table, message in _APPEND_ONLY.items():
        create_append_only(op, table, message)


def downgrade() -> None:
    for table in _APPEND_ONLY:
        drop_append_only(op, table)
    with op.batch_alter_table('supply_contracts') as batch:
        batch.drop_column('building_disposal')
    op.drop_index(op.f('ix_exit_cases_parcel_id'), table_name='exit_cases')
    op.drop_table('exit_cases')
    op.drop_index('ix_idle_notices_parcel', table_name='idle_notices')
    op.drop_table('idle_notices')
    op.drop_index('ix_acceptance_inspections_parcel', table_name='acceptance_inspections')
    op.drop_table('acceptance_inspections')
