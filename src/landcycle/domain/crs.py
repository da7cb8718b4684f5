"""Which coordinate system a file's numbers are in, when the file does not say (标图入库, issue 4).

Pure computation, no I/O. Rules (all on the finite vertex coordinates ``xs`` = the file's first
axis, ``ys`` = its second; for a 界址点表 the caller passes the Y column as ``xs`` and the X column
as ``ys``, because in Chinese surveying X is the northing and Y the easting):

* **Geographic** — every x in 73–136 and every y in 3–54 → CGCS2000 lon/lat (EPSG:4490);
  the reverse (x in 3–54, y in 73–136) → lat/lon swapped. The two boxes do not overlap.
* **Projected, 3° Gauss-Krüger** — an *easting* is either 8-digit with the zone number in front
  (``zone·10⁶ + 300 000…700 000``, zone 25–45) or 6-digit (300 000–700 000); a *northing* is
  1 900 000–6 000 000 (Hainan 18°N ≈ 2.0·10⁶ … Mohe 53.5°N ≈ 5.93·10⁶). Easting in x and northing
  in y is the normal order; the reverse is reported as ``swapped``.

  - 8-digit: zone = the leading two digits, EPSG = 4513 + zone − 25 (zone 38 → EPSG:4526).
    All vertices must share one zone.
  - 6-digit: the central meridian cannot be read from the numbers. It comes from the
    ``central_meridian`` option (a multiple of 3, 75–135), else from ``county_lon`` (the target
    county's longitude, rounded to the nearest 3° meridian); else the result is ``unknown`` with a
    note asking for ``--crs``/``--central-meridian``. EPSG = 4534 + zone − 25 (CM 114° → EPSG:4547).

* Anything else → ``unknown``.

GCJ-02 (web-map "火星坐标"): :func:`gcj02_offset_suspected` compares the data with the real
county boundary (see its docstring); :func:`gcj_to_wgs` converts with ``prcoords.gcj_wgs_bored``
(iterative inverse, sub-millimetre). WGS84 is taken as CGCS2000 (they differ by centimetres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import prcoords
import shapely

from .geometry import CANONICAL_EPSG, CHINA_LAT, CHINA_LON, gk3_epsg, project

GEOGRAPHIC, GK_PREFIXED, GK_PLAIN, UNKNOWN = "geographic", "gk_prefixed", "gk_plain", "unknown"

_LON = CHINA_LON
_LAT = CHINA_LAT
_EAST = (300_000.0, 700_000.0)  # 3° zone: ±1.5° of the CM is at most ±160 km in China
_NORTH = (1_900_000.0, 6_000_000.0)
_ZONES = (25, 45)


@dataclass(frozen=True)
class CrsGuess:
    """What :func:`infer_crs` concluded. ``epsg`` is None when ``kind == "unknown"``."""

    epsg: int | None
    kind: str  # "geographic" | "gk_prefixed" | "gk_plain" | "unknown"
    swapped: bool
    note: str  # Chinese: what was inferred and why
    zone: int | None = None


def _within(a: np.ndarray, lo_hi: tuple[float, float]) -> bool:
    return bool(a.size) and bool(np.all((a >= lo_hi[0]) & (a <= lo_hi[1])))


def _rng(a: np.ndarray, digits: int = 0) -> str:
    return f"{a.min():.{digits}f}–{a.max():.{digits}f}"


def _prefixed_zone(e: np.ndarray) -> int | None:
    """The common zone of 8-digit eastings ``zone·10⁶ + 300 000…700 000``, else None."""
    if not _within(e, (_ZONES[0] * 1e6, (_ZONES[1] + 1) * 1e6)):
        return None
    zones = np.floor(e / 1e6).astype(int)
    if np.unique(zones).size != 1 or not _within(e - zones * 1e6, _EAST):
        return None
    return int(zones[0])


def infer_crs(xs, ys, *, central_meridian: float | None = None,
              county_lon: float | None = None) -> CrsGuess:
    """Guess the CRS of coordinates that came without one (see the module docstring)."""
    x = np.asarray(xs, dtype=float).ravel()
    y = np.asarray(ys, dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return CrsGuess(None, UNKNOWN, False, "没有可用的坐标，无法判断坐标系")

    # Geographic degrees.
    if _within(x, _LON) and _within(y, _LAT):
        return CrsGuess(CANONICAL_EPSG, GEOGRAPHIC, False,
                        f"文件未声明坐标系；坐标值为经度 {_rng(x, 4)}、纬度 {_rng(y, 4)}，"
                        "按 CGCS2000 地理坐标（EPSG:4490）读取")
    if _within(x, _LAT) and _within(y, _LON):
        return CrsGuess(CANONICAL_EPSG, GEOGRAPHIC, True,
                        f"文件未声明坐标系；第一个坐标 {_rng(x, 4)} 像纬度、第二个 {_rng(y, 4)} 像经度，"
                        "判定为经纬度颠倒，已交换后按 CGCS2000 地理坐标（EPSG:4490）读取")

    # Projected Gauss-Krüger: which axis is the northing?
    if _within(y, _NORTH) and not _within(x, _NORTH):
        east, swapped = x, False
    elif _within(x, _NORTH) and not _within(y, _NORTH):
        east, swapped = y, True
    else:
        return CrsGuess(None, UNKNOWN, False,
                        f"文件未声明坐标系，坐标值（{_rng(x)}，{_rng(y)}）既不像中国范围内的经纬度，"
                        "也不像 CGCS2000 三度带高斯-克吕格坐标；请用 --crs 指定坐标系（如 EPSG:4547）")
    swap_note = ("；X/Y 颠倒（第一个坐标是北坐标），已交换" if swapped else "")

    zone = _prefixed_zone(east)
    if zone is not None:
        epsg = gk3_epsg(zone * 3.0, zone_prefix=True)
        return CrsGuess(epsg, GK_PREFIXED, swapped,
                        f"文件未声明坐标系；东坐标为8位数（{_rng(east)}），前两位 {zone} 为带号，"
                        f"判定为 CGCS2000 三度带第 {zone} 带（中央经线 {zone * 3}°E，带号坐标，"
                        f"EPSG:{epsg}）{swap_note}", zone)

    if _within(east, _EAST):
        if central_meridian is not None:
            cm, source = float(central_meridian), "按指定的中央经线"
        elif county_lon is not None:
            cm = 3.0 * np.floor(county_lon / 3.0 + 0.5)
            source = f"按目标区县经度 {county_lon:.2f}°E 所在的中央经线"
        else:
            return CrsGuess(None, UNKNOWN, swapped,
                            f"文件未声明坐标系；东坐标为6位数（{_rng(east)}），未带带号，无法确定中央经线；"
                            "请用 --crs 指定（许昌为 EPSG:4547，中央经线114°E）或用 --central-meridian 指定中央经线"
                            f"{swap_note}")
        z = cm / 3.0
        if z != np.floor(z) or not _ZONES[0] <= z <= _ZONES[1]:
            return CrsGuess(None, UNKNOWN, swapped,
                            f"中央经线 {cm:g}°E 不是 CGCS2000 三度带的中央经线（75°E–135°E 间3的倍数）；"
                            "请用 --crs 指定坐标系")
        zone = int(z)
        epsg = gk3_epsg(cm, zone_prefix=False)
        return CrsGuess(epsg, GK_PLAIN, swapped,
                        f"文件未声明坐标系；东坐标为6位数（{_rng(east)}），未带带号，{source} {cm:g}°E "
                        f"判定为 CGCS2000 三度带（EPSG:{epsg}）{swap_note}", zone)

    return CrsGuess(None, UNKNOWN, swapped,
                    f"文件未声明坐标系；北坐标像高斯-克吕格坐标，但东坐标 {_rng(east)} 既不是6位数"
                    "也不是带同一带号的8位数；请用 --crs 指定坐标系")


# --------------------------------------------------------------------------- GCJ-02

def _gcj_wgs_xy(xy: np.ndarray) -> np.ndarray:
    """(N, 2) lon/lat GCJ-02 → WGS84 per vertex (each unique vertex converted once)."""
    if len(xy) == 0:
        return xy
    uniq, inverse = np.unique(xy, axis=0, return_inverse=True)
    out = np.empty_like(uniq)
    for i, (lon, lat) in enumerate(uniq):
        c = prcoords.gcj_wgs_bored(prcoords.Coords(lat=float(lat), lon=float(lon)), check_china=False)
        out[i] = (c.lon, c.lat)
    return out[np.asarray(inverse).ravel()]


def _wgs_gcj_xy(xy: np.ndarray) -> np.ndarray:
    out = np.empty_like(xy)
    for i, (lon, lat) in enumerate(xy):
        c = prcoords.wgs_gcj(prcoords.Coords(lat=float(lat), lon=float(lon)), check_china=False)
        out[i] = (c.lon, c.lat)
    return out


def gcj_to_wgs(geoms):
    """GCJ-02 → WGS84 (≈ CGCS2000) for a geometry or array of geometries, per vertex."""
    return shapely.transform(geoms, _gcj_wgs_xy)


def wgs_to_gcj(geoms):
    """WGS84 → GCJ-02 (used by tests to make shifted data)."""
    return shapely.transform(geoms, _wgs_gcj_xy)


#: Suspect GCJ-02 when at least this share of the data's vertices lies outside the reference
#: boundary as read …
GCJ_MIN_OUTSIDE_SHARE = 0.05
#: … and converting GCJ→WGS brings at least this share of those outside vertices back inside.
GCJ_MIN_RECOVERED_SHARE = 0.6
#: Vertices sampled for the test (evenly spaced), to keep it fast on big files.
_GCJ_SAMPLE = 5000


def gcj02_offset_suspected(geoms_4490, reference_polygon) -> tuple[bool, float, str]:
    """Is the data (EPSG:4490) probably in GCJ-02? Returns ``(suspected, metres, note)``.

    Test: count the data's vertices outside the real boundary (``reference_polygon``, EPSG:4490)
    as read and after the GCJ→WGS conversion. Real WGS/CGCS2000 data lies inside its county;
    GCJ-02 data is shifted 300–700 m (mostly east/north in Henan), so parcels near the county
    edge fall outside and come back when converted. Suspected when ≥ 5 % of vertices are outside
    as read and the conversion recovers ≥ 60 % of them. ``metres`` is the median shift the
    conversion would apply (from prcoords, measured in the data's GK zone).

    Limitation: data lying wholly inside the boundary (more than the ~0.5 km offset from its
    edge) gives no evidence either way — the note then says so and the result is False.
    """
    arr = np.atleast_1d(np.asarray(geoms_4490, dtype=object))
    arr = arr[[g is not None and not shapely.is_empty(g) for g in arr]]
    xy = shapely.get_coordinates(arr) if arr.size else np.zeros((0, 2))
    if len(xy) == 0:
        return False, 0.0, "没有几何图形，未检查是否为火星坐标（GCJ-02）"
    if len(xy) > _GCJ_SAMPLE:
        xy = xy[np.linspace(0, len(xy) - 1, _GCJ_SAMPLE).astype(int)]
    conv = _gcj_wgs_xy(xy)
    epsg = gk3_epsg(float(np.median(xy[:, 0])))
    a = shapely.get_coordinates(project(shapely.points(xy), CANONICAL_EPSG, epsg))
    b = shapely.get_coordinates(project(shapely.points(conv), CANONICAL_EPSG, epsg))
    metres = float(np.median(np.hypot(*(a - b).T)))
    shapely.prepare(reference_polygon)
    out_raw = ~shapely.contains_xy(reference_polygon, xy[:, 0], xy[:, 1])
    out_conv = ~shapely.contains_xy(reference_polygon, conv[:, 0], conv[:, 1])
    n_raw, n_conv = int(out_raw.sum()), int(out_conv.sum())
    share_raw = n_raw / len(xy)
    recovered = (n_raw - n_conv) / n_raw if n_raw else 0.0
    suspected = share_raw >= GCJ_MIN_OUTSIDE_SHARE and recovered >= GCJ_MIN_RECOVERED_SHARE
    if suspected:
        note = (f"疑似火星坐标（GCJ-02）：{share_raw:.0%} 的界址点落在行政区边界外，按 GCJ-02→CGCS2000 "
                f"纠偏（约 {metres:.0f} 米）后 {n_conv / len(xy):.0%} 在边界外")
    elif n_raw == 0:
        note = ("数据全部位于行政区边界内，无法据边界判断是否为火星坐标（GCJ-02）；"
                f"如来自网络地图，请确认（火星坐标在此处偏移约 {metres:.0f} 米）")
    else:
        note = (f"{share_raw:.0%} 的界址点在行政区边界外，纠偏（GCJ-02→CGCS2000）后为 "
                f"{n_conv / len(xy):.0%}，不像火星坐标")
    return suspected, metres, note
