"""增存挂钩 quota runs and allocations (append-only); 考评 rounds, submissions and scores
(submissions and scores append-only)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:00:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_APPEND_ONLY = {
    'quota_runs': '增存挂钩指标分配记录只能追加，不能修改或删除',
    'quota_allocations': '增存挂钩指标分配记录只能追加，不能修改或删除',
    'kaoping_submissions': '考评自评和评分记录只能追加，不能修改或删除',
    'kaoping_scores': '考评自评和评分记录只能追加，不能修改或删除',
}


def upgrade() -> None:
    op.create_table('quota_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('total_mu', sa.Float(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('rulebook_version', sa.String(length=60), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_runs'))
    )
    op.create_index('ix_quota_runs_year', 'quota_runs', ['year', 'id'], unique=False)
    op.create_table('quota_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('identified_mu', sa.Float(), nullable=False),
    sa.Column('revived_mu', sa.Float(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=True),
    sa.Column('kaoping', sa.Float(), nullable=True),
    sa.Column('participates', sa.Boolean(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('bound', sa.String(length=10), nullable=True),
    sa.Column('exact_mu', sa.Float(), nullable=False),
    sa.Column('allocated_mu', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['quota_runs.id'], name=op.f('fk_quota_allocations_run_id_quota_runs')),
    sa.ForeignKeyConstraint(['county_id'], ['jurisdictions.id'],
                            name=op.f('fk_quota_allocations_county_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_allocations')),
    sa.UniqueConstraint('run_id', 'county_id', name=op.f('uq_quota_allocations_run_id'))
    )
    op.create_table('kaoping_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('rulebook_version', sa.String(length=60), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kaoping_rounds')),
    sa.UniqueConstraint('year', 'period', name=op.f('uq_kaoping_rounds_year'))
    )
    op.create_table('kaoping_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('participant', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['kaoping_rounds.id'],
                            name=op.f('fk_kaoping_submissions_round_id_kaoping_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kaoping_submissions')),
    sa.UniqueConstraint('round_id', 'category', 'participant', 'source', 'seq',
                        name=op.f('uq_kaoping_submissions_round_id'))
    )
    op.create_table('kaoping_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['submission_id'], ['kaoping_submissions.id'],
                            name=op.f('fk_kaoping_scores_submission_id_kaoping_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kaoping_scores')),
    sa.UniqueConstraint('submission_id', 'item', name=op.f('uq_kaoping_scores_submission_id'))
    )
    for table, message in _APPEND_ONLY.items():
        create_append_only(op, table, message)


def downgrade() -> None:
    for table in _APPEND_ONLY:
        drop_append_only(op, table)
    op.drop_table('kaoping_scores')
    op.drop_table('kaoping_submissions')
    op.drop_table('kaoping_rounds')
    op.drop_table('quota_allocations')
    op.drop_index('ix_quota_runs_year', table_name='quota_runs')
    op.drop_table('quota_runs')
