"""预警通知 (issue 7, item 7), pure: which lead thresholds a deadline has crossed, the Chinese
message a recipient receives, the webhook signature. No I/O — ``services.notices`` reads the
deadlines, stores the notices and delivers them.

A deadline (due date D) crosses lead threshold L on day D − L; on a run with ``days_left`` =
D − as_of every threshold L ≥ days_left is crossed (30 days before → the 30-day threshold is
crossed; 31 days before → not). Each (deadline, threshold, recipient) is raised once. When a run
finds several thresholds crossed for the first time (the job did not run for a while, or the
deadline was only just recorded) all of them are recorded, but only the tightest is delivered —
the looser ones are marked superseded, so nobody gets "30 天" and "7 天" on the same morning. A
threshold that is looser than one already raised (a lead added to the rulebook later) is recorded
superseded too.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable

#: What happens when a contract deadline of ``services.warnings`` (``domain.progress`` kinds) is
#: missed — the clause is in the deadline's own ``basis``.
CONTRACT_CONSEQUENCES: dict[str, str] = {
    "start": "超过约定动工日期满一年未动工的，认定为闲置土地，按出让价款的20%征缴土地闲置费；"
             "满两年的，无偿收回国有建设用地使用权（闲置土地处置办法第二条、第十四条；政府原因造成的除外）",
    "idle_fee": "闲置满一年，按土地出让价款的20%征缴土地闲置费（闲置土地处置办法第十四条）",
    "idle_reclaim": "闲置满两年，无偿收回国有建设用地使用权（闲置土地处置办法第十四条；政府原因造成的除外）",
    "completion": "未按期竣工或竣工联合验收未通过的，限期整改（整改期最长不超过2年），"
                  "并按有关规定或约定落实惩处措施（000:1022）",
    "completion_rectification": "整改期届满仍未通过竣工联合验收的，按有关规定或约定落实惩处措施，"
                                "可进入解除合同、收回处置程序（000:1022）",
    "production": "未通过达产验收的，限期整改（整改期最长不超过2年），并按有关规定或约定落实奖惩措施；"
                  "达产复验通过前不动产不得抵押、转让，企业股权不得变更（000:1024、000:1028）",
    "production_rectification": "整改期后仍未达到验收标准的，经市、县（市）政府批准，按约定解除《土地出让合同》，"
                                "以成本还原原则审计评估，对建设项目优先回购（000:1028）",
}

#: The keys every deadline source answers (``services.notices`` sources).
ITEM_KEYS = ("parcel_code", "county_id", "zone_id", "kind", "label", "due", "basis", "consequence")


@dataclass(frozen=True)
class Raise:
    """Which thresholds to record now for one (deadline, recipient): ``deliver`` (at most one,
    the tightest new one) and ``superseded`` (recorded, never delivered)."""

    deliver: int | None
    superseded: tuple[int, ...]

    @property
    def all(self) -> tuple[int, ...]:
        return ((self.deliver,) if self.deliver is not None else ()) + self.superseded


def crossed(days_left: int, lead_days: Iterable[int]) -> list[int]:
    """The lead thresholds (days) a deadline ``days_left`` days away has crossed, tightest first
    (a threshold L is crossed when days_left ≤ L; overdue deadlines have crossed them all)."""
    return sorted(int(L) for L in set(lead_days) if days_left <= int(L))


def to_raise(days_left: int, lead_days: Iterable[int], already: Iterable[int] = ()) -> Raise:
    """The thresholds to record on this run for one (deadline, recipient), given those
    ``already`` raised on earlier runs (module docstring)."""
    already = {int(x) for x in already}
    new = [L for L in crossed(days_left, lead_days) if L not in already]
    if not new:
        return Raise(None, ())
    tightest = new[0]
    if already and min(already) < tightest:  # a tighter warning already went out
        return Raise(None, tuple(new))
    return Raise(tightest, tuple(new[1:]))


def days_text(days_left: int) -> str:
    """"还有 5 天" / "今天到期" / "已逾期 3 天"."""
    if days_left > 0:
        return f"还有 {days_left} 天"
    if days_left == 0:
        return "今天到期"
    return f"已逾期 {-days_left} 天"


def compose(*, parcel_code: str, place: str, label: str, due: date, days_left: int, lead_days: int,
            basis: str, consequence: str, as_of: date, recipient: str) -> tuple[str, str]:
    """The (subject, text) of one notice, in Chinese: the parcel, what is due, by when, days
    left (as of the run's day), the clause, what happens if it is missed."""
    subject = f"【土地预警】宗地 {parcel_code} {label}：{days_text(days_left)}（{due.isoformat()}）"
    lines = [
        f"{recipient}：",
        "",
        f"宗地：{parcel_code}" + (f"（{place}）" if place else ""),
        f"事项：{label}",
        f"期限：{due.isoformat()}",
        f"剩余天数：{days_text(days_left)}（截至 {as_of.isoformat()}）",
        f"预警提前量：{lead_days} 天",
        f"依据：{basis}",
        f"逾期后果：{consequence}",
        "",
        "本通知由许昌市产业集聚区土地全生命周期管理平台按规则库 [warnings] lead_days 自动发出；"
        "同一期限的同一提前量只通知一次。请登录平台“预警”页面查看详情。",
    ]
    return subject, "\n".join(lines)


#: Headers of a signed webhook request.
SIGNATURE_HEADER = "X-Landcycle-Signature"
TIMESTAMP_HEADER = "X-Landcycle-Timestamp"
DELIVERY_HEADER = "X-Landcycle-Delivery"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``<timestamp>.<body>`` (the timestamp
    in the signed text lets a receiver refuse replays)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` at ``timestamp`` (constant-time)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header or "")


# --------------------------------------------------------------------------- where webhooks may go
#: The setting that lists where webhooks may be sent (docs/warnings.md).
ALLOWED_HOSTS_SETTING = "LANDCYCLE_WEBHOOK_ALLOWED_HOSTS"


def parse_allowed_hosts(text: str) -> tuple[tuple[str, ...], list[str]]:
    """The comma-separated allow-list: host names (``hooks.xuchang.gov.cn``), suffix patterns
    (``*.gov.cn``) and IP networks (``10.20.0.0/16``, ``192.0.2.7``). Returns the entries and the
    ones that are none of these."""
    entries, bad = [], []
    for raw in (text or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            name = entry[2:] if entry.startswith("*.") else entry
            if not _HOST_NAME.fullmatch(name):
                bad.append(raw.strip())
                continue
        entries.append(entry)
    return tuple(entries), bad


_HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def webhook_refusal(host: str, addresses: Iterable[str], allowed: tuple[str, ...]) -> str | None:
    """Why a webhook must not be sent to ``host`` resolving to ``addresses`` — or None.

    The receiver is named by whoever subscribed (an enterprise too), and the platform's server
    makes the request: without a rule, a subscription could make it POST into the machine's own
    network (the database's port, a cloud metadata address). So, with no allow-list, only
    addresses on the public Internet are sent to; an allow-list (``allowed``, from
    :func:`parse_allowed_hosts`) names the receivers instead — a host name, a ``*.`` suffix, or
    a network every address of the host must lie in — and is how an intranet receiver is allowed.
    """
    host = host.lower().rstrip(".")
    addrs = [ipaddress.ip_address(a.split("%")[0]) for a in addresses]
    if not addrs:
        return f"无法解析回调地址的主机名“{host}”"
    if allowed:
        nets = []
        for entry in allowed:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
                    return None
        if nets and all(any(a in n for n in nets) for a in addrs):
            return None
        return f"回调地址的主机“{host}”不在允许的接收方（{ALLOWED_HOSTS_SETTING}）之内，未发送"
    inside = [str(a) for a in addrs if not a.is_global]
    if inside:
        return (f"回调地址的主机“{host}”指向本机或内部网络地址（{'、'.join(inside)}），未发送；"
                f"如确需发往内网系统，请在 {ALLOWED_HOSTS_SETTING} 中列出该主机或网段")
    return None
