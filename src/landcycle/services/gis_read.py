"""Read a GIS or survey file into a :class:`SourceBatch` in EPSG:4490 (标图入库, issue 4).

Everything is read through GDAL (pyogrio): no hand-written format parsers.

=====================  ===============  ===================================================
extension              GDAL driver      notes
=====================  ===============  ===================================================
.shp                   ESRI Shapefile   DBF encoding: override > .cpg > detected (below)
.gdb (folder)          OpenFileGDB
.gpkg                  GPKG
.geojson / .json       GeoJSON
.dxf                   DXF              closed polylines → parcels; hatches kept
.xlsx / .csv           XLSX / CSV       界址点坐标表 (parcel code, ring, point no., X, Y)
=====================  ===============  ===================================================

Shapefile encoding rule: an explicit ``encoding`` wins; else the ``.cpg`` file names it;
else the DBF's bytes (field names and string values, read undecoded) are tried as UTF-8 and,
if that fails, taken as GBK (GB18030 superset). Real GBK Chinese text is practically never
valid UTF-8, so the rule is reliable; it ignores the DBF's language-driver byte.

CRS: ``crs`` override > the file's own CRS (.prj / embedded) > inferred from the numbers by
:func:`landcycle.domain.crs.infer_crs` (with ``central_meridian`` / ``county_lon``). When
nothing can be inferred the read fails with a ``crs_unknown`` problem (nothing usable).

GCJ-02: with a ``reference_polygon`` (the target county in EPSG:4490) the data is tested by
:func:`landcycle.domain.crs.gcj02_offset_suspected`; if suspected and ``convert_gcj`` is off a
note and a ``gcj02_suspected`` problem are added; ``convert_gcj=True`` converts GCJ→WGS always.

User errors (missing file, unsupported extension, unreadable data) raise
:class:`ValidationFailed` with Chinese messages naming the file.
"""

from __future__ import annotations

import codecs
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer

from ..domain.crs import UNKNOWN, gcj02_offset_suspected, gcj_to_wgs, infer_crs
from ..domain.errors import Problem, ValidationFailed
from ..domain.geometry import CANONICAL_EPSG, project, within_china
from ..domain.identifiers import parse_parcel_code
from ..domain.sources import SourceBatch

BOUNDARY_POINTS_FORMAT = "界址点坐标表"

_DRIVERS = {
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".dxf": "DXF",
    ".gdb": "OpenFileGDB",
}
_TABLE_EXT = {".xlsx": "XLSX", ".csv": "CSV"}
_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _fail(path, message: str, code: str = "unreadable", field: str = "file") -> ValidationFailed:
    return ValidationFailed(Problem(record=f"文件 {Path(path).name}", field=field, message=message, code=code))


# --------------------------------------------------------------------------- helpers

