"""预警通知 (issue 7, item 7): the daily job that turns open deadlines into notices for the
responsible jurisdiction and the enterprise, stores them once, and delivers them by e-mail and
webhook; the notices, runs and subscriptions as their readers may see them.

**Sources.** A deadline source is ``fn(db, viewer, as_of) -> list[dict]`` answering, for every
deadline open on ``as_of`` that ``viewer`` may see, the keys of ``domain.notices.ITEM_KEYS``
(parcel_code, county_id, zone_id, kind, label, due, basis, consequence). Sources are registered
by name (:func:`register_source`); the contract deadlines of ``services.warnings.compute`` are
the built-in ``contract`` source. The job asks each source once with the system principal (all
parcels) and fans every deadline out to its recipients — which is the same as asking per
jurisdiction and per enterprise, without asking 20 times:

* the **responsible jurisdiction**: the parcel's 产业集聚区 if it lies in one, else its county
  (the parcel's stored county/zone, not the source's, decide);
* each **enterprise** currently holding the parcel in a role of the rulebook's
  ``[warnings] notify_occupancy_roles`` (default: 权利人) — an enterprise only ever receives
  deadlines of parcels it holds.

**Thresholds** (``domain.notices``): each (deadline, lead threshold of ``[warnings] lead_days``,
recipient) is raised once — unique in the database — so a repeated run, a run on the next day or
after a gap never duplicates; a threshold crossed while the job did not run is raised on the next
run; several crossed at once deliver only the tightest.

**Delivery** after the notices are committed: every active subscription of the recipient made
before the notice was raised gets it by e-mail (``smtplib``) and/or webhook (HTTP POST of JSON
via ``urllib``, signed HMAC-SHA256). Settings come from the environment (:class:`DeliverySettings`).
No server configured → the attempt is recorded ``skipped`` with the reason (final); a failing
server → ``failed`` with the error; later runs retry failed ones until
``LANDCYCLE_NOTICE_MAX_ATTEMPTS``. Each attempt is its own small transaction, so what was sent
stays recorded even if the job stops half-way.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import notices as rules
from ..domain import progress
from ..domain.access import SYSTEM, Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, LandcycleError, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.vocabulary import JurisdictionKind
from ..storage.db import Database
from ..storage.notice_schema import NoticeSubscription, WarningDelivery, WarningNotice, WarningRun
from ..storage.schema import Enterprise, Jurisdiction, Occupancy, Parcel, utcnow
from . import approvals, audit
from . import warnings as warnings_service
from .rules import load_rulebook

Source = Callable[[Database, Principal, date], list[dict]]
Progress = Callable[[str, int, int], None]

_SOURCES: dict[str, Source] = {}

_OFFICIALS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})
MAX_PAGE = 1000
_CHUNK = 500


# =========================================================================== sources
def register_source(name: str, fn: Source) -> None:
    """Add (or replace) a deadline source under ``name`` (kept in each notice's deadline key)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise ValueError(f"deadline source name {name!r}: lowercase letters, digits, _ (≤ 40)")
    _SOURCES[name] = fn


def unregister_source(name: str) -> None:
    """Remove a source (tests, or a deployment switching one off)."""
    _SOURCES.pop(name, None)


def registered_sources() -> dict[str, Source]:
    """The sources a run asks, in registration order."""
    return dict(_SOURCES)


def contract_deadline_items(db: Database, viewer: Principal, as_of: date) -> list[dict]:
    """The built-in source: ``services.warnings.compute`` — 约定动工/竣工/达产 dates, 闲置满一年、
    满两年 (R3) and the end of a rectification period (R9) — as deadline items."""
    ws = warnings_service.compute(db, viewer=viewer, as_of=as_of)
    dl, p = ws.deadlines, ws.parcels
    out = []
    for i in range(len(dl.parcel)):
        j = int(dl.parcel[i])
        kind = progress.KINDS[int(dl.kind[i])]
        spec = progress.DEADLINE_KINDS[kind]
        zone = p["zone_id"][j]
        out.append({"parcel_code": str(p["code"][j]), "county_id": int(p["county_id"][j]),
                    "zone_id": int(zone) if zone is not None else None, "kind": kind, "label": spec["label"],
                    "due": date.fromisoformat(str(dl.due[i])), "basis": f"{spec['rule_id']}：{spec['basis']}",
                    "consequence": rules.CONTRACT_CONSEQUENCES[kind]})
    return out


def approval_deadline_items(db: Database, viewer: Principal, as_of: date) -> list[dict]:
    """告知承诺制 approval clocks (``services.approvals``): 信用承诺书 publicity ends and permit
    deadlines on the working-day calendar. Steps whose calendar year is not loaded have no due
    day and are left to the approvals page, which says why."""
    return [d for d in approvals.deadline_items(db, viewer=viewer, as_of=as_of) if d["due"] is not None]


register_source("contract", contract_deadline_items)
register_source("approvals", approval_deadline_items)


# =========================================================================== settings
@dataclass(frozen=True)
class DeliverySettings:
    """Where notices go out (environment, see docs/warnings.md). ``smtp_host`` empty: e-mail is
    not configured; ``webhook_secret`` empty: webhooks are not sent (never unsigned)."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = ""
    smtp_tls: str = "none"  # none / starttls / ssl
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 10.0
    webhook_secret: str = ""
    webhook_timeout: float = 10.0
    #: Where webhooks may go (``LANDCYCLE_WEBHOOK_ALLOWED_HOSTS``; ``domain.notices.webhook_refusal``):
    #: empty = public Internet addresses only.
    webhook_allowed_hosts: tuple[str, ...] = ()
    max_attempts: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "DeliverySettings":
        """Read ``LANDCYCLE_SMTP_*``, ``LANDCYCLE_WEBHOOK_*`` and ``LANDCYCLE_NOTICE_MAX_ATTEMPTS``;
        a malformed value is a Chinese ValidationFailed naming the variable."""
        env = os.environ if env is None else env
        problems: list[Problem] = []

        def number(name: str, default: float, kind=float, low: float = 0):
            raw = (env.get(name) or "").strip()
            if not raw:
                return kind(default)
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or value <= low:
                problems.append(Problem("发送设置", name, f"应为大于{low:g}的{'整数' if kind is int else '数'}，实际为“{raw}”"))
                return kind(default)
            return value

        tls = (env.get("LANDCYCLE_SMTP_TLS") or "none").strip().lower()
        if tls not in ("none", "starttls", "ssl"):
            problems.append(Problem("发送设置", "LANDCYCLE_SMTP_TLS", f"应为 none、starttls 或 ssl，实际为“{tls}”"))
            tls = "none"
        host = (env.get("LANDCYCLE_SMTP_HOST") or "").strip()
        sender = (env.get("LANDCYCLE_SMTP_SENDER") or "").strip()
        if host and not _EMAIL.fullmatch(sender):
            problems.append(Problem("发送设置", "LANDCYCLE_SMTP_SENDER", "配置了邮件服务器时须给出有效的发件地址"))
        s = cls(smtp_host=host, smtp_port=number("LANDCYCLE_SMTP_PORT", 465 if tls == "ssl" else 25, int),
                smtp_sender=sender, smtp_tls=tls, smtp_user=env.get("LANDCYCLE_SMTP_USER") or "",
                smtp_password=env.get("LANDCYCLE_SMTP_PASSWORD") or "",
                smtp_timeout=number("LANDCYCLE_SMTP_TIMEOUT", 10.0),
                webhook_secret=env.get("LANDCYCLE_WEBHOOK_SECRET") or "",
                webhook_timeout=number("LANDCYCLE_WEBHOOK_TIMEOUT", 10.0),
                max_attempts=number("LANDCYCLE_NOTICE_MAX_ATTEMPTS", 5, int))
        allowed, bad = rules.parse_allowed_hosts(env.get(rules.ALLOWED_HOSTS_SETTING) or "")
        problems += [Problem("发送设置", rules.ALLOWED_HOSTS_SETTING,
                             f"“{b}”不是主机名、*.后缀或网段（如 hooks.xuchang.gov.cn、*.gov.cn、10.20.0.0/16）")
                     for b in bad]
        if problems:
            raise ValidationFailed(problems)
        return replace(s, webhook_allowed_hosts=allowed)


# =========================================================================== the run
@dataclass
class RunReport:
    """What one run did."""

    run_id: int
    as_of: date
    status: str
    deadlines: int = 0
    notices: int = 0
    superseded: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    by_recipient: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "as_of": self.as_of.isoformat()}


@dataclass
class _Deadline:
    source: str
    item: dict[str, Any]
    due: date
    days_left: int

    @property
    def key(self) -> str:
        return f"{self.source}|{self.item['kind']}|{self.item['parcel_code']}|{self.due.isoformat()}"


def _today() -> date:
    from .lifecycle import today  # 北京时间, as every other service counts days
    return today()


def _check_item(source: str, n: int, item: Any) -> tuple[dict | None, date | None, str | None]:
    where = f"来源 {source} 第{n + 1}条"
    if not isinstance(item, Mapping):
        return None, None, f"{where}：应为字典"
    missing = [k for k in rules.ITEM_KEYS if k not in item]
    if missing:
        return None, None, f"{where}：缺少字段 {'、'.join(missing)}"
    due = item["due"]
    if isinstance(due, datetime):
        due = due.date()
    elif isinstance(due, str):
        try:
            due = date.fromisoformat(due)
        except ValueError:
            return None, None, f"{where}：due “{due}” 不是日期"
    elif not isinstance(due, date):
        return None, None, f"{where}：due 不是日期"
    if not item["parcel_code"] or not item["kind"] or not item["label"]:
        return None, None, f"{where}：parcel_code、kind、label 不能为空"
    if not isinstance(item["parcel_code"], str) or len(item["parcel_code"]) > 19 or len(str(item["kind"])) > 60:
        return None, None, f"{where}：parcel_code 应为不超过19位的宗地代码，kind 不超过60个字符"
    return dict(item), due, None


def run(db: Database, as_of: date | None = None, *, actor: str = "system", deliver: bool = True,
        settings: DeliverySettings | None = None, sources: Mapping[str, Source] | None = None,
        progress_cb: Progress | None = None) -> RunReport:
    """Run the warning job for ``as_of`` (default today, 北京时间): ask every source, record the
    new notices in one transaction, then (``deliver``) deliver new notices and retry failed
    deliveries. A failing source is reported in ``errors`` (status ``partial``) and the others
    still run; a failing server never stops the run."""
    as_of = as_of or _today()
    settings = settings if settings is not None else (DeliverySettings.from_env() if deliver else DeliverySettings())
    sources = dict(sources) if sources is not None else registered_sources()
    started = utcnow()
    tick = progress_cb or (lambda stage, done, total: None)
    rulebook = load_rulebook()
    section = rulebook.section("warnings")
    leads = sorted({int(x) for x in section["lead_days"]})
    roles = [str(r) for r in section.get("notify_occupancy_roles", ["owner"])]

    # 1. every source's deadlines within the largest lead (or overdue)
    deadlines: list[_Deadline] = []
    errors: list[dict[str, str]] = []
    by_source: dict[str, int] = {}
    names = list(sources)
    for n, name in enumerate(names):
        tick("读取期限来源", n, len(names))
        try:
            items = sources[name](db, SYSTEM, as_of)
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
            errors.append({"source": name, "error": f"{exc.__class__.__name__}: {exc}"[:1000]})
            continue
        count = 0
        for i, raw in enumerate(items or []):
            item, due, problem = _check_item(name, i, raw)
            if problem:
                errors.append({"source": name, "error": problem})
                continue
            left = (due - as_of).days
            if left <= leads[-1]:
                deadlines.append(_Deadline(name, item, due, left))
                count += 1
        by_source[name] = count
    tick("读取期限来源", len(names), len(names))

    report = RunReport(run_id=0, as_of=as_of, status="partial" if errors else "finished",
                       deadlines=len(deadlines), by_source=by_source, errors=errors)
    # 2. recipients and the notices to raise, recorded in one transaction with the run
    try:
        _record(db, report, actor, as_of, started, deliver, names, errors, deadlines, leads, roles, tick)
    except IntegrityError:
        # the unique (deadline, lead, recipient) refused a notice another run recorded meanwhile
        raise ConcurrentRun() from None

    # 3. delivery (each attempt its own transaction)
    if deliver:
        _deliver(db, report, settings, tick)

    # 4. the run completed once
    with db.transaction(actor=actor, reason=f"预警任务 {as_of.isoformat()} 结束") as s:
        wr = s.get(WarningRun, report.run_id)
        wr.finished_at = utcnow()
        wr.status = report.status
        wr.deadlines, wr.notices, wr.superseded = report.deadlines, report.notices, report.superseded
        wr.sent, wr.failed, wr.skipped = report.sent, report.failed, report.skipped
    return report


class ConcurrentRun(LandcycleError):
    """Two runs recorded the same notice at once: the later one is rolled back whole."""

    code = "concurrent_run"

    def __init__(self):
        super().__init__("另一个预警任务正在同时运行并已记录了相同的通知；本次未写入任何通知，请稍后重新运行")


def _record(db: Database, report: RunReport, actor: str, as_of: date, started: datetime, deliver: bool,
            names: list[str], errors: list[dict[str, str]], deadlines: list[_Deadline], leads: list[int],
            roles: list[str], tick: Progress) -> None:
    """The run row and its new notices, in one transaction."""
    with db.transaction(actor=actor, reason=f"预警任务 {as_of.isoformat()}") as s:
        wr = WarningRun(as_of=as_of, actor=actor, started_at=started, status="running", deliver=deliver,
                        sources=names, errors=errors)
        s.add(wr)
        s.flush()
        report.run_id = wr.id
        rows = _new_notices(s, wr.id, as_of, deadlines, leads, roles, tick)
        if rows:
            for start in range(0, len(rows), _CHUNK):
                s.execute(WarningNotice.__table__.insert(), rows[start:start + _CHUNK])
        report.notices = sum(1 for r in rows if not r["superseded"])
        report.superseded = len(rows) - report.notices
        for r in rows:
            if r["superseded"]:
                continue
            kind = "jurisdiction" if r["jurisdiction_id"] is not None else "enterprise"
            report.by_recipient[kind] = report.by_recipient.get(kind, 0) + 1


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _new_notices(s: Session, run_id: int, as_of: date, deadlines: list[_Deadline], leads: list[int],
                 roles: list[str], tick: Progress) -> list[dict[str, Any]]:
    """The notice rows this run raises (not yet inserted)."""
    codes = sorted({d.item["parcel_code"] for d in deadlines})
    parcels: dict[str, tuple] = {}
    owners: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(codes):
        for pid, code, loc, county, zone in s.execute(select(Parcel.id, Parcel.code, Parcel.location,
                                                             Parcel.county_id, Parcel.zone_id)
                                                      .where(Parcel.code.in_(chunk))):
            parcels[code] = (pid, loc, county, zone)
        ids = [parcels[c][0] for c in chunk if c in parcels]
        if ids:
            for pid, eid in s.execute(select(Occupancy.parcel_id, Occupancy.enterprise_id).where(
                    Occupancy.parcel_id.in_(ids), Occupancy.role.in_(roles), Occupancy.start_date <= as_of,
                    or_(Occupancy.end_date.is_(None), Occupancy.end_date >= as_of))
                    .order_by(Occupancy.parcel_id, Occupancy.enterprise_id)):
                if eid not in owners[pid]:
                    owners[pid].append(eid)
    jnames = dict(s.execute(select(Jurisdiction.id, Jurisdiction.name)).all())
    enames: dict[int, str] = {}
    eids = sorted({e for es in owners.values() for e in es})
    for chunk in _chunks(eids):
        enames.update(s.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(chunk))).all())

    keys = sorted({d.key for d in deadlines})
    already: dict[tuple[str, str], set[int]] = defaultdict(set)
    for chunk in _chunks(keys):
        for key, lead, rec in s.execute(select(WarningNotice.deadline_key, WarningNotice.lead_days,
                                               WarningNotice.recipient).where(WarningNotice.deadline_key.in_(chunk))):
            already[(key, rec)].add(lead)

    rows: list[dict[str, Any]] = []
    now = utcnow()
    for n, d in enumerate(deadlines):
        if n % 1000 == 0:
            tick("生成预警通知", n, len(deadlines))
        it = d.item
        if it["parcel_code"] in parcels:
            pid, loc, county, zone = parcels[it["parcel_code"]]
        else:  # a deadline of a parcel not (or no longer) in the registry: the source's own place
            pid, loc, county, zone = None, "", it.get("county_id"), it.get("zone_id")
        place = "，".join(x for x in (loc, jnames.get(zone) or jnames.get(county) or "") if x)
        recipients: list[tuple[str, int | None, int | None, str]] = []
        responsible = zone if zone is not None else county
        if responsible is not None:
            recipients.append((f"jurisdiction:{responsible}", responsible, None,
                               jnames.get(responsible, "") + ("管理机构" if zone is not None else "人民政府")))
        for eid in owners.get(pid, []) if pid is not None else []:
            recipients.append((f"enterprise:{eid}", None, eid, enames.get(eid, "")))
        for rec, jid, eid, who in recipients:
            decision = rules.to_raise(d.days_left, leads, already[(d.key, rec)])
            for lead in decision.all:
                subject, body = rules.compose(
                    parcel_code=it["parcel_code"], place=place, label=str(it["label"]), due=d.due,
                    days_left=d.days_left, lead_days=lead, basis=str(it["basis"] or ""),
                    consequence=str(it["consequence"] or ""), as_of=as_of, recipient=who)
                rows.append({
                    "run_id": run_id, "as_of": as_of, "created_at": now, "deadline_key": d.key[:200],
                    "source": d.source, "kind": str(it["kind"])[:60], "parcel_code": it["parcel_code"],
                    "county_id": county, "zone_id": zone, "due_date": d.due, "lead_days": lead,
                    "days_left": d.days_left, "recipient": rec, "jurisdiction_id": jid, "enterprise_id": eid,
                    "label": str(it["label"])[:200], "basis": str(it["basis"] or ""),
                    "consequence": str(it["consequence"] or ""), "subject": subject[:300], "body": body,
                    "superseded": lead != decision.deliver})
                already[(d.key, rec)].add(lead)
    tick("生成预警通知", len(deadlines), len(deadlines))
    return rows


# =========================================================================== delivery
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


@dataclass
class _Slot:
    notice: WarningNotice
    sub: NoticeSubscription
    channel: str
    target: str
    attempts: int


def _pending(s: Session, max_attempts: int) -> tuple[list[_Slot], int]:
    """Every (notice, subscription, channel) still to attempt: the subscription is active and was
    made before the notice was raised, the notice is not superseded, nothing was sent or skipped
    for it, and fewer than ``max_attempts`` attempts failed. Also: how many of them are retries."""
    subs = s.scalars(select(NoticeSubscription).where(NoticeSubscription.active.is_(True))
                     .order_by(NoticeSubscription.id)).all()
    if not subs:
        return [], 0
    by_j: dict[int, list[NoticeSubscription]] = defaultdict(list)
    by_e: dict[int, list[NoticeSubscription]] = defaultdict(list)
    for sub in subs:
        (by_j[sub.jurisdiction_id] if sub.jurisdiction_id is not None else by_e[sub.enterprise_id]).append(sub)
    since = min(audit.as_utc(sub.created_at) for sub in subs)
    cond = [WarningNotice.superseded.is_(False), WarningNotice.created_at >= since]
    who = []
    if by_j:
        who.append(WarningNotice.jurisdiction_id.in_(sorted(by_j)))
    if by_e:
        who.append(WarningNotice.enterprise_id.in_(sorted(by_e)))
    notices = s.scalars(select(WarningNotice).where(*cond, or_(*who)).order_by(WarningNotice.id)).all()
    if not notices:
        return [], 0
    done: set[tuple[int, int, str]] = set()
    failures: dict[tuple[int, int, str], int] = defaultdict(int)
    ids = [n.id for n in notices]
    for chunk in _chunks(ids):
        for nid, sid, ch, st, cnt in s.execute(
                select(WarningDelivery.notice_id, WarningDelivery.subscription_id, WarningDelivery.channel,
                       WarningDelivery.status, func.count())
                .where(WarningDelivery.notice_id.in_(chunk))
                .group_by(WarningDelivery.notice_id, WarningDelivery.subscription_id, WarningDelivery.channel,
                          WarningDelivery.status)):
            if st == "failed":
                failures[(nid, sid, ch)] += cnt
            else:
                done.add((nid, sid, ch))
    slots, retries = [], 0
    for n in notices:
        subs_n = by_j.get(n.jurisdiction_id, []) if n.jurisdiction_id is not None else by_e.get(n.enterprise_id, [])
        for sub in subs_n:
            if audit.as_utc(sub.created_at) > audit.as_utc(n.created_at):
                continue
            for channel, target in (("email", sub.email), ("webhook", sub.webhook_url)):
                k = (n.id, sub.id, channel)
                if not target or k in done or failures[k] >= max_attempts:
                    continue
                slots.append(_Slot(n, sub, channel, target, failures[k]))
                retries += failures[k] > 0
    return slots, retries


class _Mailer:
    """One SMTP connection per run, opened on the first e-mail; a connection error fails every
    e-mail of the run with that error (instead of waiting for the timeout once per message)."""

    def __init__(self, settings: DeliverySettings):
        self.settings = settings
        self.conn: smtplib.SMTP | None = None
        self.broken: str | None = None

    def _connect(self) -> smtplib.SMTP:
        st = self.settings
        if st.smtp_tls == "ssl":
            conn = smtplib.SMTP_SSL(st.smtp_host, st.smtp_port, timeout=st.smtp_timeout,
                                    context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=st.smtp_timeout)
            if st.smtp_tls == "starttls":
                conn.starttls(context=ssl.create_default_context())
        if st.smtp_user:
            conn.login(st.smtp_user, st.smtp_password)
        return conn

    def send(self, n: WarningNotice, to: str) -> None:
        if self.broken:
            raise ConnectionError(self.broken)
        if self.conn is None:
            try:
                self.conn = self._connect()
            except (OSError, smtplib.SMTPException) as exc:
                self.broken = f"无法连接邮件服务器 {self.settings.smtp_host}:{self.settings.smtp_port}：{_err(exc)}"
                raise ConnectionError(self.broken) from None
        msg = EmailMessage()
        msg["From"] = formataddr(("土地全生命周期管理平台", self.settings.smtp_sender))
        msg["To"] = to
        msg["Subject"] = n.subject
        msg["Message-ID"] = make_msgid(idstring=f"notice{n.id}")
        msg["X-Landcycle-Notice"] = str(n.id)
        msg.set_content(n.body, charset="utf-8")
        self.conn.send_message(msg)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass


def webhook_payload(n: WarningNotice) -> dict[str, Any]:
    """The JSON a webhook receives for one notice."""
    return {"notice_id": n.id, "deadline_key": n.deadline_key, "source": n.source, "kind": n.kind,
            "parcel_code": n.parcel_code, "label": n.label, "due_date": n.due_date.isoformat(),
            "days_left": n.days_left, "as_of": n.as_of.isoformat(), "lead_days": n.lead_days,
            "basis": n.basis, "consequence": n.consequence, "subject": n.subject, "text": n.body}


def _post(settings: DeliverySettings, url: str, n: WarningNotice, sub_id: int) -> None:
    body = json.dumps(webhook_payload(n), ensure_ascii=False).encode("utf-8")
    ts = str(int(time.time()))
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "landcycle-notices/1",
        rules.TIMESTAMP_HEADER: ts, rules.SIGNATURE_HEADER: rules.signature(settings.webhook_secret, ts, body),
        rules.DELIVERY_HEADER: f"{n.id}-{sub_id}"})
    try:
        with urllib.request.urlopen(req, timeout=settings.webhook_timeout) as resp:  # noqa: S310 - http(s) only
            if not 200 <= resp.status < 300:
                raise ConnectionError(f"接收方返回 HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise ConnectionError(f"接收方返回 HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"无法连接 {urlsplit(url).netloc}：{_err(getattr(exc, 'reason', exc))}") from None


def _webhook_refusal(settings: DeliverySettings, url: str) -> str | None:
    """Why the webhook ``url`` must not be requested (``domain.notices.webhook_refusal`` on the
    addresses its host resolves to now), or None. The request itself resolves the name again: a
    receiver's DNS answering differently between the two (rebinding) is not caught here."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []
    return rules.webhook_refusal(parts.hostname or "", sorted({i[4][0] for i in infos}), settings.webhook_allowed_hosts)


def _err(exc: Any) -> str:
    return f"{exc.__class__.__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)


def _deliver(db: Database, report: RunReport, settings: DeliverySettings, tick: Progress) -> None:
    with db.reader() as s:
        slots, report.retried = _pending(s, settings.max_attempts)
        s.expunge_all()
    mailer = _Mailer(settings)
    down: dict[str, str] = {}  # webhook host → error: one timeout per host per run
    try:
        for i, slot in enumerate(slots):
            tick("发送通知", i, len(slots))
            status, error = "sent", None
            try:
                if slot.channel == "email":
                    if not settings.smtp_host:
                        status, error = "skipped", "未配置邮件服务器（LANDCYCLE_SMTP_HOST），未发送；通知已记录在平台"
                    else:
                        mailer.send(slot.notice, slot.target)
                else:
                    host = urlsplit(slot.target).netloc
                    if not settings.webhook_secret:
                        status, error = "skipped", "未配置签名密钥（LANDCYCLE_WEBHOOK_SECRET），不发送未签名的请求；通知已记录在平台"
                    elif host in down:
                        raise ConnectionError(down[host])
                    elif refusal := _webhook_refusal(settings, slot.target):
                        status, error = "skipped", refusal
                    else:
                        try:
                            _post(settings, slot.target, slot.notice, slot.sub.id)
                        except ConnectionError as exc:
                            if "无法连接" in str(exc):
                                down[host] = str(exc)
                            raise
            except (ConnectionError, OSError, smtplib.SMTPException) as exc:
                status, error = "failed", (str(exc) if isinstance(exc, ConnectionError) else _err(exc))
            with db.transaction(actor="system", reason="预警通知发送") as s:
                s.add(WarningDelivery(notice_id=slot.notice.id, subscription_id=slot.sub.id, run_id=report.run_id,
                                      channel=slot.channel, target=slot.target, status=status,
                                      attempt=slot.attempts + 1, error=error[:2000] if error else None))
            setattr(report, status, getattr(report, status) + 1)
        tick("发送通知", len(slots), len(slots))
    finally:
        mailer.close()


# =========================================================================== reading
def _reader(viewer: Principal) -> None:
    if viewer.is_public:
        raise Unauthorized()
    if viewer.role is not Role.ENTERPRISE and viewer.role not in _OFFICIALS:
        raise Forbidden(f"{viewer.role.label}不接收预警通知；到期事项请查看“预警”页面")


def notice_condition(viewer: Principal):
    """Which notices ``viewer`` reads: an enterprise its own; officials those of parcels in
    their jurisdiction (addressed to the jurisdiction or to an enterprise there)."""
    if viewer.role is Role.ENTERPRISE:
        return WarningNotice.enterprise_id == viewer.enterprise_id if viewer.enterprise_id is not None else false()
    if viewer.everywhere:
        return true()
    conds = []
    if viewer.zone_ids:
        conds.append(WarningNotice.zone_id.in_(sorted(viewer.zone_ids)))
    if viewer.county_ids:
        conds.append(and_(WarningNotice.zone_id.is_(None), WarningNotice.county_id.in_(sorted(viewer.county_ids))))
    return or_(*conds) if conds else false()


def _day(value: date | str | None, field_: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(Problem("查询", field_, f"“{value}”应为日期 YYYY-MM-DD")) from None


def _iso(t: datetime | None) -> str | None:
    t = audit.as_utc(t)
    return t.isoformat() if t else None


def notices_page(db: Database, *, viewer: Principal | str, limit: int = 100, offset: int = 0,
                 as_of: date | str | None = None, parcel: str | None = None, recipient: str | None = None,
                 include_superseded: bool = False) -> dict[str, Any]:
    """A page of the notices ``viewer`` may read, newest first, each with its delivery attempts.
    Filters: the run day ``as_of``, a parcel code, ``recipient`` (jurisdiction / enterprise)."""
    viewer = as_principal(viewer)
    _reader(viewer)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(Problem("查询", "limit", f"每页条数应在1到{MAX_PAGE}之间"))
    conds = [notice_condition(viewer)]
    day = _day(as_of, "as_of")
    if day:
        conds.append(WarningNotice.as_of == day)
    if parcel:
        if "\x00" in parcel:
            raise ValidationFailed(Problem("查询", "parcel", "宗地代码中不能含有空字符"))
        conds.append(WarningNotice.parcel_code == parcel.strip())
    if recipient:
        if recipient not in ("jurisdiction", "enterprise"):
            raise ValidationFailed(Problem("查询", "recipient", f"接收方类型“{recipient}”无效，应为 jurisdiction（辖区）或 enterprise（企业）"))
        col = WarningNotice.jurisdiction_id if recipient == "jurisdiction" else WarningNotice.enterprise_id
        conds.append(col.is_not(None))
    if not include_superseded:
        conds.append(WarningNotice.superseded.is_(False))
    with db.reader() as s:
        total = s.scalar(select(func.count()).select_from(WarningNotice).where(*conds))
        rows = s.scalars(select(WarningNotice).where(*conds).order_by(WarningNotice.id.desc())
                         .limit(limit).offset(offset)).all()
        ids = [n.id for n in rows]
        deliveries: dict[int, list[dict]] = defaultdict(list)
        if ids:
            for d in s.scalars(select(WarningDelivery).where(WarningDelivery.notice_id.in_(ids))
                               .order_by(WarningDelivery.id)):
                deliveries[d.notice_id].append({"channel": d.channel, "target": d.target, "status": d.status,
                                                "status_label": DELIVERY_STATUS[d.status], "attempt": d.attempt,
                                                "error": d.error, "at": _iso(d.at)})
        jn = dict(s.execute(select(Jurisdiction.id, Jurisdiction.name)).all())
        eids = sorted({n.enterprise_id for n in rows if n.enterprise_id is not None})
        en = dict(s.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(eids))).all()) if eids else {}
        items = [_notice_view(n, jn, en, deliveries.get(n.id, [])) for n in rows]
    return {"total": int(total or 0), "limit": limit, "offset": offset, "items": items}


