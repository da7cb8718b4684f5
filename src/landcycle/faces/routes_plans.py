"""Plan tasks over HTTP (issue 8, item 7): the plans' tasks with their deadlines' state,
quarterly progress reports and milestones met.

``GET /api/plans`` — every plan with its task and overdue counts on ``as_of``.
``GET /api/plans/{id}/tasks?as_of=&overdue=&unit=&jurisdiction=&missing_quarter=&mine=`` — the
tasks, each milestone due / done / overdue (days) on ``as_of``. Plans are published gazettes:
the public reads plans, tasks and milestones; signed-in users also read the reports and the
completion evidence. ``POST /api/plan-tasks/{id}/reports`` — a quarterly report (201);
``POST /api/plan-milestones/{id}/completion`` — a milestone met (201). Both are append-only:
422 bad input (Chinese, naming the field), 401 not signed in, 403 not a unit of the task (or
not its 牵头单位), 404 unknown. Rules: ``services/plan_tasks.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from ..domain.access import Principal
from ..services import plan_tasks
from .auth import current_principal
from .editing import MAX_INT, Body, Day, Text, Whole

PlanId = Annotated[int, Path(ge=1, le=MAX_INT, description="方案编号")]
TaskId = Annotated[int, Path(ge=1, le=MAX_INT, description="任务编号（plan_tasks 的 id）")]
MilestoneId = Annotated[int, Path(ge=1, le=MAX_INT, description="完成时限节点编号")]


class ReportIn(Body):
    """季度进展报送：季度（如 2021Q3）、报送单位（本任务的责任单位之一，缺省为本账号可代表的第一个单位）、
    进展说明、状态（未开始/推进中/已完成）或完成百分比、附件名称。"""

    quarter: Text(6, min_length=1)  # type: ignore[valid-type]
    text: Text(4000, min_length=1)  # type: ignore[valid-type]
    unit: Text(200, min_length=1) | None = None  # type: ignore[valid-type]
    status: Text(10, min_length=1) | None = None  # type: ignore[valid-type]
    percent: Whole(0, 100) | None = None  # type: ignore[valid-type]
    attachments: list[Text(200, min_length=1)] = []  # type: ignore[valid-type]


class CompletionIn(Body):
    """任务节点完成：完成日期和完成依据（文件名称、文号或成果）。"""

    completed_on: Day
    evidence: Text(2000, min_length=1)  # type: ignore[valid-type]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["方案任务"])

    @router.get("/plans", summary="工作方案列表（任务数、逾期任务数）")
    def list_plans(request: Request, as_of: date | None = Query(None, description="按此日判断是否逾期（默认今日）"),
                   who: Principal = Depends(current_principal)):
        """已加载的工作方案（实施方案），各自的任务数、已完成和逾期任务数。方案为公开文件，无需登录。"""
        return plan_tasks.list_plans(request.app.state.db, who, as_of=as_of)

    @router.get("/plans/{plan_id}/tasks", summary="方案任务及完成时限状态")
    def list_tasks(plan_id: PlanId, request: Request,
                   as_of: date | None = Query(None, description="按此日判断完成与逾期（默认今日）"),
                   overdue: bool = Query(False, description="只看有逾期节点的任务"),
                   unit: str | None = Query(None, max_length=200, description="责任单位名称包含此文字"),
                   jurisdiction: str | None = Query(None, max_length=100, description="责任单位包含此辖区（代码、名称或别名）"),
                   missing_quarter: str | None = Query(None, max_length=6, description="该季度（如 2021Q3）尚未报送进展的任务（须登录）"),
                   mine: bool = Query(False, description="只看本账号可报送的任务"),
                   who: Principal = Depends(current_principal)):
        """各任务的牵头单位、责任单位、完成时限节点（到期日、是否完成、是否逾期及逾期天数）。
        登录用户另见各季度进展报送和完成依据。"""
        return plan_tasks.plan_tasks(request.app.state.db, plan_id, who, as_of=as_of, overdue=overdue, unit=unit,
                                     jurisdiction=jurisdiction, missing_quarter=missing_quarter, mine=mine)

    @router.post("/plan-tasks/{task_id}/reports", status_code=201, summary="报送任务季度进展")
    def report(task_id: TaskId, body: ReportIn, request: Request, who: Principal = Depends(current_principal)):
        """报送一项任务的季度进展（只能追加；更正即再报一次，以最新一次为准）。
        非本任务责任单位：403；输入有误：422，不写入。"""
        return plan_tasks.submit_report(request.app.state.db, task_id, who, quarter=body.quarter, text=body.text,
                                        unit=body.unit, status=body.status, percent=body.percent,
                                        attachments=body.attachments)

    @router.post("/plan-milestones/{milestone_id}/completion", status_code=201, summary="记录任务节点完成")
    def complete(milestone_id: MilestoneId, body: CompletionIn, request: Request, who: Principal = Depends(current_principal)):
        """记录一个完成时限节点已完成（日期和依据；只能记录一次，不能修改）。
        须为市级管理员、方案发文县(市、区)管理员或牵头单位账号：否则 403。"""
        return plan_tasks.complete_milestone(request.app.state.db, milestone_id, who,
                                             completed_on=body.completed_on, evidence=body.evidence)

    return router
