"""挂牌督办 cases and progress notes; 低效用地再开发监管协议, rewards, assessments and claw-backs
(issue 8 item 2)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 16:00:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_APPEND_ONLY = {
    'oversight_progress': '挂牌督办进展记录只能追加，不能修改或删除',
    'redevelopment_rewards': '再开发监管协议的优惠记录只能追加，不能修改或删除',
    'redevelopment_assessments': '再开发监管协议的核查记录只能追加，不能修改或删除',
}


def upgrade() -> None:
    op.create_table('oversight_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('listed_by_unit', sa.String(length=200), nullable=False),
    sa.Column('document_no', sa.String(length=100), nullable=True),
    sa.Column('listed_on', sa.Date(), nullable=False),
    sa.Column('state_at_listing', sa.String(length=30), nullable=False),
    sa.Column('counts_toward_requirement', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requirement', sa.Text(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('units', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('lifted_on', sa.Date(), nullable=True),
    sa.Column('lift_result', sa.Text(), nullable=True),
    sa.Column('lifted_by', sa.String(length=100), nullable=True),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['jurisdictions.id'], name=op.f('fk_oversight_cases_county_id_jurisdictions')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_oversight_cases_parcel_id_parcels')),
    sa.ForeignKeyConstraint(['zone_id'], ['jurisdictions.id'], name=op.f('fk_oversight_cases_zone_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_cases'))
    )
    op.create_index(op.f('ix_oversight_cases_parcel_id'), 'oversight_cases', ['parcel_id'], unique=False)
    op.create_index('ix_oversight_cases_zone', 'oversight_cases', ['zone_id', 'listed_on'], unique=False)
    op.create_index('uq_oversight_cases_open_parcel', 'oversight_cases', ['parcel_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_table('redevelopment_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_no', sa.String(length=100), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('check_date', sa.Date(), nullable=False),
    sa.Column('tax_year', sa.Integer(), nullable=False),
    sa.Column('target_investment_intensity_wan_per_mu', sa.Float(), nullable=True),
    sa.Column('target_tax_per_mu_wan', sa.Float(), nullable=True),
    sa.Column('target_plot_ratio', sa.Float(), nullable=True),
    sa.Column('target_completion_date', sa.Date(), nullable=True),
    sa.Column('exit_terms', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_redevelopment_agreements_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_redevelopment_agreements_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redevelopment_agreements')),
    sa.UniqueConstraint('agreement_no', name=op.f('uq_redevelopment_agreements_agreement_no'))
    )
    op.create_index(op.f('ix_redevelopment_agreements_enterprise_id'), 'redevelopment_agreements', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_redevelopment_agreements_parcel_id'), 'redevelopment_agreements', ['parcel_id'], unique=False)
    op.create_table('oversight_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['oversight_cases.id'], name=op.f('fk_oversight_progress_case_id_oversight_cases')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_oversight_progress_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_progress'))
    )
    op.create_index(op.f('ix_oversight_progress_case_id'), 'oversight_progress', ['case_id'], unique=False)
    op.create_table('redevelopment_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('actual', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['redevelopment_agreements.id'], name=op.f('fk_redevelopment_assessments_agreement_id_redevelopment_agreements')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_redevelopment_assessments_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redevelopment_assessments')),
    sa.UniqueConstraint('agreement_id', name=op.f('uq_redevelopment_assessments_agreement_id'))
    )
    op.create_table('redevelopment_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('amount_wan', sa.Float(), nullable=False),
    sa.Column('granted_on', sa.Date(), nullable=False),
    sa.Column('document_no', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['agreement_id'], ['redevelopment_agreements.id'], name=op.f('fk_redevelopment_rewards_agreement_id_redevelopment_agreements')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_redevelopment_rewards_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redevelopment_rewards'))
    )
    op.create_index(op.f('ix_redevelopment_rewards_agreement_id'), 'redevelopment_rewards', ['agreement_id'], unique=False)
    op.create_table('redevelopment_clawbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('granted_wan', sa.Float(), nullable=False),
    sa.Column('amount_wan', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('settled_on', sa.Date(), nullable=True),
    sa.Column('recovered_wan', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['redevelopment_agreements.id'], name=op.f('fk_redevelopment_clawbacks_agreement_id_redevelopment_agreements')),
    sa.ForeignKeyConstraint(['assessment_id'], ['redevelopment_assessments.id'], name=op.f('fk_redevelopment_clawbacks_assessment_id_redevelopment_assessments')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_redevelopment_clawbacks_parcel_id_parcels')),
    sa.ForeignKeyConstraint(['reward_id'], ['redevelopment_rewards.id'], name=op.f('fk_redevelopment_clawbacks_reward_id_redevelopment_rewards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redevelopment_clawbacks')),
    sa.UniqueConstraint('reward_id', name=op.f('uq_redevelopment_clawbacks_reward_id'))
    )
    op.create_index(op.f('ix_redevelopment_clawbacks_agreement_id'), 'redevelopment_clawbacks', ['agreement_id'], unique=False)
    op.create_index(op.f('ix_redevelopment_clawbacks_assessment_id'), 'redevelopment_clawbacks', ['assessment_id'], unique=False)

    for table, message in _APPEND_ONLY.items():
        create_append_only(op, table, message)


def downgrade() -> None:
    for table in _APPEND_ONLY:
        drop_append_only(op, table)
    op.drop_index(op.f('ix_redevelopment_clawbacks_assessment_id'), table_name='redevelopment_clawbacks')
    op.drop_index(op.f('ix_redevelopment_clawbacks_agreement_id'), table_name='redevelopment_clawbacks')
    op.drop_table('redevelopment_clawbacks')
    op.drop_index(op.f('ix_redevelopment_rewards_agreement_id'), table_name='redevelopment_rewards')
    op.drop_table('redevelopment_rewards')
    op.drop_table('redevelopment_assessments')
    op.drop_index(op.f('ix_oversight_progress_case_id'), table_name='oversight_progress')
    op.drop_table('oversight_progress')
    op.drop_index(op.f('ix_redevelopment_agreements_parcel_id'), table_name='redevelopment_agreements')
    op.drop_index(op.f('ix_redevelopment_agreements_enterprise_id'), table_name='redevelopment_agreements')
    op.drop_table('redevelopment_agreements')
    op.drop_index('uq_oversight_cases_open_parcel', table_name='oversight_cases', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_oversight_cases_zone', table_name='oversight_cases')
    op.drop_index(op.f('ix_oversight_cases_parcel_id'), table_name='oversight_cases')
    op.drop_table('oversight_cases')
