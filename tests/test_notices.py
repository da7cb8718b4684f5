"""预警通知 (issue 7, item 7): the daily job on SQLite and PostgreSQL — the 30/7-day thresholds at
their boundaries, idempotence across repeated and skipped days, delivery to a real local SMTP
server (aiosmtpd) and a real local HTTP receiver (signature checked), no server → skipped, a
server down → failed then retried (bounded), and who reads which notices and subscriptions."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import shapely
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text

from conftest import PASSWORD, bearer, run_cli
from landcycle.domain import notices as rules
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import EnterpriseDraft, OccupancyDraft, ParcelDraft, SupplyContractDraft
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, jurisdictions, ledgers, notices, registry
from landcycle.storage.notice_schema import WarningDelivery, WarningNotice, WarningRun

AS_OF = date(2026, 6, 1)
W30 = "411002001001GB00201"  # 魏都 zone: agreed start in exactly 30 days
W31 = "411002001001GB00202"  # 魏都 zone: agreed start in 31 days — not yet
C7 = "411082001001GB00201"   # 长葛 zone: agreed start in 7 days
ENT_A = credit_code_with_check("91411002MA44NTCA0")
ENT_B = credit_code_with_check("91411082MA44NTCB0")
SECRET = "测试密钥-secret"
CONTRACT = {"contract": notices.contract_deadline_items}


# =========================================================================== pure rules
def test_thresholds_are_crossed_at_their_boundaries():
    assert rules.crossed(31, [30, 7]) == []
    assert rules.crossed(30, [30, 7]) == [30]
    assert rules.crossed(8, [7, 30]) == [30]
    assert rules.crossed(7, [30, 7]) == [7, 30]
    assert rules.crossed(-400, [30, 7]) == [7, 30]
    assert rules.to_raise(31, [30, 7]) == rules.Raise(None, ())
    assert rules.to_raise(30, [30, 7]) == rules.Raise(30, ())
    assert rules.to_raise(12, [30, 7], {30}) == rules.Raise(None, ())
    # the job did not run between D-30 and D-7: both recorded, only the tighter delivered
    assert rules.to_raise(5, [30, 7]) == rules.Raise(7, (30,))
    assert rules.to_raise(5, [30, 7], {30}) == rules.Raise(7, ())
    assert rules.to_raise(5, [30, 7], {30, 7}) == rules.Raise(None, ())
    # a lead added later that is looser than one already sent: recorded, not delivered
    assert rules.to_raise(5, [30, 14, 7], {30, 7}) == rules.Raise(None, (14,))
    assert rules.days_text(3) == "还有 3 天" and rules.days_text(0) == "今天到期" and rules.days_text(-2) == "已逾期 2 天"


def test_signature_is_hmac_over_timestamp_and_body():
    body = json.dumps({"a": "宗地"}, ensure_ascii=False).encode()
    sig = rules.signature("k", "1700000000", body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert rules.verify("k", "1700000000", body, sig)
    assert not rules.verify("k", "1700000001", body, sig) and not rules.verify("x", "1700000000", body, sig)
    assert not rules.verify("k", "1700000000", body + b" ", sig) and not rules.verify("k", "1", body, "")


# =========================================================================== servers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    box = _Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    box.port = ctl.port
    yield box
    ctl.stop()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/landcycle"
    yield server
    server.shutdown()
    server.server_close()


def settings(smtp=None, secret=SECRET, port=None, **kw) -> notices.DeliverySettings:
    kw.setdefault("webhook_allowed_hosts", ("127.0.0.1",))  # the test receivers listen on loopback
    return notices.DeliverySettings(smtp_host="127.0.0.1" if (smtp or port) else "",
                                    smtp_port=port or (smtp.port if smtp else 25), smtp_sender="yujing@landcycle.test",
                                    smtp_timeout=5, webhook_secret=secret, webhook_timeout=5, **kw)


@pytest.fixture(autouse=True)
def loopback_receivers_allowed(monkeypatch):
    """The receivers of these tests listen on 127.0.0.1, which a deployment without an allow-list
    refuses (see the webhook-target tests, which clear this)."""
    monkeypatch.setenv(rules.ALLOWED_HOSTS_SETTING, "127.0.0.1")


# =========================================================================== world
def _zone_point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


@pytest.fixture
def world(db):
    wx, wy = _zone_point(db, "魏都产业集聚区")
    cx, cy = _zone_point(db, "长葛市产业集聚区")
    weidu = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0, state="已供应")
    registry.register_parcels(db, [
        ParcelDraft(code=W30, geometry=rectangle_around(wx, wy, 0.2, 0.15), location="魏都北路1号", **weidu),
        ParcelDraft(code=W31, geometry=rectangle_around(wx + 0.004, wy, 0.2, 0.15), **weidu),
        ParcelDraft(code=C7, geometry=rectangle_around(cx, cy, 0.2, 0.15), county="长葛市", zone="长葛市产业集聚区",
                    plot_ratio_min=1.0, state="已供应"),
    ], actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(ENT_A, "许昌预警甲有限公司", "C3411", True, "魏都区"), actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(ENT_B, "长葛预警乙有限公司", "C3411", True, "长葛市"), actor="测试")
    for code, ent, days in ((W30, ENT_A, 30), (W31, ENT_A, 31), (C7, ENT_B, 7)):
        enterprises.add_occupancy(db, OccupancyDraft(code, ent, "权利人", 10000, date(2026, 1, 1)), actor="测试")
        start = AS_OF + timedelta(days=days)
        ledgers.add_contract(db, code, SupplyContractDraft(f"YJ-{code}", ent, "出让", date(2026, 1, 10), 50,
                                                           800.0, start, start + timedelta(730)), actor="测试")
    return db


def _ids(db):
    with db.reader() as s:
        j = {n: jurisdictions.resolve(s, n).id for n in ("魏都产业集聚区", "长葛市产业集聚区", "魏都区")}
        e = dict(s.execute(text("SELECT credit_code, id FROM enterprises")).all())
    return j, e


def _notices(db):
    with db.reader() as s:
        return s.execute(select(WarningNotice.parcel_code, WarningNotice.lead_days, WarningNotice.recipient,
                                WarningNotice.superseded, WarningNotice.days_left)
                         .order_by(WarningNotice.id)).all()


def _run(db, day, **kw):
    kw.setdefault("sources", CONTRACT)
    kw.setdefault("settings", notices.DeliverySettings())
    return notices.run(db, day, actor="测试任务", **kw)


# =========================================================================== thresholds, idempotence
def test_thresholds_and_idempotence_across_repeated_and_skipped_days(world):
    db = world
    j, e = _ids(db)
    zone_w, zone_c = f"jurisdiction:{j['魏都产业集聚区']}", f"jurisdiction:{j['长葛市产业集聚区']}"
    ent_a, ent_b = f"enterprise:{e[ENT_A]}", f"enterprise:{e[ENT_B]}"
    rep = _run(db, AS_OF)
    assert rep.status == "finished" and rep.deadlines == 2 and rep.errors == []
    got = {(c, lead, r): (sup, left) for c, lead, r, sup, left in _notices(db)}
    # 30 days before → raised at 30 for the zone and the owner; 31 days before → nothing
    assert got[(W30, 30, zone_w)] == (False, 30) and got[(W30, 30, ent_a)] == (False, 30)
    assert not any(c == W31 for c, _, _ in got)
    # first seen 7 days before: the 7-day notice is delivered, the 30-day one recorded as superseded
    assert got[(C7, 7, zone_c)] == (False, 7) and got[(C7, 30, zone_c)] == (True, 7)
    assert got[(C7, 7, ent_b)] == (False, 7) and (C7, 30, ent_b) in got
    assert len(got) == 6 and rep.notices == 4 and rep.superseded == 2
    assert rep.by_recipient == {"jurisdiction": 2, "enterprise": 2}  # superseded ones not counted

    # the same day again: nothing new
    again = _run(db, AS_OF)
    assert (again.notices, again.superseded, again.deadlines) == (0, 0, 2) and len(_notices(db)) == 6
    # the next day: W31 is now 30 days away
    nxt = _run(db, AS_OF + timedelta(days=1))
    new = _notices(db)[6:]
    assert {(c, lead, r) for c, lead, r, _, _ in new} == {(W31, 30, zone_w), (W31, 30, ent_a)}
    assert nxt.notices == 2
    # the job does not run for 3 weeks: W30 crossed 7 days on AS_OF+23 — raised once on AS_OF+25
    skipped = _run(db, AS_OF + timedelta(days=25))
    new = _notices(db)[8:]
    assert {(c, lead, r, left) for c, lead, r, _, left in new} == {
        (W30, 7, zone_w, 5), (W30, 7, ent_a, 5), (W31, 7, zone_w, 6), (W31, 7, ent_a, 6)}
    assert skipped.notices == 4 and skipped.superseded == 0
    for day in (25, 26, 40, 300):  # overdue: no lead is left to cross
        assert _run(db, AS_OF + timedelta(days=day)).notices == 0
    assert len(_notices(db)) == 12
    # a year after the agreed start the next R3 step (闲置满一年) is a new deadline: raised once,
    # overdue already — the 7-day notice goes out, the 30-day one is superseded
    late = _run(db, AS_OF + timedelta(days=400))
    assert (late.notices, late.superseded) == (6, 6)
    with db.reader() as s:
        kinds = s.execute(select(WarningNotice.kind, WarningNotice.lead_days, WarningNotice.superseded)
                          .where(WarningNotice.run_id == late.run_id)).all()
    assert {(k, lead, sup) for k, lead, sup in kinds} == {("idle_fee", 7, False), ("idle_fee", 30, True)}
    assert _run(db, AS_OF + timedelta(days=401)).notices == 0
    with db.reader() as s:
        runs = s.scalars(select(WarningRun).order_by(WarningRun.id)).all()
        assert len(runs) == 10 and all(r.finished_at and r.status == "finished" and r.actor == "测试任务" for r in runs)
        assert [r.notices for r in runs[:3]] == [4, 0, 2]


def test_enterprise_gets_only_current_owners_deadlines(world):
    db = world
    # a tenant of W30 (another enterprise) is not a party to the contract: not notified
    enterprises.add_occupancy(db, OccupancyDraft(W30, ENT_B, "承租人", 1000, date(2026, 2, 1)), actor="测试")
    _run(db, AS_OF)
    j, e = _ids(db)
    w30 = {r for c, _, r, _, _ in _notices(db) if c == W30}
    assert w30 == {f"jurisdiction:{j['魏都产业集聚区']}", f"enterprise:{e[ENT_A]}"}


def test_a_registered_source_feeds_the_job_and_a_broken_one_does_not_stop_it(world):
    db = world
    j, e = _ids(db)

    def approvals_like(db_, viewer, as_of):
        assert viewer.everywhere  # the job asks each source once for everything, then fans out
        return [{"parcel_code": W31, "county_id": j["魏都区"], "zone_id": j["魏都产业集聚区"],
                 "kind": "permit_filing", "label": "告知承诺核查期限", "due": (as_of + timedelta(days=7)).isoformat(),
                 "basis": "000:1010 告知承诺制", "consequence": "逾期未核查的，撤销许可"},
                {"parcel_code": W31, "kind": "broken"},
                {"parcel_code": W31 + "X", "county_id": None, "zone_id": None, "kind": "k", "label": "l",
                 "due": as_of, "basis": "b", "consequence": "c"},
                {"parcel_code": W31, "county_id": None, "zone_id": None, "kind": "k", "label": "l",
                 "due": "2026-02-30", "basis": "b", "consequence": "c"},
                {"parcel_code": C7, "county_id": None, "zone_id": None, "kind": "far", "label": "远期",
                 "due": as_of + timedelta(days=31), "basis": "b", "consequence": "c"}]

    def broken(db_, viewer, as_of):
        raise RuntimeError("数据源不可用")

    notices.register_source("test_approvals", approvals_like)
    try:
        assert "test_approvals" in notices.registered_sources()
        rep = notices.run(db, AS_OF, actor="测试任务", settings=notices.DeliverySettings(),
                          sources={**CONTRACT, "test_approvals": approvals_like, "broken": broken})
    finally:
        notices.unregister_source("test_approvals")
    assert "test_approvals" not in notices.registered_sources()
    assert rep.status == "partial" and rep.by_source == {"contract": 2, "test_approvals": 1}
    assert [x["source"] for x in rep.errors] == ["test_approvals"] * 3 + ["broken"]
    assert "缺少字段 county_id、zone_id、label、due、basis、consequence" in rep.errors[0]["error"]
    assert "不超过19位" in rep.errors[1]["error"] and "不是日期" in rep.errors[2]["error"]
    assert "数据源不可用" in rep.errors[3]["error"]
    with db.reader() as s:
        [n] = s.scalars(select(WarningNotice).where(WarningNotice.source == "test_approvals",
                                                    WarningNotice.enterprise_id.is_not(None),
                                                    WarningNotice.superseded.is_(False))).all()
        assert n.lead_days == 7 and n.kind == "permit_filing" and n.enterprise_id == e[ENT_A]
        assert n.deadline_key == f"test_approvals|permit_filing|{W31}|{(AS_OF + timedelta(7)).isoformat()}"
        assert "告知承诺核查期限" in n.subject and "逾期未核查的，撤销许可" in n.body
        assert s.get(WarningRun, rep.run_id).status == "partial"
        assert s.get(WarningRun, rep.run_id).errors[3]["source"] == "broken"


# =========================================================================== delivery
def _subscribe(db, who="weidu_zone", **kw):
    return notices.create_subscription(db, viewer=_principal(db, who), **kw)


def _principal(db, username):
    with db.reader() as s:
        from landcycle.storage.account_schema import User
        return accounts_service.principal_of(s, s.scalar(select(User).where(User.username == username)))


@pytest.fixture
def people(world, accounts):
    accounts_service.add_user(world, "ent_a", PASSWORD, role="enterprise", enterprise=ENT_A)
    accounts_service.add_user(world, "ent_b", PASSWORD, role="enterprise", enterprise=ENT_B)
    return world


def _deliveries(db):
    with db.reader() as s:
        rows = s.scalars(select(WarningDelivery).order_by(WarningDelivery.id)).all()
        s.expunge_all()  # read after the reader's rollback
        return rows


def test_email_and_webhook_are_delivered_with_the_message_and_a_valid_signature(people, smtp, hook):
    db = people
    _subscribe(db, "weidu_zone", email="weidu@zone.test", webhook_url=hook.url)
    _subscribe(db, "changge_zone", email="changge@zone.test")
    _subscribe(db, "ent_a", email="a@ent.test")
    rep = _run(db, AS_OF, settings=settings(smtp))
    assert (rep.sent, rep.failed, rep.skipped) == (4, 0, 0)  # W30: zone mail + hook + ent_a mail; C7: zone mail
    by_to = {tuple(to): m for to, m in smtp.messages}
    assert set(by_to) == {("weidu@zone.test",), ("changge@zone.test",), ("a@ent.test",)}
    m = by_to[("weidu@zone.test",)]
    assert m["Subject"] == f"【土地预警】宗地 {W30} 约定动工期限：还有 30 天（{(AS_OF + timedelta(30)).isoformat()}）"
    body = m.get_content()
    for part in (f"宗地：{W30}（魏都北路1号，魏都产业集聚区）", "事项：约定动工期限", "期限：2026-07-01",
                 "剩余天数：还有 30 天（截至 2026-06-01）", "预警提前量：30 天", "依据：R3：出让合同", "闲置土地处置办法第二条",
                 "逾期后果：超过约定动工日期满一年未动工的"):
        assert part in body, part
    assert body.startswith("魏都产业集聚区管理机构：") and by_to[("a@ent.test",)].get_content().startswith("许昌预警甲有限公司：")
    assert "7 天" in by_to[("changge@zone.test",)]["Subject"]  # 长葛 gets its own parcel only
    assert W30 not in by_to[("changge@zone.test",)].get_content()
    [(path, headers, raw)] = hook.received
    assert path == "/landcycle" and headers["Content-Type"].startswith("application/json")
    assert rules.verify(SECRET, headers[rules.TIMESTAMP_HEADER], raw, headers[rules.SIGNATURE_HEADER])
    assert not rules.verify("wrong", headers[rules.TIMESTAMP_HEADER], raw, headers[rules.SIGNATURE_HEADER])
    payload = json.loads(raw.decode("utf-8"))
    assert payload["parcel_code"] == W30 and payload["days_left"] == 30 and payload["lead_days"] == 30
    assert payload["due_date"] == "2026-07-01" and payload["kind"] == "start" and "闲置费" in payload["consequence"]
    assert headers[rules.DELIVERY_HEADER].startswith(f"{payload['notice_id']}-")
    # a second run sends nothing again
    again = _run(db, AS_OF, settings=settings(smtp))
    assert (again.sent, again.failed, again.skipped) == (0, 0, 0) and len(smtp.messages) == 3 and len(hook.received) == 1
    assert {d.status for d in _deliveries(db)} == {"sent"} and len(_deliveries(db)) == 4


def test_no_server_configured_is_skipped_and_the_run_completes(people):
    db = people
    sub = _subscribe(db, "weidu_zone", email="weidu@zone.test", webhook_url="http://127.0.0.1:9/x")
    rep = _run(db, AS_OF)  # nothing configured
    assert rep.status == "finished" and (rep.sent, rep.failed, rep.skipped) == (0, 0, 2)
    ds = _deliveries(db)
    assert {(d.channel, d.status, d.subscription_id) for d in ds} == {("email", "skipped", sub["id"]),
                                                                      ("webhook", "skipped", sub["id"])}
    assert any("LANDCYCLE_SMTP_HOST" in d.error for d in ds) and any("LANDCYCLE_WEBHOOK_SECRET" in d.error for d in ds)
    # skipped is final for that notice: later runs do not pile up rows
    assert _run(db, AS_OF + timedelta(days=1)).skipped == 2  # only W31's new notice
    assert len(_deliveries(db)) == 4
    # --no-deliver: recorded, not attempted; the next delivering run sends what is pending
    _subscribe(db, "changge_zone", email="changge@zone.test")
    assert _run(db, AS_OF + timedelta(days=2), deliver=False).skipped == 0


@pytest.mark.parametrize("host, addresses, allowed, refused", [
    ("hooks.example.com", ["93.184.215.14"], "", False),                 # the public Internet
    ("localhost", ["127.0.0.1", "::1"], "", True),                       # the platform's own machine
    ("169.254.169.254", ["169.254.169.254"], "", True),                  # a cloud metadata address
    ("erp.local", ["10.20.1.5"], "", True),                              # an intranet, not listed
    ("erp.local", ["10.20.1.5"], "10.20.0.0/16", False),                 # … listed by its network
    ("erp.local", ["10.20.1.5", "10.30.0.1"], "10.20.0.0/16", True),     # every address must be inside
    ("hook.xuchang.gov.cn", ["10.1.1.1"], "*.gov.cn", False),            # a listed suffix
    ("gov.cn.attacker.test", ["93.184.215.14"], "*.gov.cn", True),       # … matched as a suffix only
    ("hooks.example.com", ["93.184.215.14"], "*.gov.cn", True),          # with a list, only the list
    ("nowhere.test", [], "", True),                                      # unresolvable
])
def test_where_webhooks_may_go(host, addresses, allowed, refused):
    entries, bad = rules.parse_allowed_hosts(allowed)
    assert not bad
    reason = rules.webhook_refusal(host, addresses, entries)
    assert (reason is not None) == refused, reason
    if refused and addresses and not allowed:
        assert rules.ALLOWED_HOSTS_SETTING in reason


def test_a_webhook_into_the_platforms_own_network_is_not_sent(people, hook, monkeypatch):
    """A subscriber names the receiver, the platform's server makes the request: without an
    allow-list a loopback receiver is refused — when subscribing by address, when delivering by
    name — and the delivery says why; nothing reaches it."""
    db = people
    monkeypatch.delenv(rules.ALLOWED_HOSTS_SETTING)
    with pytest.raises(notices.ValidationFailed) as exc:
        _subscribe(db, "weidu_zone", webhook_url=hook.url)
    (p,) = exc.value.problems
    assert p.field == "webhook_url" and p.code == "webhook_not_allowed" and "127.0.0.1" in p.message
    by_name = hook.url.replace("127.0.0.1", "localhost")
    _subscribe(db, "weidu_zone", webhook_url=by_name)
    rep = _run(db, AS_OF, settings=settings(webhook_allowed_hosts=()))
    assert (rep.sent, rep.failed, rep.skipped) == (0, 0, 1) and hook.received == []
    (d,) = _deliveries(db)
    assert d.status == "skipped" and "指向本机或内部网络地址" in d.error and rules.ALLOWED_HOSTS_SETTING in d.error


def test_settings_come_from_the_environment_and_bad_values_are_named():
    s = notices.DeliverySettings.from_env({"LANDCYCLE_SMTP_HOST": "mail.xc.gov.cn", "LANDCYCLE_SMTP_TLS": "ssl",
                                           "LANDCYCLE_SMTP_SENDER": "yujing@xc.gov.cn",
                                           "LANDCYCLE_WEBHOOK_SECRET": "s", "LANDCYCLE_NOTICE_MAX_ATTEMPTS": "3"})
    assert (s.smtp_port, s.smtp_tls, s.max_attempts, s.webhook_timeout) == (465, "ssl", 3, 10.0)
    assert notices.DeliverySettings.from_env({}).smtp_host == ""
    with pytest.raises(notices.ValidationFailed) as exc:
        notices.DeliverySettings.from_env({"LANDCYCLE_SMTP_HOST": "h", "LANDCYCLE_SMTP_PORT": "x",
                                           "LANDCYCLE_SMTP_TLS": "maybe", "LANDCYCLE_WEBHOOK_TIMEOUT": "0"})
    assert sorted(p.field for p in exc.value.problems) == ["LANDCYCLE_SMTP_PORT", "LANDCYCLE_SMTP_SENDER",
                                                           "LANDCYCLE_SMTP_TLS", "LANDCYCLE_WEBHOOK_TIMEOUT"]
    allowed = notices.DeliverySettings.from_env({rules.ALLOWED_HOSTS_SETTING: " *.gov.cn, 10.20.0.0/16 ,"})
    assert allowed.webhook_allowed_hosts == ("*.gov.cn", "10.20.0.0/16")
    with pytest.raises(notices.ValidationFailed) as exc:
        notices.DeliverySettings.from_env({rules.ALLOWED_HOSTS_SETTING: "*.gov.cn, http://x/"})
    (p,) = exc.value.problems
    assert p.field == rules.ALLOWED_HOSTS_SETTING and "http://x/" in p.message


def test_a_server_down_fails_then_is_retried_a_bounded_number_of_times(people, smtp, hook):
    db = people
    _subscribe(db, "weidu_zone", email="weidu@zone.test", webhook_url=hook.url)
    dead = _free_port()  # nothing listens there
    hook.statuses = [500]
    rep = _run(db, AS_OF, settings=settings(port=dead, max_attempts=3))
    assert rep.status == "finished" and (rep.sent, rep.failed) == (0, 2)
    errors = {d.channel: d.error for d in _deliveries(db)}
    assert "无法连接邮件服务器" in errors["email"] and "HTTP 500" in errors["webhook"]
    # down again: attempt 2 fails; then the server is back: attempt 3 is sent (same notice, once)
    rep = _run(db, AS_OF, settings=settings(port=dead, max_attempts=3), sources={})
    assert (rep.sent, rep.failed, rep.retried) == (1, 1, 2)  # the webhook receiver answers 200 now
    rep = _run(db, AS_OF, settings=settings(smtp, max_attempts=3))
    assert (rep.sent, rep.failed, rep.retried) == (1, 0, 1)
    ds = _deliveries(db)
    assert [(d.channel, d.status, d.attempt) for d in ds] == [
        ("email", "failed", 1), ("webhook", "failed", 1), ("email", "failed", 2), ("webhook", "sent", 2),
        ("email", "sent", 3)]
    [(_, m)] = smtp.messages
    assert W30 in m["Subject"] and len(hook.received) == 2
    # bounded: a notice that failed max_attempts times is given up
    # (a subscription made after a notice was raised does not receive it: 长葛's C7 notice predates this one)
    _subscribe(db, "changge_zone", email="changge@zone.test")
    for _ in range(3):  # W31 crosses 30 days on AS_OF+1
        _run(db, AS_OF + timedelta(days=1), settings=settings(port=dead, max_attempts=2))
    with db.reader() as s:
        w31 = set(s.scalars(select(WarningNotice.id).where(WarningNotice.parcel_code == W31)))
    later = [(d.channel, d.status, d.attempt) for d in _deliveries(db) if d.notice_id in w31]
    assert later == [("webhook", "sent", 1), ("email", "failed", 1), ("email", "failed", 2)] or \
        later == [("email", "failed", 1), ("webhook", "sent", 1), ("email", "failed", 2)]
    assert not any(d.target == "changge@zone.test" for d in _deliveries(db))


def test_history_is_append_only(people):
    db = people
    _subscribe(db, "weidu_zone", email="weidu@zone.test")
    _run(db, AS_OF)
    for stmt in ("UPDATE warning_notices SET days_left = 0", "DELETE FROM warning_notices",
                 "UPDATE warning_deliveries SET status = 'sent'", "DELETE FROM warning_deliveries",
                 "UPDATE warning_runs SET notices = 99", "DELETE FROM warning_runs"):
        with pytest.raises(Exception) as exc:
            with db.transaction() as s:
                s.execute(text(stmt))
        assert "只能追加" in str(exc.value) or "不能修改" in str(exc.value), stmt
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(WarningNotice)) == 6  # 4 + 2 superseded
        assert s.scalar(select(func.count()).select_from(WarningDelivery)) == 1


# =========================================================================== API: who reads what
@pytest.fixture
def web(people, api):
    _run(people, AS_OF)
    tokens = {}

    def h(user):
        if user is None:
            return {}
        if user not in tokens:
            tokens[user] = bearer(api, user)
        return tokens[user]
    return api, h


def _codes(api, h, user, **params):
    r = api.get("/api/warnings/notices", headers=h(user), params=params)
    assert r.status_code == 200, r.text
    return r.json(), {(n["parcel_code"], n["recipient"]["kind"]) for n in r.json()["items"]}


def test_notices_are_scoped_by_jurisdiction_and_enterprise(web):
    api, h = web
    body, got = _codes(api, h, "weidu_zone")
    assert got == {(W30, "jurisdiction"), (W30, "enterprise")} and body["total"] == 2
    assert {n["recipient"]["name"] for n in body["items"]} == {"魏都产业集聚区", "许昌预警甲有限公司"}
    n = body["items"][0]
    assert n["days_text"] == "还有 30 天" and n["lead_days"] == 30 and "逾期后果" in n["text"] and n["deliveries"] == []
    assert _codes(api, h, "changge_zone")[1] == {(C7, "jurisdiction"), (C7, "enterprise")}
    assert _codes(api, h, "weidu_admin")[1] == {(W30, "jurisdiction"), (W30, "enterprise")}  # its zone
    assert _codes(api, h, "changge_admin")[1] == {(C7, "jurisdiction"), (C7, "enterprise")}
    assert len(_codes(api, h, "city")[1]) == 4
    assert _codes(api, h, "city", superseded="true")[0]["total"] == 6
    assert _codes(api, h, "ent_a")[1] == {(W30, "enterprise")}
    assert _codes(api, h, "ent_b")[1] == {(C7, "enterprise")}
    body, got = _codes(api, h, "ent_a", parcel=C7)
    assert body["total"] == 0  # another's parcel: nothing, not even a count
    assert _codes(api, h, "city", recipient="enterprise", limit=1)[0]["total"] == 2
    assert _codes(api, h, "city", as_of="2026-06-02")[0]["total"] == 0
    assert api.get("/api/warnings/notices").status_code == 401
    assert api.get("/api/warnings/notices", headers=h("tax_city")).status_code == 403
    r = api.get("/api/warnings/notices", headers=h("city"), params={"recipient": "x"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "recipient"
    # runs: officials only
    r = api.get("/api/warnings/runs", headers=h("weidu_zone"))
    assert r.status_code == 200 and r.json()["items"][0]["notices"] == 4
    assert api.get("/api/warnings/runs", headers=h("ent_a")).status_code == 403
    assert api.get("/api/warnings/runs").status_code == 401


def test_subscriptions_are_managed_by_their_jurisdiction_or_enterprise(web):
    api, h = web
    url = "/api/warnings/subscriptions"
    r = api.post(url, headers=h("weidu_zone"), json={"email": "zone@weidu.test"})  # own zone by default
    assert r.status_code == 201 and r.headers["etag"] == '"1"', r.text
    zone_sub = r.json()
    assert zone_sub["subscriber"] == {"kind": "jurisdiction", "code": zone_sub["subscriber"]["code"], "name": "魏都产业集聚区"}
    assert api.post(url, headers=h("weidu_zone"), json={"jurisdiction": "长葛市产业集聚区",
                                                         "email": "x@y.test"}).status_code == 404
    # a county admin manages its county and the zones under it; not the city
    assert api.post(url, headers=h("weidu_admin"), json={"jurisdiction": "魏都产业集聚区",
                                                          "webhook_url": "https://hook.weidu.test/a"}).status_code == 201
    r = api.post(url, headers=h("city"), json={"jurisdiction": "411000", "email": "c@y.test"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "jurisdiction"
    r = api.post(url, headers=h("weidu_zone"), json={"email": "not-an-address", "webhook_url": "ftp://x"})
    assert r.status_code == 422 and {p["field"] for p in r.json()["problems"]} == {"email", "webhook_url"}
    assert api.post(url, headers=h("weidu_zone"), json={}).status_code == 422
    assert api.post(url, headers=h("weidu_zone"), json={"email": "a@b.test", "extra": 1}).status_code == 422
    # an enterprise: its own only
    r = api.post(url, headers=h("ent_a"), json={"email": "me@a.test"})
    assert r.status_code == 201 and r.json()["subscriber"]["name"] == "许昌预警甲有限公司"
    ent_sub = r.json()
    assert api.post(url, headers=h("ent_a"), json={"enterprise": ENT_B, "email": "x@a.test"}).status_code == 403
    assert api.post(url, headers=h("ent_a"), json={"jurisdiction": "魏都产业集聚区", "email": "x@a.test"}).status_code == 403
    assert api.post(url, headers=h("weidu_zone"), json={"enterprise": ENT_A, "email": "x@a.test"}).status_code == 403
    assert api.post(url, headers=h("tax_city"), json={"email": "x@a.test"}).status_code == 403
    assert api.post(url, json={"email": "x@a.test"}).status_code == 401
    # who sees which
    listed = lambda u: {s["id"] for s in api.get(url, headers=h(u)).json()["items"]}  # noqa: E731
    assert listed("ent_a") == {ent_sub["id"]} and listed("ent_b") == set()
    assert zone_sub["id"] in listed("weidu_zone") and ent_sub["id"] not in listed("weidu_zone")
    assert listed("changge_zone") == set() and ent_sub["id"] in listed("city")
    # edits: version required, stale refused, outsiders 404
    sid = zone_sub["id"]
    assert api.patch(f"{url}/{sid}", headers=h("weidu_zone"), json={"note": "值班"}).status_code == 428
    r = api.patch(f"{url}/{sid}", headers=h("weidu_zone"), json={"note": "值班", "version": 1})
    assert r.status_code == 200 and r.json()["note"] == "值班" and r.json()["version"] == 2
    assert api.patch(f"{url}/{sid}", headers=h("weidu_zone"), json={"note": "x", "version": 1}).status_code == 409
    assert api.patch(f"{url}/{sid}", headers=h("changge_zone"), json={"note": "x", "version": 2}).status_code == 404
    assert api.patch(f"{url}/{sid}", headers=h("ent_a"), json={"note": "x", "version": 2}).status_code == 404
    assert api.patch(f"{url}/{ent_sub['id']}", headers=h("weidu_zone"), json={"note": "x", "version": 1}).status_code == 404
    r = api.patch(f"{url}/{ent_sub['id']}", headers={**h("ent_a"), "If-Match": '"1"'},
                  json={"webhook_url": "https://erp.ent-a.test/hook"})
    assert r.status_code == 200 and r.json()["webhook_url"] == "https://erp.ent-a.test/hook"
    r = api.patch(f"{url}/{sid}", headers=h("weidu_zone"), json={"email": None, "version": 2})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "email"  # no channel left
    r = api.delete(f"{url}/{sid}", headers={**h("weidu_zone"), "If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["active"] is False
    assert sid not in listed("weidu_zone")
    assert sid in {s["id"] for s in api.get(url, headers=h("weidu_zone"), params={"inactive": "true"}).json()["items"]}
    # the change log (一地一档) has the subscription's life
    with api.app.state.db.reader() as s:
        rows = s.execute(text("SELECT action, actor FROM change_log WHERE entity = 'notice_subscriptions' "
                              "AND entity_id = :i ORDER BY id"), {"i": str(sid)}).all()
    actions = [tuple(r) for r in rows]
    assert actions[0] == ("create", "weidu_zone") and ("conflict", "weidu_zone") in actions
    assert actions.count(("update", "weidu_zone")) == 2  # the note, then the deactivation


def test_a_deactivated_subscription_receives_nothing(people, smtp):
    db = people
    sub = _subscribe(db, "weidu_zone", email="weidu@zone.test")
    notices.update_subscription(db, sub["id"], {"active": False}, sub["version"], viewer=_principal(db, "weidu_zone"))
    assert _run(db, AS_OF, settings=settings(smtp)).sent == 0 and smtp.messages == []


# =========================================================================== CLI

# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_cli_runs_the_job_and_lists_notices(world, smtp, monkeypatch):
    url = world.url
    out = run_cli(url, "warnings", "run", "--as-of", AS_OF.isoformat(), "--no-deliver").stdout
    assert "预警任务" in out and "基准日 2026-06-01" in out and "来源 contract 的期限" in out and "--no-deliver" in out
    listing = json.loads(run_cli(url, "warnings", "list", "--json", "--as-of", AS_OF.isoformat()).stdout)
    contract = [n for n in listing["items"] if n["source"] == "contract"]
    assert {n["parcel_code"] for n in contract} == {W30, C7}
    runs = run_cli(url, "warnings", "runs").stdout
    assert "2026-06-01" in runs and "finished" in runs and "cli" in runs
    out = run_cli(url, "warnings", "subscribe", "--jurisdiction", "魏都产业集聚区", "--email", "z@w.test").stdout
    assert "已新建预警订阅" in out
    assert "z@w.test" in run_cli(url, "warnings", "subscriptions").stdout
    proc = run_cli(url, "warnings", "subscribe", "--jurisdiction", "魏都产业集聚区", "--email", "bad", check=False)
    assert proc.exit_code == 2 and "格式不正确" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(url, "warnings", "run", "--as-of", "2026-13-01", check=False)
    assert proc.exit_code == 2 and "Traceback" not in proc.stderr
    # the job run from the command line with no server configured: skipped, exit 0
    out = run_cli(url, "warnings", "run", "--as-of", (AS_OF + timedelta(1)).isoformat()).stdout
    assert re.search(r"未发送（未配置服务器）\s*│\s*1\s*│", out)  # W31's new notice to the subscribed zone
    # configured from the environment: the next notice (W30 at 7 days) goes to the real SMTP server
    monkeypatch.setenv("LANDCYCLE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LANDCYCLE_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("LANDCYCLE_SMTP_SENDER", "yujing@landcycle.test")
    out = run_cli(url, "warnings", "run", "--as-of", (AS_OF + timedelta(23)).isoformat()).stdout
    assert "已发送" in out
    [(to, m)] = [x for x in smtp.messages if W30 in x[1]["Subject"]]
    assert to == ["z@w.test"] and "还有 7 天" in m["Subject"]
    monkeypatch.setenv("LANDCYCLE_SMTP_PORT", "not-a-port")
    proc = run_cli(url, "warnings", "run", check=False)
    assert proc.exit_code == 2 and "LANDCYCLE_SMTP_PORT" in proc.stderr and "Traceback" not in proc.stderr


def test_a_colliding_run_writes_nothing(world, monkeypatch):
    """Another run recorded the same notice meanwhile: the unique constraint refuses it and this
    run's notices and run row roll back together (one transaction), with a Chinese message."""
    db = world
    real = notices._new_notices

    def racing(*args, **kw):
        rows = real(*args, **kw)
        return rows + rows[:1]  # what a concurrent run would have inserted first

    monkeypatch.setattr(notices, "_new_notices", racing)
    with pytest.raises(notices.ConcurrentRun) as exc:
        _run(db, AS_OF)
    assert "另一个预警任务" in str(exc.value)
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(WarningNotice)) == 0
        assert s.scalar(select(func.count()).select_from(WarningRun)) == 0
    monkeypatch.setattr(notices, "_new_notices", real)
    assert _run(db, AS_OF).notices == 4
