"""分割转让 applications, pieces and parcel lineage (lineage append-only)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 12:00:00
"""
import sqlalchemy as sa
from alembic import op

import landcycle.storage.spatial
from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_MESSAGE = '宗地分割来源记录只能追加，不能修改或删除'


def upgrade() -> None:
    op.create_table('split_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('applicant_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('declared_price_wan', sa.Float(), nullable=False),
    sa.Column('market_price_wan', sa.Float(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('includes_public_facilities', sa.Boolean(), nullable=False),
    sa.Column('breaks_planning_or_safety', sa.Boolean(), nullable=False),
    sa.Column('other_legal_bar', sa.Boolean(), nullable=False),
    sa.Column('co_owned', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('verdict', sa.JSON(), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decision_verdict', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_split_applications_parcel_id_parcels')),
    sa.ForeignKeyConstraint(['applicant_enterprise_id'], ['enterprises.id'],
                            name=op.f('fk_split_applications_applicant_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_split_applications'))
    )
    op.create_index('ix_split_applications_parcel_status', 'split_applications', ['parcel_id', 'status'])
    op.create_index(op.f('ix_split_applications_applicant_enterprise_id'), 'split_applications',
                    ['applicant_enterprise_id'])
    op.create_table('split_pieces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('geometry', landcycle.storage.spatial.GeometryColumn(), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('area_mu', sa.Float(), nullable=False),
    sa.Column('transferee_name', sa.String(length=200), nullable=True),
    sa.Column('transferee_credit_code', sa.String(length=18), nullable=True),
    sa.Column('child_parcel_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['split_applications.id'],
                            name=op.f('fk_split_pieces_application_id_split_applications')),
    sa.ForeignKeyConstraint(['child_parcel_id'], ['parcels.id'], name=op.f('fk_split_pieces_child_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_split_pieces')),
    sa.UniqueConstraint('application_id', 'seq', name=op.f('uq_split_pieces_application_id'))
    )
    op.create_index(op.f('ix_split_pieces_application_id'), 'split_pieces', ['application_id'])
    op.create_table('parcel_lineage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_parcel_id', sa.Integer(), nullable=False),
    sa.Column('child_parcel_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('piece_id', sa.Integer(), nullable=False),
    sa.Column('term_end_date', sa.Date(), nullable=True),
    sa.Column('remaining_term_years', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_parcel_id'], ['parcels.id'], name=op.f('fk_parcel_lineage_parent_parcel_id_parcels')),
    sa.ForeignKeyConstraint(['child_parcel_id'], ['parcels.id'], name=op.f('fk_parcel_lineage_child_parcel_id_parcels')),
    sa.ForeignKeyConstraint(['application_id'], ['split_applications.id'],
                            name=op.f('fk_parcel_lineage_application_id_split_applications')),
    sa.ForeignKeyConstraint(['piece_id'], ['split_pieces.id'], name=op.f('fk_parcel_lineage_piece_id_split_pieces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel_lineage')),
    sa.UniqueConstraint('child_parcel_id', name=op.f('uq_parcel_lineage_child_parcel_id'))
    )
    op.create_index('ix_parcel_lineage_parent', 'parcel_lineage', ['parent_parcel_id'])
    # Append-only, like the change log (0001) and the lifecycle transitions (0009).
    create_append_only(op, 'parcel_lineage', _MESSAGE)


def downgrade() -> None:
    drop_append_only(op, 'parcel_lineage')
    op.drop_index('ix_parcel_lineage_parent', table_name='parcel_lineage')
    op.drop_table('parcel_lineage')
    op.drop_index(op.f('ix_split_pieces_application_id'), table_name='split_pieces')
    op.drop_table('split_pieces')
    op.drop_index(op.f('ix_split_applications_applicant_enterprise_id'), table_name='split_applications')
    op.drop_index('ix_split_applications_parcel_status', table_name='split_applications')
    op.drop_table('split_applications')
