"""标准地 supply: regional_assessments (append-only) and standard_land_plans

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:00:00
"""
import sqlalchemy as sa
from alembic import op

import landcycle.storage.spatial
from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_MESSAGE = '区域评估成果记录只能追加，不能修改或删除'


def upgrade() -> None:
    op.create_table('regional_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('agency', sa.String(length=200), nullable=False),
    sa.Column('completed_date', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('geometry', landcycle.storage.spatial.GeometryColumn(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['jurisdictions.id'], name=op.f('fk_regional_assessments_zone_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regional_assessments'))
    )
    op.create_index('ix_regional_assessments_zone_item', 'regional_assessments', ['zone_id', 'item'], unique=False)
    op.create_table('standard_land_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('review', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('approval_number', sa.String(length=100), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_standard_land_plans_parcel_id_parcels')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_land_plans'))
    )
    op.create_index('ix_standard_land_plans_parcel', 'standard_land_plans', ['parcel_id'], unique=False)
    create_append_only(op, 'regional_assessments', _MESSAGE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_regional_assessments_geometry ON regional_assessments USING GIST (geometry)")


def downgrade() -> None:
    drop_append_only(op, 'regional_assessments')
    op.drop_index('ix_standard_land_plans_parcel', table_name='standard_land_plans')
    op.drop_table('standard_land_plans')
    op.drop_index('ix_regional_assessments_zone_item', table_name='regional_assessments')
    op.drop_table('regional_assessments')
