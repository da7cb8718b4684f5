"""What every editing endpoint of the API shares: strict JSON bodies, the version an edit is
based on (``If-Match`` or ``version`` in the body), ETags, and GeoJSON geometries.

Bodies refuse unknown fields and values of the wrong JSON type (``"12"`` is not a number,
``1`` is not a boolean), non-finite numbers, and text with NUL characters (PostgreSQL
cannot store them) — before any service runs, so bad input changes nothing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import shapely
import shapely.geometry
from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from ..domain.errors import Problem, ValidationFailed
from ..services.audit import VersionRequired

MAX_INT = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("文本中不能含有空字符（\\u0000）")
    return value


def _iso_date(value: Any) -> Any:
    # JSON has no date type: a date is a "YYYY-MM-DD" string, never a number of seconds.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("应为日期文本 YYYY-MM-DD")
    return value


def Text(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 (a type factory)
    """A JSON string of at most ``max_length`` characters, without NUL."""
    return Annotated[str, StringConstraints(strict=True, max_length=max_length, min_length=min_length),
                     AfterValidator(_no_nul)]


def Whole(ge: int = 0, le: int = MAX_INT) -> Any:  # noqa: N802
    """A JSON integer within [ge, le] (never a float, string or boolean)."""
    return Annotated[int, Field(strict=True, ge=ge, le=le)]


#: A finite JSON number (integers accepted).
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: true / false.
Flag = Annotated[bool, Field(strict=True)]
#: A calendar date written YYYY-MM-DD.
Day = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
#: A record version (as answered in ``version`` and the ETag).
Version = Annotated[int, Field(strict=True, ge=1, le=MAX_INT, description="所依据的记录版本（或用请求头 If-Match）")]
#: Why the change is made; goes to the audit trail.
Reason = Annotated[str | None, StringConstraints(strict=True, max_length=500), AfterValidator(
    lambda v: _no_nul(v) if v is not None else v), Field(description="修改原因（记入一地一档）")]


class Body(BaseModel):
    """A JSON request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- versions
_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,10})"?\s*')

IfMatch = Annotated[str | None, Header(alias="If-Match", description='所依据的版本，如 "3"（与响应头 ETag 相同）；'
                                                                      "也可在请求体中给出 version")]


def expected_version(if_match: str | None, body_version: int | None) -> int:
    """The version an edit is based on, from ``If-Match: "<version>"`` or the body's ``version``.
    Neither: 428 (:class:`VersionRequired`); both but different, or a malformed header: 422."""
    header = None
    if if_match is not None and if_match.strip():
        if if_match.strip() == "*":
            raise VersionRequired('If-Match: * 不能代替版本号：请提供所依据的具体版本，如 If-Match: "3"')
        m = _ETAG.fullmatch(if_match)
        if m is None:
            raise ValidationFailed(Problem("请求头", "If-Match", '应为一个版本号，如 "3"（即读取记录时响应头 ETag 的值）'))
        header = int(m.group(1))
    if header is None and body_version is None:
        raise VersionRequired()
    if header is not None and body_version is not None and header != body_version:
        raise ValidationFailed(Problem("请求", "version", f"请求头 If-Match（{header}）与请求体 version（{body_version}）不一致"))
    return header if header is not None else body_version


def etag(version: int) -> str:
    return f'"{version}"'


def versioned(record: dict[str, Any], status_code: int = 200, location: str | None = None,
              version: int | None = None) -> JSONResponse:
    """A JSON response with the record's version as its ETag (and ``Location`` for a new one)."""
    headers = {"ETag": etag(record["version"] if version is None else version)}
    if location:
        headers["Location"] = location
    return JSONResponse(record, status_code=status_code, headers=headers)


def changes_of(body: Body, exclude: set[str] = frozenset({"version", "reason"})) -> dict[str, Any]:
    """The fields the client actually sent (explicit nulls included), without version and reason."""
    return body.model_dump(exclude_unset=True, exclude=set(exclude))


# --------------------------------------------------------------------------- geometry
Position = Annotated[list[Number], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4, description="闭合环：首尾坐标相同，至少4个点")]


class PolygonGeometry(Body):
    """A GeoJSON Polygon in CGCS2000 lon/lat (EPSG:4490)."""

    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1)]
    bbox: list[Number] | None = None


class MultiPolygonGeometry(Body):
    """A GeoJSON MultiPolygon in CGCS2000 lon/lat (EPSG:4490)."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[Annotated[list[Ring], Field(min_length=1)]], Field(min_length=1)]
    bbox: list[Number] | None = None


Geometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(
    discriminator="type", description="宗地图形：GeoJSON Polygon/MultiPolygon，CGCS2000 经纬度（EPSG:4490，经度在前）")]


def to_shape(g: PolygonGeometry | MultiPolygonGeometry, record: str) -> BaseGeometry:
    """The shapely geometry of a GeoJSON body (2D: heights are dropped); a structure shapely
    cannot build is a 422 naming the geometry. Validity, extent and area are the registry's
    checks (``domain.geometry``)."""
    try:
        geom = shapely.geometry.shape(g.model_dump(exclude={"bbox"}))
        return shapely.force_2d(geom)
    except (ValueError, TypeError, IndexError, GEOSException) as exc:
        raise ValidationFailed(Problem(record, "geometry", f"宗地图形：GeoJSON 几何无法构建（{exc}）",
                                       "invalid_geometry")) from None
