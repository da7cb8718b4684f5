"""Plan tasks: plans, their versions, tasks, units, milestones; progress reports and milestone
completions (append-only)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 12:30:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_APPEND_ONLY = {
    'plan_versions': '方案版本记录只能追加，不能修改或删除',
    'plan_progress_reports': '任务进展报送只能追加，不能修改或删除',
    'plan_milestone_completions': '任务节点完成记录只能追加，不能修改或删除',
}


def upgrade() -> None:
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.String(length=100), nullable=True),
    sa.Column('issued', sa.Date(), nullable=True),
    sa.Column('source_seed', sa.String(length=200), nullable=True),
    sa.Column('source_lines', sa.String(length=50), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_plans_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('name', 'jurisdiction_id', name='uq_plans_name_jurisdiction')
    )
    op.create_index(op.f('ix_plans_jurisdiction_id'), 'plans', ['jurisdiction_id'])
    op.create_table('plan_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('task_count', sa.Integer(), nullable=False),
    sa.Column('loaded_by', sa.String(length=100), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_versions_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sa.UniqueConstraint('plan_id', 'version', name='uq_plan_versions_plan_version')
    )
    op.create_table('plan_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('section', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('lead', sa.String(length=200), nullable=False),
    sa.Column('units_line', sa.Text(), nullable=False),
    sa.Column('lead_line', sa.Text(), nullable=True),
    sa.Column('deadline_line', sa.Text(), nullable=False),
    sa.Column('ongoing', sa.JSON(), nullable=False),
    sa.Column('since_version', sa.Integer(), nullable=False),
    sa.Column('retired_in_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_tasks_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_tasks')),
    sa.UniqueConstraint('plan_id', 'number', name='uq_plan_tasks_plan_number')
    )
    op.create_index(op.f('ix_plan_tasks_plan_id'), 'plan_tasks', ['plan_id'])
    op.create_table('plan_task_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_lead', sa.Boolean(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('collective', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['plan_tasks.id'], name=op.f('fk_plan_task_units_task_id_plan_tasks')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_plan_task_units_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_task_units'))
    )
    op.create_index('ix_plan_task_units_task', 'plan_task_units', ['task_id', 'position'])
    op.create_index(op.f('ix_plan_task_units_jurisdiction_id'), 'plan_task_units', ['jurisdiction_id'])
    op.create_table('plan_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('basis', sa.String(length=10), nullable=False),
    sa.Column('retired_in_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['plan_tasks.id'], name=op.f('fk_plan_milestones_task_id_plan_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_milestones')),
    sa.UniqueConstraint('task_id', 'position', name='uq_plan_milestones_task_position')
    )
    op.create_index(op.f('ix_plan_milestones_task_id'), 'plan_milestones', ['task_id'])
    op.create_table('plan_progress_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.String(length=6), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['plan_tasks.id'], name=op.f('fk_plan_progress_reports_task_id_plan_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_progress_reports'))
    )
    op.create_index('ix_plan_progress_reports_task_quarter', 'plan_progress_reports', ['task_id', 'quarter'])
    op.create_table('plan_milestone_completions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['milestone_id'], ['plan_milestones.id'], name=op.f('fk_plan_milestone_completions_milestone_id_plan_milestones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_milestone_completions')),
    sa.UniqueConstraint('milestone_id', name=op.f('uq_plan_milestone_completions_milestone_id'))
    )
    # Append-only, like the change log (migration 0001) and parcel_transitions (0009).
    for table, message in _APPEND_ONLY.items():
        create_append_only(op, table, message)


def downgrade() -> None:
    for table in _APPEND_ONLY:
        drop_append_only(op, table)
    op.drop_table('plan_milestone_completions')
    op.drop_index('ix_plan_progress_reports_task_quarter', table_name='plan_progress_reports')
    op.drop_table('plan_progress_reports')
    op.drop_index(op.f('ix_plan_milestones_task_id'), table_name='plan_milestones')
    op.drop_table('plan_milestones')
    op.drop_index(op.f('ix_plan_task_units_jurisdiction_id'), table_name='plan_task_units')
    op.drop_index('ix_plan_task_units_task', table_name='plan_task_units')
    op.drop_table('plan_task_units')
    op.drop_index(op.f('ix_plan_tasks_plan_id'), table_name='plan_tasks')
    op.drop_table('plan_tasks')
    op.drop_table('plan_versions')
    op.drop_index(op.f('ix_plans_jurisdiction_id'), table_name='plans')
    op.drop_table('plans')
