"""履约监管 over HTTP (issue 7 items 4–5): a supplied parcel's deadlines, acceptance inspections,
idle notices, exit case and restrictions.

``GET /api/parcels/{code}/supervision`` — status (each contract deadline: agreed, done, status,
days late; next due; what happens if missed), inspections, idle notices, the exit case and the
达产复验 restriction. ``POST …/inspections`` records a 竣工联合验收 / 达产验收 / 复验 (version: the
development record's, from ``development_version``); ``POST …/idle-notices`` a 闲置费征缴决定书,
无偿收回建议 or government-caused delay (append-only, no version); ``POST …/exit-case`` opens the
exit case, ``PATCH …/exit-case`` adds the audit and buy-back agreement (version: the case's).
422 with Chinese reasons and nothing changed; 409 stale version; 403 a role that may not; 404
outside the caller's view; 401 the public. Rules: ``domain/supervision.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, status

from ..domain.access import Principal
from ..services import supervision
from .auth import current_principal
from .editing import Body, Day, IfMatch, Number, Reason, Text, Version, changes_of, expected_version, versioned


class InspectionIn(Body):
    """一次验收：类型、日期、验收意见文号、实测指标或面积/金额（measured），可选结论和说明。"""

    kind: Text(40, min_length=1)  # type: ignore[valid-type]
    inspected_on: Day
    number: Text(100, min_length=1)  # type: ignore[valid-type]
    measured: dict[str, Any] = {}
    result: Text(20) | None = None  # type: ignore[valid-type]
    remark: Text(2000) | None = None  # type: ignore[valid-type]
    version: Version | None = None


class IdleNoticeIn(Body):
    """闲置费征缴决定书（fee_notice）、无偿收回建议（reclaim_proposal）或政府原因延迟认定（government_delay）。"""

    kind: Text(40, min_length=1)  # type: ignore[valid-type]
    number: Text(100, min_length=1)  # type: ignore[valid-type]
    notice_date: Day | None = None
    reason: Text(2000) | None = None  # type: ignore[valid-type]


class ExitCaseIn(Body):
    """解除合同批准（文号、批准机关、日期）、地上建筑物处置方式，可附成本还原审计和回购协议。"""

    rescission_number: Text(100, min_length=1)  # type: ignore[valid-type]
    rescission_approved_by: Text(100, min_length=1)  # type: ignore[valid-type]
    rescission_date: Day
    building_disposal: Text(30) | None = None  # type: ignore[valid-type]
    auditor: Text(200) | None = None  # type: ignore[valid-type]
    audit_date: Day | None = None
    audited_cost_wan: Number | None = None
    deductions_wan: Number | None = None
    buyback_number: Text(100) | None = None  # type: ignore[valid-type]
    buyback_date: Day | None = None
    reason: Reason = None


class ExitCaseChange(Body):
    """补充成本还原审计结果、扣减金额或回购协议（回购价由平台计算）。"""

    auditor: Text(200) | None = None  # type: ignore[valid-type]
    audit_date: Day | None = None
    audited_cost_wan: Number | None = None
    deductions_wan: Number | None = None
    buyback_number: Text(100) | None = None  # type: ignore[valid-type]
    buyback_date: Day | None = None
    version: Version | None = None
    reason: Reason = None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/parcels", tags=["履约监管"])

    @router.get("/{code}/supervision", summary="宗地履约监管：期限、验收、闲置处置、收回回购和权利限制")
    def show(code: str, request: Request, who: Principal = Depends(current_principal)):
        """各项合同期限（约定日期、完成日期、状态、逾期天数）、下一个到期事项及逾期后果，验收记录，闲置土地处置记录，
        收回回购记录，以及“达产复验通过前不得抵押、转让、股权变更”的限制。须登录；辖区管理部门和使用该宗地的企业可查看。"""
        return supervision.supervision(request.app.state.db, code, who)

    @router.post("/{code}/inspections", summary="登记竣工联合验收、达产验收或复验（需开发建设情况的版本号）",
                 status_code=status.HTTP_201_CREATED)
    def inspect(code: str, body: InspectionIn, request: Request, if_match: IfMatch = None,
                who: Principal = Depends(current_principal)):
        """按履约监管协议约定指标逐项核对实测值，登记验收结果，并在同一事务中更新开发建设情况的验收结果和日期。
        指标缺实测值、状态不符、指标未达标却登记为通过：422；版本过期：409。"""
        version = expected_version(if_match, body.version)
        out = supervision.record_inspection(request.app.state.db, code, who, version, kind=body.kind,
                                            inspected_on=body.inspected_on, measured=body.measured,
                                            number=body.number, result=body.result, remark=body.remark)
        return versioned(out, status_code=201, version=out["development"]["version"])

    @router.post("/{code}/idle-notices", summary="闲置土地处置：闲置费征缴决定、无偿收回建议或政府原因延迟认定",
                 status_code=status.HTTP_201_CREATED)
    def idle_notice(code: str, body: IdleNoticeIn, request: Request, who: Principal = Depends(current_principal)):
        """满一年可作出闲置费征缴决定（土地价款×20%，平台计算），满两年可提出无偿收回建议；未到期或已记录政府原因
        延迟的，422 并说明原因。只能由市、县管理员办理。"""
        return supervision.record_idle_notice(request.app.state.db, code, who, kind=body.kind, number=body.number,
                                              notice_date=body.notice_date, reason=body.reason)

    @router.post("/{code}/exit-case", summary="解除合同后收回回购：登记批准文件、建筑物处置方式，计算成本还原回购价",
                 status_code=status.HTTP_201_CREATED)
    def open_exit(code: str, body: ExitCaseIn, request: Request, who: Principal = Depends(current_principal)):
        """宗地须处于“处置中”（已办理“启动处置”）。回购价 = 土地价款按剩余年期折算 + 地上建筑物按合同约定处置的补偿
        − 扣减，由平台计算。"""
        figures = body.model_dump(exclude_unset=True, exclude={"rescission_number", "rescission_approved_by",
                                                                "rescission_date", "building_disposal", "reason"})
        out = supervision.open_exit_case(request.app.state.db, code, who, rescission_number=body.rescission_number,
                                         rescission_approved_by=body.rescission_approved_by,
                                         rescission_date=body.rescission_date,
                                         building_disposal=body.building_disposal, reason=body.reason, **figures)
        return versioned(out, status_code=201)

    @router.patch("/{code}/exit-case", summary="补充成本还原审计或回购协议（需版本号）")
    def change_exit(code: str, body: ExitCaseChange, request: Request, if_match: IfMatch = None,
                    who: Principal = Depends(current_principal)):
        """回购价随审计确认的建设成本、扣减金额重新计算。版本过期：409。"""
        version = expected_version(if_match, body.version)
        out = supervision.update_exit_case(request.app.state.db, code, who, version, changes_of(body),
                                           reason=body.reason)
        return versioned(out)

    return router
