"""Lifecycle transitions (parcel_transitions), append-only

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 20:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_MESSAGE = '生命周期流转记录只能追加，不能修改或删除'
_SQLITE = """
CREATE TRIGGER parcel_transitions_no_{op} BEFORE {OP} ON parcel_transitions
BEGIN SELECT RAISE(ABORT, '""" + _MESSAGE + """'); END
"""
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION parcel_transitions_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '""" + _MESSAGE + """';
END $$ LANGUAGE plpgsql
"""


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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER parcel_transitions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   "ON parcel_transitions FOR EACH STATEMENT EXECUTE FUNCTION parcel_transitions_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(_SQLITE.format(op=verb, OP=verb.upper()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS parcel_transitions_append_only ON parcel_transitions")
        op.execute("DROP FUNCTION IF EXISTS parcel_transitions_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS parcel_transitions_no_{verb}")
    op.drop_index('ix_parcel_transitions_parcel_at', table_name='parcel_transitions')
    op.drop_table('parcel_transitions')
