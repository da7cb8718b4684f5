"""Plan tasks (issue 8, item 7): a published work plan (实施方案) with its numbered tasks,
their units (责任单位, the lead first), dated milestones (完成时限, staged ones split),
quarterly progress reports and milestone completions.

Plans and tasks are loaded from plan files (``services.plan_tasks.load_plan``); loading the
same plan again makes a new version (``plan_versions`` keeps every loaded file, append-only)
and updates tasks and milestones in place by number/position, so the reports and completions
that point at them stay. Reports and completions are append-only (triggers, migration 0015):
a correction is a newer report, never an edit.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, utcnow


class Plan(Base):
    """One work plan, identified by its name and the issuing jurisdiction."""

    __tablename__ = "plans"
    __audited__ = True
    __table_args__ = (UniqueConstraint("name", "jurisdiction_id", name="uq_plans_name_jurisdiction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    #: The issuing city (411000) or county.
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    document: Mapped[str | None] = mapped_column(String(100))  # 文号, e.g. 许政办〔2021〕4号
    issued: Mapped[date | None] = mapped_column(Date)
    source_seed: Mapped[str | None] = mapped_column(String(200))
    source_lines: Mapped[str | None] = mapped_column(String(50))
    #: The number of the latest loaded version (``plan_versions``); 1 for a first load.
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlanVersion(Base):
    """One load of a plan file (append-only): the file as parsed, so every version's tasks,
    units and deadlines can be read back after a reload changed them."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    version: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    #: The plan file's content as parsed (dates as ISO text).
    content: Mapped[dict] = mapped_column(JSON)
    task_count: Mapped[int] = mapped_column(Integer)
    loaded_by: Mapped[str] = mapped_column(String(100))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlanTask(Base):
    """One numbered task of a plan (its text verbatim from the plan)."""

    __tablename__ = "plan_tasks"
    __audited__ = True
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_plan_tasks_plan_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    #: 牵头单位 (also the first of the task's units).
    lead: Mapped[str] = mapped_column(String(200))
    #: The 责任单位 / 牵头单位 / 完成时限 lines as the plan prints them.
    units_line: Mapped[str] = mapped_column(Text)
    lead_line: Mapped[str | None] = mapped_column(Text)
    deadline_line: Mapped[str] = mapped_column(Text)
    #: Undated obligations ("持续推进", "适时开展…"): text only, never overdue.
    ongoing: Mapped[list] = mapped_column(JSON, default=list)
    since_version: Mapped[int] = mapped_column(Integer)
    #: Set when a later version of the plan no longer has this number (reports stay).
    retired_in_version: Mapped[int | None] = mapped_column(Integer)


class PlanTaskUnit(Base):
    """One unit of a task, in the plan's order; a unit naming a jurisdiction points at it
    (or, for "各产业集聚区管理机构"-style collectives, says which kind it stands for)."""

    __tablename__ = "plan_task_units"
    __table_args__ = (Index("ix_plan_task_units_task", "task_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    #: "counties" (every county and 管委会) or "zones" (every 产业集聚区) of the plan's jurisdiction.
    collective: Mapped[str | None] = mapped_column(String(20))


class PlanMilestone(Base):
    """One dated deadline of a task (a staged 完成时限 gives several), with what is due."""

    __tablename__ = "plan_milestones"
    __audited__ = True
    __table_args__ = (UniqueConstraint("task_id", "position", name="uq_plan_milestones_task_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    due: Mapped[date] = mapped_column(Date)
    what: Mapped[str] = mapped_column(Text)
    #: "完成时限" (the task's deadline line) or "正文" (a dated goal in the task's text).
    basis: Mapped[str] = mapped_column(String(10))
    retired_in_version: Mapped[int | None] = mapped_column(Integer)


class PlanProgressReport(Base):
    """A quarterly progress report on one task by one unit (append-only)."""

    __tablename__ = "plan_progress_reports"
    __table_args__ = (Index("ix_plan_progress_reports_task_quarter", "task_id", "quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("plan_tasks.id"))
    #: e.g. "2021Q3".
    quarter: Mapped[str] = mapped_column(String(6))
    #: The reporting unit (one of the task's units, as the plan names it).
    unit: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    #: 未开始 / 推进中 / 已完成.
    status: Mapped[str] = mapped_column(String(10))
    percent: Mapped[int | None] = mapped_column(Integer)
    #: Attachment names only (the files themselves are filed elsewhere).
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The plan version the report was made against.
    plan_version: Mapped[int] = mapped_column(Integer)


class PlanMilestoneCompletion(Base):
    """That a milestone was met: on which day, with what evidence (append-only, one per milestone)."""

    __tablename__ = "plan_milestone_completions"

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("plan_milestones.id"), unique=True)
    completed_on: Mapped[date] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
