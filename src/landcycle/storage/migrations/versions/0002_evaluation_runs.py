"""evaluation runs: evaluation_runs, parcel_evaluations, enterprise_evaluations

The annual evaluation (`landcycle evaluate --year Y`) stores each run with its rulebook snapshot
and inputs fingerprint, and wide result rows (one per parcel / enterprise) versioned for 公示
(result_version, supersedes_id). See landcycle.storage.evaluation_schema.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:00:56.720057
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evaluation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('rulebook_version', sa.String(length=100), nullable=False),
    sa.Column('rulebook_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('rulebook_settings', sa.JSON(), nullable=False),
    sa.Column('method_version', sa.String(length=20), nullable=False),
    sa.Column('inputs_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('parcels', sa.Integer(), nullable=False),
    sa.Column('enterprises', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_runs'))
    )
    with op.batch_alter_table('evaluation_runs', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_runs_year', ['year'], unique=False)

    op.create_table('enterprise_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('result_version', sa.Integer(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('above_scale', sa.Boolean(), nullable=False),
    sa.Column('land_area_mu', sa.Float(), nullable=False),
    sa.Column('tax_total_wan', sa.Float(), nullable=True),
    sa.Column('tax_per_mu_wan', sa.Float(), nullable=True),
    sa.Column('output_per_mu_wan', sa.Float(), nullable=True),
    sa.Column('production_years', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('not_evaluated_reason', sa.Text(), nullable=True),
    sa.Column('managed_as', sa.String(length=2), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('result_class', sa.String(length=2), nullable=True),
    sa.Column('missing_items', sa.Integer(), nullable=False),
    sa.Column('item_tax_per_mu', sa.Float(), nullable=True),
    sa.Column('item_value_added_per_mu', sa.Float(), nullable=True),
    sa.Column('item_value_added_per_energy', sa.Float(), nullable=True),
    sa.Column('item_value_added_per_emission', sa.Float(), nullable=True),
    sa.Column('item_labour_productivity', sa.Float(), nullable=True),
    sa.Column('item_rd_intensity', sa.Float(), nullable=True),
    sa.Column('item_tax_per_energy', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_enterprise_evaluations_run_id_evaluation_runs')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['enterprise_evaluations.id'], name=op.f('fk_enterprise_evaluations_supersedes_id_enterprise_evaluations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_evaluations')),
    sa.UniqueConstraint('run_id', 'enterprise_id', 'result_version', name='uq_enterprise_evaluations_version')
    )
    with op.batch_alter_table('enterprise_evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_enterprise_evaluations_enterprise', ['enterprise_id'], unique=False)

    op.create_table('parcel_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('result_version', sa.Integer(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('area_mu', sa.Float(), nullable=False),
    sa.Column('tax_total_wan', sa.Float(), nullable=True),
    sa.Column('output_total_wan', sa.Float(), nullable=True),
    sa.Column('tax_per_mu_wan', sa.Float(), nullable=True),
    sa.Column('output_per_mu_wan', sa.Float(), nullable=True),
    sa.Column('tenants', sa.Integer(), nullable=False),
    sa.Column('standard_factory', sa.Boolean(), nullable=False),
    sa.Column('owner_enterprise_id', sa.Integer(), nullable=True),
    sa.Column('owner_class', sa.String(length=2), nullable=True),
    sa.Column('idle_outcome', sa.String(length=20), nullable=False),
    sa.Column('idle_since', sa.Date(), nullable=True),
    sa.Column('idle_years', sa.Integer(), nullable=True),
    sa.Column('idle_fee_wan', sa.Float(), nullable=True),
    sa.Column('low_efficiency_mask', sa.Integer(), nullable=False),
    sa.Column('below_contract_mask', sa.Integer(), nullable=False),
    sa.Column('unchecked_mask', sa.Integer(), nullable=False),
    sa.Column('years_without_profit', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_parcel_evaluations_run_id_evaluation_runs')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['parcel_evaluations.id'], name=op.f('fk_parcel_evaluations_supersedes_id_parcel_evaluations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel_evaluations')),
    sa.UniqueConstraint('run_id', 'parcel_id', 'result_version', name='uq_parcel_evaluations_version')
    )
    with op.batch_alter_table('parcel_evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_parcel_evaluations_parcel', ['parcel_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('parcel_evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_parcel_evaluations_parcel')

    op.drop_table('parcel_evaluations')
    with op.batch_alter_table('enterprise_evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_evaluations_enterprise')

    op.drop_table('enterprise_evaluations')
    with op.batch_alter_table('evaluation_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluation_runs_year')

    op.drop_table('evaluation_runs')
