"""import batches (标图入库)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=60), nullable=False),
    sa.Column('source_crs', sa.String(length=60), nullable=True),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('feature_count', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('updated_count', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches'))
    )
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batches_file_sha256'), ['file_sha256'], unique=False)
    op.create_table('import_batch_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('parcel_code', sa.String(length=19), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('version_after', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batches.id'], name=op.f('fk_import_batch_items_batch_id_import_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch_items'))
    )
    with op.batch_alter_table('import_batch_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batch_items_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_batch_items_parcel_id'), ['parcel_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_batch_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_items_parcel_id'))
        batch_op.drop_index(batch_op.f('ix_import_batch_items_batch_id'))
    op.drop_table('import_batch_items')
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batches_file_sha256'))
    op.drop_table('import_batches')