def file_sha256(path: Path) -> str:
    """SHA-256 of a file; of a shapefile's .shp/.shx/.dbf/.prj/.cpg; of a folder's files (sorted)."""
    h = hashlib.sha256()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    elif path.suffix.lower() == ".shp":
        files = [p for ext in _SHP_SIDECARS for p in path.parent.glob(path.stem + ".*")
                 if p.suffix.lower() == ext]
    else:
        files = [path]
    for f in files:
        if len(files) > 1:
            h.update(f.relative_to(path if path.is_dir() else path.parent).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _codec(name: str) -> str | None:
    """A Python codec for a .cpg / user encoding name ("936", "GBK", "UTF-8", "65001"…)."""
    n = name.strip().lower()
    if n.isdigit():
        n = "utf-8" if n == "65001" else f"cp{n}"
    if n.startswith("ansi "):
        n = "cp" + n[5:].strip()
    try:
        return codecs.lookup(n).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None


def _detect_dbf_encoding(names, field_data) -> str:
    """UTF-8 if all raw bytes decode as UTF-8, else GBK (bytes arrive latin1-decoded)."""
    blobs = [str(n).encode("latin1") for n in names]
    for col in field_data:
        if col.dtype == object:
            blobs.extend(v.encode("latin1") for v in col if isinstance(v, str))
    raw = b"\0".join(blobs)
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gbk"


def _redecode(value, enc: str):
    if isinstance(value, str):
        return value.encode("latin1").decode(enc, errors="replace")
    return value


def _py(value):
    """numpy scalar → plain Python; NaN → None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _crs_to_epsg_or_crs(user_input) -> tuple[int | None, CRS]:
    crs = CRS.from_user_input(user_input)
    epsg = crs.to_epsg(min_confidence=70)
    return epsg, crs


def _to_canonical(geoms: np.ndarray, epsg: int | None, crs: CRS) -> np.ndarray:
    if epsg is not None:
        return project(geoms, epsg, CANONICAL_EPSG)
    t = Transformer.from_crs(crs, CRS.from_epsg(CANONICAL_EPSG), always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def _in_china(geoms: np.ndarray) -> bool:
    valid = [g for g in geoms if g is not None and not g.is_empty]
    if not valid:
        return True
    return bool(within_china(*shapely.total_bounds(np.asarray(valid, dtype=object))))


# --------------------------------------------------------------------------- entry point

def read_source(path, *, layer=None, encoding: str | None = None, crs: str | None = None,
                central_meridian: float | None = None, county_lon: float | None = None,
                convert_gcj: bool = False, reference_polygon=None) -> SourceBatch:
    """Read one layer of a GIS file (or a 界址点坐标表) into EPSG:4490 (module docstring)."""
    p = Path(path)
    if not p.exists():
        raise _fail(p, f"文件不存在：{p}", code="file_missing")
    ext = p.suffix.lower()
    if ext == ".xls":
        raise _fail(p, f"不支持旧版 Excel（.xls）文件 {p.name}；请另存为 .xlsx 或 .csv 后再导入",
                    code="unsupported_format")
    if ext in _TABLE_EXT:
        batch = _read_points_table(p, layer, encoding, _TABLE_EXT[ext])
    elif ext in _DRIVERS:
        if ext == ".gdb" and not p.is_dir():
            raise _fail(p, f"{p.name} 不是文件地理数据库文件夹（.gdb）", code="unsupported_format")
        batch = _read_vector(p, _DRIVERS[ext], layer, encoding)
    else:
        raise _fail(p, f"不支持的文件类型“{p.suffix or '无扩展名'}”（{p.name}）；支持 .shp、.gdb、.gpkg、"
                    ".geojson/.json、.dxf、.xlsx/.csv（界址点坐标表）", code="unsupported_format")

    _assign_crs(batch, crs, central_meridian, county_lon)
    _check_gcj(batch, convert_gcj, reference_polygon)
    batch.file_sha256 = file_sha256(p)
    return batch


# --------------------------------------------------------------------------- vector files

def _read_vector(p: Path, driver: str, layer, encoding: str | None) -> SourceBatch:
    notes: list[str] = []
    try:
        layers = pyogrio.list_layers(p)
    except Exception as exc:  # GDAL cannot open it at all
        raise _fail(p, f"无法读取文件 {p.name}（{driver}）：{exc}") from None
    names = [str(n) for n, _g in layers]
    if layer is not None and str(layer) not in names:
        raise _fail(p, f"文件 {p.name} 中没有图层“{layer}”（文件含图层：{'、'.join(names) or '无'}）")
    if layer is None and len(layers) > 1:
        spatial = [str(n) for n, g in layers if g is not None]
        layer = spatial[0] if spatial else str(layers[0][0])
        notes.append(f"文件含 {len(layers)} 个图层，读取了“{layer}”；可用 --layer 指定其他图层")

    enc_used: str | None = None
    read_enc = None
    if driver == "ESRI Shapefile":
        cpg = p.with_suffix(".cpg")
        if not cpg.exists():
            cpg = next((q for q in p.parent.glob(p.stem + ".*") if q.suffix.lower() == ".cpg"), cpg)
        if encoding:
            enc_used = _codec(encoding)
            if enc_used is None:
                raise _fail(p, f"无法识别的编码“{encoding}”", field="encoding", code="bad_encoding")
            notes.append(f"属性表编码按指定的 {encoding} 读取")
        elif cpg.exists():
            text = cpg.read_text(encoding="ascii", errors="replace").strip()
            enc_used = _codec(text)
            if enc_used is None:
                notes.append(f".cpg 文件中的编码“{text}”无法识别，改为自动判断")
            else:
                notes.append(f"属性表编码按 .cpg 文件读取：{text}")
        read_enc = "latin1"  # bytes undecoded; decoded below
    elif encoding:
        notes.append(f"{driver} 格式自带编码，已忽略指定的编码 {encoding}")

    try:
        meta, fids, wkb, field_data = pyogrio.raw.read(p, layer=layer, encoding=read_enc,
                                                        return_fids=True)
    except Exception as exc:
        raise _fail(p, f"无法读取文件 {p.name}（{driver}）：{exc}") from None
    names = [str(n) for n in meta["fields"]]

    if driver == "ESRI Shapefile":
        if enc_used is None:
            enc_used = _detect_dbf_encoding(names, field_data)
            notes.append(f"Shapefile 没有 .cpg 文件，按属性内容判断编码为 {enc_used.upper()}")
        elif enc_used == "utf-8" and _detect_dbf_encoding(names, field_data) != "utf-8":
            notes.append("警告：.cpg 声明为 UTF-8，但属性内容不是有效的 UTF-8（可能是 GBK）；"
                         "中文可能显示为乱码，可用 --encoding GBK 重新读取")
        names = [_redecode(n, enc_used) for n in names]
        field_data = [np.array([_redecode(v, enc_used) for v in col], dtype=object)
                      if col.dtype == object else col for col in field_data]
    else:
        enc_used = meta.get("encoding") or "UTF-8"

    n = len(wkb) if wkb is not None else 0
    geoms = shapely.from_wkb(wkb) if n else np.zeros(0, dtype=object)
    if n and shapely.has_z(geoms).any():  # rebuilding every geometry costs; most layers are 2D
        geoms = shapely.force_2d(geoms)
    attributes, columns = _rows(names, field_data, n)
    fid_list = [int(f) for f in fids] if fids is not None else list(range(n))
    source_ids = [f"要素{i + 1}（FID {fid_list[i]}）" for i in range(n)]
    problems: list[Problem] = []

    if driver == "DXF":
        geoms, attributes, source_ids, problems, dxf_notes = _dxf_parcels(geoms, attributes)
        notes.extend(dxf_notes)
        columns = None  # entities became parcels: the rows no longer match the layer's columns
    else:
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms) if n else np.zeros(0, dtype=bool)
        for i in np.flatnonzero(empty):
            problems.append(Problem(source_ids[i], "geometry", "几何图形为空", "empty_geometry"))

    file_crs = meta.get("crs")
    return SourceBatch(path=str(p), format=driver, geometries=list(geoms), attributes=attributes,
                       source_ids=source_ids, source_crs=file_crs or "", encoding=enc_used,
                       notes=notes, problems=problems, columns=columns)


def _rows(names: list[str], field_data, n: int) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """Attribute rows as dicts of plain Python values (column-wise conversion, as :func:`_py`),
    and the same values column by column (name → list)."""
    columns = []
    for col in field_data:
        if col.dtype.kind == "f":
            columns.append([None if v != v else v for v in col.tolist()])
        elif col.dtype.kind == "O":
            vals = col.tolist()  # strings, bytes and None come out as they are
            plain = set(map(type, vals)) <= {str, bytes, type(None)}
            columns.append(vals if plain else [_py(v) for v in vals])
        else:  # bool/int/str/datetime: .tolist() gives what .item() gives (NaT → None)
            columns.append(col.tolist())
    rows = [dict(zip(names, vals)) for vals in zip(*columns)] if columns else [{} for _ in range(n)]
    return rows, dict(zip(names, columns))  # a repeated name: the last column, as in the dicts


def _dxf_parcels(geoms, attributes):
    """Closed polylines (first vertex = last) and hatches → polygons; texts attached as labels.

    GDAL returns LWPOLYLINE/POLYLINE entities as LineStrings (closed ones with the first vertex
    repeated) and HATCHes as polygons. Open polylines become problems naming the entity handle;
    points/texts are not parcels: a text lying inside a parcel is added to its ``Text``.
    """
    out_g, out_a, out_ids, problems, texts = [], [], [], [], []
    skipped = 0
    for i, (g, a) in enumerate(zip(geoms, attributes)):
        handle = a.get("EntityHandle") or "?"
        sid = f"DXF实体 {handle}（图层 {a.get('Layer')}，第{i + 1}个实体）"
        if g is None or g.is_empty:
            skipped += 1
            continue
        kind = g.geom_type
        if kind in ("Polygon", "MultiPolygon"):
            out_g.append(g)
        elif kind == "LineString":
            if len(g.coords) >= 4 and g.is_closed:
                out_g.append(shapely.Polygon(g.coords))
            else:
                problems.append(Problem(sid, "geometry", "多段线未闭合，不能作为宗地界线；请在 CAD 中闭合后重新导入",
                                        "open_polyline"))
                continue
        elif kind == "Point":
            if a.get("Text"):
                texts.append((g, a["Text"]))
            else:
                skipped += 1
            continue
        else:
            skipped += 1
            continue
        out_a.append(dict(a))
        out_ids.append(sid)
    for pt, text in texts:
        for g, a in zip(out_g, out_a):
            if g.contains(pt):
                a["Text"] = f"{a['Text']}；{text}" if a.get("Text") and a["Text"] != "SOLID" else text
                break
    entities = len(out_g)
    out_g, out_a, out_ids, merged = _merge_parts_by_code_layer(out_g, out_a, out_ids)
    notes = [f"DXF：读取闭合多段线/填充 {entities} 个作为宗地"
             + (f"，{len(texts)} 个文字注记已按位置并入所在宗地的 Text" if texts else "")
             + (f"，跳过其他实体 {skipped} 个" if skipped else "")
             + (f"；图层名为宗地代码的 {merged} 宗多部分宗地已按图层合并（每部分一个实体）" if merged else "")]
    return out_g, out_a, out_ids, problems, notes


def _merge_parts_by_code_layer(geoms, attributes, source_ids):
    """Entities on a layer named by a valid 宗地代码 are the parts of that one parcel (our DXF
    export writes one HATCH per polygon part on a layer named by the code): join them into one
    MultiPolygon, so a multi-part parcel comes back as one parcel, not as duplicate codes.
    Entities on other layers (a surveyor's "宗地" layer) are left one parcel each."""
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(attributes):
        layer = str(a.get("Layer") or "").strip().upper()
        try:
            parse_parcel_code(layer)
        except ValueError:
            continue
        groups.setdefault(layer, []).append(i)
    drop: set[int] = set()
    merged = 0
    for layer, idx in groups.items():
        if len(idx) < 2:
            continue
        first = idx[0]
        parts = [p for i in idx for p in getattr(geoms[i], "geoms", [geoms[i]])]
        geoms[first] = shapely.MultiPolygon(parts)
        source_ids[first] = f"{source_ids[first]} 等{len(idx)}个实体（图层 {layer} 的各部分）"
        drop.update(idx[1:])
        merged += 1
    keep = [i for i in range(len(geoms)) if i not in drop]
    return [geoms[i] for i in keep], [attributes[i] for i in keep], [source_ids[i] for i in keep], merged


# --------------------------------------------------------------------------- 界址点坐标表

_COLS = {
    "code": ("宗地代码", "宗地编号", "地块编号", "地块代码", "宗地号", "parcel_code", "parcel", "code"),
    "ring": ("圈号", "环号", "界址圈号", "ring", "ring_no"),
    "point": ("点号", "界址点号", "point", "point_no", "pt"),
    "x": ("x", "x坐标", "x(m)", "纵坐标", "北坐标", "northing"),
    "y": ("y", "y坐标", "y(m)", "横坐标", "东坐标", "easting"),
}


def _find_columns(p: Path, names: list[str]) -> dict[str, str]:
    norm = {n.strip().lower().replace("（", "(").replace("）", ")").replace(" ", ""): n for n in names}
    found, missing = {}, []
    for key, aliases in _COLS.items():
        hit = next((norm[a] for a in aliases if a in norm), None)
        if hit is None and key not in ("ring", "point"):
            missing.append("/".join(aliases[:3]))
        found[key] = hit
    if missing:
        raise _fail(p, f"界址点坐标表缺少列：{'、'.join(missing)}（现有列：{'、'.join(names)}）",
                    code="missing_column")
    return found


def _detect_csv_encoding(p: Path, encoding: str | None) -> str:
    if encoding:
        enc = _codec(encoding)
        if enc is None:
            raise _fail(p, f"无法识别的编码“{encoding}”", field="encoding", code="bad_encoding")
        return enc
    data = p.read_bytes()
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gbk"


def _read_points_table(p: Path, layer, encoding: str | None, driver: str) -> SourceBatch:
    """Rows (宗地代码, 圈号, 点号, X, Y) → one polygon per parcel.

    X is the northing and Y the easting (Chinese surveying); a swapped table is detected by
    :func:`infer_crs`. Points keep row order within a ring (点号 is a label, e.g. J1…J10); a ring
    is closed if its last point does not repeat the first. Rings are sorted by area: the largest
    is an outer boundary; each further ring lying inside an outer one is a hole of it, otherwise
    it is another part (飞地) of the parcel. Row numbers count the header as row 1.
    """
    notes: list[str] = []
    kwargs: dict[str, Any] = {}
    enc_used = None
    if driver == "CSV":
        enc_used = _detect_csv_encoding(p, encoding)
        notes.append(f"界址点表（CSV）编码：{enc_used.upper()}" + ("（指定）" if encoding else "（自动判断）"))
    else:
        kwargs["HEADERS"] = "FORCE"
    try:
        layers = pyogrio.list_layers(p)
        if layer is None and len(layers) > 1:
            layer = str(layers[0][0])
            notes.append(f"表格含 {len(layers)} 个工作表，读取了第一个“{layer}”；可用 --layer 指定")
        meta, _fids, _wkb, field_data = pyogrio.raw.read(
            p, layer=layer, read_geometry=False, encoding=enc_used if driver == "CSV" else None, **kwargs)
    except ValidationFailed:
        raise
    except Exception as exc:
        raise _fail(p, f"无法读取界址点坐标表 {p.name}：{exc}") from None
    names = [str(n) for n in meta["fields"]]
    cols = dict(zip(names, field_data))
    c = _find_columns(p, names)

    def num(name):
        out = np.full(len(cols[name]), np.nan)
        for i, v in enumerate(cols[name]):
            try:
                out[i] = float(str(v).strip()) if v is not None and str(v).strip() != "" else np.nan
            except ValueError:
                pass
        return out

    codes = [None if v is None else str(_py(v)).strip() for v in cols[c["code"]]]
    xcol, ycol = num(c["x"]), num(c["y"])
    rings = num(c["ring"]) if c["ring"] else np.ones(len(codes))
    problems: list[Problem] = []
    bad = [i for i in range(len(codes)) if not codes[i] or not np.isfinite(xcol[i]) or not np.isfinite(ycol[i])]
    for i in bad:
        problems.append(Problem(f"第{i + 2}行", "X/Y", "宗地代码或坐标为空/不是数字，该点已忽略", "bad_point"))
    keep = np.setdiff1d(np.arange(len(codes)), bad)
    # Chinese convention: Y column = easting → first axis; X column = northing → second axis.
    east, north = ycol.copy(), xcol.copy()

    grouped: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i in keep:
        grouped[codes[i]][rings[i] if np.isfinite(rings[i]) else 1.0].append(int(i))

    parcels, attributes, source_ids = [], [], []
    for code, ring_rows in grouped.items():
        rows = [i for r in ring_rows.values() for i in r]
        sid = f"宗地 {code}（界址点表第{min(rows) + 2}–{max(rows) + 2}行）"
        polys = []
        for rno in sorted(ring_rows):
            idx = ring_rows[rno]
            pts = np.column_stack([east[idx], north[idx]])
            if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
                pts = pts[:-1]
            if len(pts) < 3:
                problems.append(Problem(sid, "geometry", f"第{rno:g}圈只有 {len(pts)} 个界址点，至少需要3个",
                                        "too_few_points"))
                continue
            polys.append(shapely.Polygon(pts))
        parcels.append(_assemble_rings(polys) if polys else None)
        first = rows[0]
        attr = {"宗地代码": code, "界址点数": len(rows), "圈数": len(ring_rows)}
        for name in names:
            if name not in (c["code"], c["ring"], c["point"], c["x"], c["y"]):
                attr[name] = _py(cols[name][first])
        attributes.append(attr)
        source_ids.append(sid)
    notes.append(f"界址点坐标表：{len(keep)} 个界址点组成 {len(parcels)} 宗地；"
                 "X 列按北坐标、Y 列按东坐标读取（测量坐标系惯例）")
    return SourceBatch(path=str(p), format=BOUNDARY_POINTS_FORMAT, geometries=parcels,
                       attributes=attributes, source_ids=source_ids, source_crs="",
                       encoding=enc_used or "UTF-8", notes=notes, problems=problems)


def _assemble_rings(polys: list[shapely.Polygon]):
    polys = sorted(polys, key=lambda q: -abs(q.area))
    outers: list[list] = []  # [shell Polygon, [holes]]
    for q in polys:
        host = next((o for o in outers if o[0].contains(q.representative_point())), None)
        if host is not None:
            host[1].append(q.exterior.coords)
        else:
            outers.append([q, []])
    parts = [shapely.geometry.polygon.orient(shapely.Polygon(o[0].exterior.coords, o[1])) for o in outers]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


# --------------------------------------------------------------------------- CRS & GCJ

def _swap_xy(geoms):
    return shapely.transform(geoms, lambda xy: xy[:, ::-1].copy())


def _assign_crs(batch: SourceBatch, crs, central_meridian, county_lon) -> None:
    geoms = np.array(batch.geometries, dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    name = Path(batch.path).name
    if not present.any():
        batch.source_crs = batch.source_crs or ""
        return
    if crs:
        try:
            epsg, crs_obj = _crs_to_epsg_or_crs(crs)
        except Exception:
            raise _fail(batch.path, f"无法识别指定的坐标系“{crs}”（应如 EPSG:4547）", field="crs",
                        code="bad_crs") from None
        batch.source_crs = f"EPSG:{epsg}" if epsg else crs_obj.to_string()
        batch.notes.append(f"坐标系按指定的 {batch.source_crs} 读取")
        if batch.format == BOUNDARY_POINTS_FORMAT and not crs_obj.is_geographic:
            guess = infer_crs(*shapely.get_coordinates(geoms[present]).T)
            if guess.swapped:  # only the axis order is used; the given CRS is honoured
                geoms[present] = _swap_xy(geoms[present])
                batch.notes.append("界址点表 X/Y 列颠倒（X 列是东坐标），已交换")
    elif batch.source_crs:
        try:
            epsg, crs_obj = _crs_to_epsg_or_crs(batch.source_crs)
        except Exception:
            raise _fail(batch.path, f"文件 {name} 声明的坐标系无法识别；请用 --crs 指定", field="crs",
                        code="bad_crs") from None
        label = f"EPSG:{epsg}" if epsg else crs_obj.name
        batch.source_crs = f"EPSG:{epsg}" if epsg else crs_obj.to_wkt()
        batch.notes.append(f"坐标系按文件声明读取：{label}")
    else:
        xy = shapely.get_coordinates(geoms[present])
        guess = infer_crs(xy[:, 0], xy[:, 1], central_meridian=central_meridian, county_lon=county_lon)
        if guess.kind == UNKNOWN:
            raise ValidationFailed(Problem(f"文件 {name}", "crs", guess.note, "crs_unknown"))
        epsg, crs_obj = guess.epsg, CRS.from_epsg(guess.epsg)
        if guess.swapped:
            geoms[present] = _swap_xy(geoms[present])
        batch.source_crs, batch.crs_inferred = f"EPSG:{epsg}", True
        batch.notes.append(guess.note)
    geoms[present] = _to_canonical(geoms[present], epsg, crs_obj)
    if not _in_china(geoms[present]):
        batch.problems.append(Problem(f"文件 {name}", "crs",
                                      f"按 {batch.source_crs} 换算后坐标不在中国范围内；坐标系声明可能有误，请用 --crs 指定",
                                      "crs_mismatch"))
    batch.geometries = list(geoms)


def _check_gcj(batch: SourceBatch, convert_gcj: bool, reference_polygon) -> None:
    geoms = np.array(batch.geometries, dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    name = Path(batch.path).name
    suspected = False
    if reference_polygon is not None and present.any():
        suspected, metres, note = gcj02_offset_suspected(geoms[present], reference_polygon)
        batch.notes.append(note)
        if suspected and not convert_gcj:
            batch.problems.append(Problem(
                f"文件 {name}", "geometry",
                f"数据疑似火星坐标（GCJ-02，偏移约 {metres:.0f} 米）；如确认来自网络地图，请加 --convert-gcj 纠偏后导入",
                "gcj02_suspected"))
    if convert_gcj and present.any():
        geoms[present] = gcj_to_wgs(geoms[present])
        batch.geometries = list(geoms)
        batch.notes.append("已按要求将火星坐标（GCJ-02）纠偏为 CGCS2000（经 WGS84，逐点反算）")
