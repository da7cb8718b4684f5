"""Errors raised for bad input.

Every problem names the record, the field and what is wrong, in Chinese, so that a
user can fix the input; a face turns them into a message (CLI) or an error body (API).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one record."""

    record: str  # e.g. "宗地 411002001001GB00001" or "第3行"
    field: str  # e.g. "geometry" / "credit_code"
    message: str  # Chinese, for users
    code: str = "invalid"  # machine code, e.g. "duplicate", "unknown_zone"

    def __str__(self) -> str:
        return f"{self.record}：字段 {self.field} — {self.message}"


class LandcycleError(Exception):
    """Base class of the errors a user can cause (never a programming error)."""

    code = "error"


class ValidationFailed(LandcycleError):
    """Input was rejected; nothing was written."""

    code = "validation_failed"

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("；".join(str(p) for p in self.problems))


class NotFound(LandcycleError):
    """A record the user asked for does not exist (or is not visible to them)."""

    code = "not_found"

    def __init__(self, what: str, key: str):
        self.what, self.key = what, key
        super().__init__(f"未找到{what}：{key}")


class Conflict(LandcycleError):
    """Someone else changed the record since the caller read it; nothing was overwritten."""

    code = "version_conflict"

    def __init__(self, what: str, key: str, expected: int, current: dict):
        self.what, self.key, self.expected, self.current = what, key, expected, current
        super().__init__(
            f"{what} {key} 已被他人修改（您提交的版本为 {expected}，当前版本为 {current.get('version')}），"
            "未保存任何内容；请基于当前版本重新修改"
        )


class ConcurrentWrite(LandcycleError):
    """Another transaction committed first and took what this one was about to write (a code, a
    number kept unique by the database); this one was rolled back. Asking again normally succeeds."""

    code = "concurrent_write"

    def __init__(self, record: str, what: str):
        self.record = record
        super().__init__(f"{record}：{what}已被同时办理的另一项业务占用，未写入任何内容；请重新提交")


class DatabaseNotReady(LandcycleError):
    """The database cannot be reached or has no (current) schema."""

    code = "database_not_ready"


class Unauthorized(LandcycleError):
    """The caller must sign in (or their session expired)."""

    code = "unauthorized"

    def __init__(self, message: str = "请先登录"):
        super().__init__(message)


class Forbidden(LandcycleError):
    """The caller is signed in but their role or jurisdiction does not allow this."""

    code = "forbidden"

    def __init__(self, message: str = "无权执行此操作"):
        super().__init__(message)


class TooManyAttempts(LandcycleError):
    """Login throttled after repeated failures."""

    code = "too_many_attempts"

    def __init__(self, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(f"登录失败次数过多，请 {max(1, retry_after_s // 60)} 分钟后再试")