def _notice_view(n: WarningNotice, jn: dict[int, str], en: dict[int, str], deliveries: list[dict]) -> dict[str, Any]:
    """One notice as its readers see it, with its delivery attempts."""
    return {"id": n.id, "run_id": n.run_id, "as_of": n.as_of.isoformat(), "created_at": _iso(n.created_at),
            "source": n.source, "kind": n.kind, "label": n.label, "parcel_code": n.parcel_code,
            "zone": jn.get(n.zone_id), "county": jn.get(n.county_id), "due_date": n.due_date.isoformat(),
            "lead_days": n.lead_days, "days_left": n.days_left, "days_text": rules.days_text(n.days_left),
            "recipient": {"kind": "jurisdiction" if n.jurisdiction_id is not None else "enterprise",
                          "name": jn.get(n.jurisdiction_id) if n.jurisdiction_id is not None
                          else en.get(n.enterprise_id)},
            "basis": n.basis, "consequence": n.consequence, "subject": n.subject, "text": n.body,
            "superseded": n.superseded, "deliveries": deliveries}


DELIVERY_STATUS = {"sent": "已发送", "failed": "发送失败", "skipped": "未发送（未配置）"}


def runs_page(db: Database, *, viewer: Principal | str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """The job's runs, newest first (officials: the counts are city-wide totals, no parcel)."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    access_ok = viewer.role in _OFFICIALS and viewer.may(Action.READ_AUDIT)
    if not access_ok:
        raise Forbidden(f"{viewer.role.label}无权查看预警任务记录")
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(Problem("查询", "limit", f"每页条数应在1到{MAX_PAGE}之间"))
    with db.reader() as s:
        total = s.scalar(select(func.count()).select_from(WarningRun))
        rows = s.scalars(select(WarningRun).order_by(WarningRun.id.desc()).limit(limit).offset(offset)).all()
        items = [{"id": r.id, "as_of": r.as_of.isoformat(), "actor": r.actor, "started_at": _iso(r.started_at),
                  "finished_at": _iso(r.finished_at), "status": r.status, "deliver": r.deliver,
                  "sources": r.sources, "deadlines": r.deadlines, "notices": r.notices,
                  "superseded": r.superseded, "sent": r.sent, "failed": r.failed, "skipped": r.skipped,
                  "errors": r.errors} for r in rows]
    return {"total": int(total or 0), "limit": limit, "offset": offset, "items": items}


# =========================================================================== subscriptions
_RECORD = "预警订阅"


def _may_manage_jurisdiction(p: Principal, jid: int) -> bool:
    return p.role in _OFFICIALS and (p.everywhere or jid in p.zone_ids or jid in p.county_ids
                                     or jid == p.jurisdiction_id)


def _may_manage(p: Principal, sub: NoticeSubscription) -> bool:
    if sub.enterprise_id is not None:
        return (p.role is Role.ENTERPRISE and p.enterprise_id == sub.enterprise_id) or \
            (p.role is Role.CITY_ADMIN and p.everywhere)
    return _may_manage_jurisdiction(p, sub.jurisdiction_id)


def _manager(viewer: Principal) -> None:
    if viewer.is_public:
        raise Unauthorized()
    if viewer.role is not Role.ENTERPRISE and viewer.role not in _OFFICIALS:
        raise Forbidden(f"{viewer.role.label}不能管理预警订阅（由辖区管理部门或企业本身管理）")


def subscription_view(s: Session, sub: NoticeSubscription) -> dict[str, Any]:
    """One subscription as its managers read it."""
    j = s.get(Jurisdiction, sub.jurisdiction_id) if sub.jurisdiction_id is not None else None
    e = s.get(Enterprise, sub.enterprise_id) if sub.enterprise_id is not None else None
    return {"id": sub.id, "version": sub.version,
            "subscriber": {"kind": "jurisdiction", "code": j.code, "name": j.name} if j is not None
            else {"kind": "enterprise", "credit_code": e.credit_code, "name": e.name},
            "email": sub.email, "webhook_url": sub.webhook_url, "note": sub.note, "active": sub.active,
            "created_by": sub.created_by, "created_at": _iso(sub.created_at)}


def _channel_problems(email: Any, url: Any, record: str) -> list[Problem]:
    problems = []
    if email is not None and (not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email)):
        problems.append(Problem(record, "email", f"电子邮件地址“{email}”格式不正确"))
    if url is not None:
        try:
            parts = urlsplit(url) if isinstance(url, str) and "\x00" not in url else None
            host = parts.hostname if parts is not None else None
        except ValueError:  # e.g. "http://[" — not a URL at all
            parts = host = None
        if parts is None or parts.scheme not in ("http", "https") or not host or len(url) > 500 \
                or parts.username or parts.password or any(c.isspace() for c in url):
            problems.append(Problem(record, "webhook_url",
                                    f"回调地址“{url}”应为不含账号密码的 http:// 或 https:// 网址（500字符以内）"))
        elif refusal := _literal_address_refusal(host):
            problems.append(Problem(record, "webhook_url", refusal, "webhook_not_allowed"))
    return problems


def _literal_address_refusal(host: str) -> str | None:
    """A receiver written as an IP address is judged when subscribing (a host name is judged at
    each delivery, on the addresses it then resolves to)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    allowed, _bad = rules.parse_allowed_hosts(os.environ.get(rules.ALLOWED_HOSTS_SETTING) or "")
    return rules.webhook_refusal(host, [host], allowed)


def _clean(value: Any) -> Any:
    return value.strip() or None if isinstance(value, str) else value


def list_subscriptions(db: Database, *, viewer: Principal | str, include_inactive: bool = False) -> list[dict]:
    """The subscriptions ``viewer`` manages (officials: their jurisdictions'; an enterprise: its own;
    city level: all)."""
    viewer = as_principal(viewer)
    _manager(viewer)
    with db.reader() as s:
        q = select(NoticeSubscription).order_by(NoticeSubscription.id)
        if not include_inactive:
            q = q.where(NoticeSubscription.active.is_(True))
        if viewer.role is Role.ENTERPRISE:
            q = q.where(NoticeSubscription.enterprise_id == viewer.enterprise_id)
        elif not viewer.everywhere:
            mine = sorted(viewer.zone_ids | viewer.county_ids | ({viewer.jurisdiction_id} - {None}))
            q = q.where(NoticeSubscription.jurisdiction_id.in_(mine))
        return [subscription_view(s, x) for x in s.scalars(q)]


def create_subscription(db: Database, *, viewer: Principal | str, jurisdiction: str | None = None,
                        enterprise: str | None = None, email: str | None = None, webhook_url: str | None = None,
                        note: str | None = None) -> dict[str, Any]:
    """Subscribe a county/zone (officials of it, or above it) or an enterprise (itself; the city
    level on its behalf) to notices by e-mail and/or webhook. Refusals change nothing."""
    viewer = as_principal(viewer)
    _manager(viewer)
    email, webhook_url, note = _clean(email), _clean(webhook_url), _clean(note)
    problems = _channel_problems(email, webhook_url, _RECORD)
    if email is None and webhook_url is None:
        problems.append(Problem(_RECORD, "email", "电子邮件地址和回调地址至少填写一项"))
    if note is not None and len(note) > 200:
        problems.append(Problem(_RECORD, "note", "备注不能超过200个字符"))
    with db.transaction(actor=viewer.actor, reason="新建预警订阅") as s:
        jid = eid = None
        if viewer.role is Role.ENTERPRISE:
            if jurisdiction or (enterprise and enterprise != _credit_code(s, viewer.enterprise_id)):
                raise Forbidden("企业只能为本企业订阅预警通知")
            eid = viewer.enterprise_id
            if eid is None:
                raise Forbidden("该企业账号未绑定企业")
        elif enterprise:
            if jurisdiction:
                problems.append(Problem(_RECORD, "enterprise", "辖区和企业只能填写一项"))
            if not (viewer.role is Role.CITY_ADMIN and viewer.everywhere):
                raise Forbidden("企业的预警订阅由企业本身管理")
            e = s.scalar(select(Enterprise).where(Enterprise.credit_code == enterprise.strip()))
            if e is None:
                raise ValidationFailed(problems + [Problem(_RECORD, "enterprise", f"未知的企业“{enterprise}”")])
            eid = e.id
        else:
            if jurisdiction:
                j = _resolve(s, jurisdiction)
            elif viewer.jurisdiction_id is not None:
                j = s.get(Jurisdiction, viewer.jurisdiction_id)
            else:
                raise ValidationFailed(problems + [Problem(_RECORD, "jurisdiction", "请指定订阅的县(市、区)或产业集聚区")])
            if j.kind not in (JurisdictionKind.COUNTY.value, JurisdictionKind.ZONE.value):
                problems.append(Problem(_RECORD, "jurisdiction",
                                        f"“{j.name}”是{JurisdictionKind(j.kind).label}：只有县(市、区)和产业集聚区接收预警通知"))
            elif not _may_manage_jurisdiction(viewer, j.id):
                raise NotFound("辖区", jurisdiction or j.name)
            jid = j.id
        if problems:
            raise ValidationFailed(problems)
        sub = NoticeSubscription(jurisdiction_id=jid, enterprise_id=eid, email=email, webhook_url=webhook_url,
                                 note=note, active=True, created_by=viewer.actor)
        s.add(sub)
        s.flush()
        return subscription_view(s, sub)


def _credit_code(s: Session, eid: int | None) -> str | None:
    return s.scalar(select(Enterprise.credit_code).where(Enterprise.id == eid)) if eid is not None else None


def _resolve(s: Session, key: str) -> Jurisdiction:
    from .jurisdictions import resolve
    return resolve(s, key, None, _RECORD, "jurisdiction")


def update_subscription(db: Database, sub_id: int, changes: dict[str, Any], expected_version: int, *,
                        viewer: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change a subscription's e-mail, webhook, note or ``active`` (deactivating is how one is
    removed: its deliveries stay on file). Stale version → 409; outside the caller's reach → 404."""
    viewer = as_principal(viewer)
    _manager(viewer)
    allowed = {"email", "webhook_url", "note", "active"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationFailed([Problem(f"{_RECORD} {sub_id}", k, "不能修改该字段") for k in unknown])
    record = f"{_RECORD} {sub_id}"

    def load(s: Session) -> NoticeSubscription:
        sub = s.get(NoticeSubscription, sub_id)
        if sub is None:
            raise NotFound(_RECORD, str(sub_id))
        return sub

    def authorize(s: Session, sub: NoticeSubscription) -> None:
        if not _may_manage(viewer, sub):
            raise NotFound(_RECORD, str(sub_id))

    def apply(s: Session, sub: NoticeSubscription) -> None:
        new = {k: _clean(v) for k, v in changes.items()}
        email = new.get("email", sub.email)
        url = new.get("webhook_url", sub.webhook_url)
        problems = _channel_problems(email if "email" in new else None, url if "webhook_url" in new else None, record)
        if email is None and url is None:
            problems.append(Problem(record, "email", "电子邮件地址和回调地址至少保留一项"))
        if "active" in new and not isinstance(new["active"], bool):
            problems.append(Problem(record, "active", "应为 true 或 false"))
        if new.get("note") is not None and len(new["note"]) > 200:
            problems.append(Problem(record, "note", "备注不能超过200个字符"))
        if problems:
            raise ValidationFailed(problems)
        for k, v in new.items():
            if getattr(sub, k) != v:
                setattr(sub, k, v)

    return audit.guarded_update(db, viewer, what=_RECORD, key=str(sub_id), expected_version=expected_version,
                                attempted=changes, load=load, authorize=authorize, apply=apply,
                                view=subscription_view, reason=reason)
