/*
 * landcycle web face — the shared map (MapLibre GL JS, vendored: nothing from a CDN).
 *
 * Pages load `/static/vendor/maplibre-gl/maplibre-gl.js` (+ its CSS) as a classic script
 * before their module, then import from here. Maps read tiles: parcels, zones and counties
 * come from the vector tiles (`/tiles/{layer}.json` TileJSON → MapLibre "vector" sources);
 * no layer of parcels is ever downloaded as GeoJSON. Labels are drawn with the machine's own
 * CJK fonts (no glyph server); MapLibre's controls speak Chinese (MAP_LOCALE).
 *
 * API
 *   createMap(container, opts) → Promise<maplibregl.Map>, resolved once loaded, with the base
 *     layers: optional raster base map (`/api/config` basemap_url), county boundaries and zone
 *     outlines (tiles) with their names. opts:
 *       interactive = true     false: a still picture (no pan/zoom/controls) e.g. for print
 *       bounds                 [[w, s], [e, n]] to frame at start (else /api/config's view)
 *       center, zoom           start view (else /api/config's)
 *       hash = false           keep the view in the address (#zoom/lat/lon)
 *       controls = true        zoom buttons and scale bar (when interactive)
 *       expose                 a window property name to publish the map under (for tests,
 *                              e.g. 'landcycleMap' → window.landcycleMap)
 *   addParcelTiles(map, {layer: 'supply'|'parcels', styleBy: 'state'|'category'|'class'})
 *     → Promise: adds the parcel layers ('parcels-fill', 'parcels-line', 'parcels-selected')
 *     from the tile layer's TileJSON. 'supply' = the public 可供土地清单 (z11+), 'parcels' =
 *     the caller's jurisdiction (session cookie; z14+). Resolves to the TileJSON document.
 *   setParcelStyle(map, styleBy)      recolour the parcels: by lifecycle state (`state`), by
 *     低效 category (`inefficiency`, first category; none → grey) or by A/B/C class (`eval_class`;
 *     `not_evaluated` → 不参评; absent → grey "无评价").
 *   setParcelFilter(map, {county, zone, state, codes, minMu, maxMu})  filter the drawn parcels.
 *   highlightParcel(map, code)        outline one parcel of the tiles ('' clears).
 *   legendItems(styleBy) → [{key, color, label}]; renderLegend(node, styleBy) fills a <ul>.
 *   onParcelClick(map, handler)       handler(properties, lngLat, event) on a click on a parcel.
 *   openPopup(map, lngLat, node)      show a DOM node in a popup (one at a time); returns it.
 *   showFeature(map, feature, {fit=true, padding, maxZoom, color})  draw one GeoJSON feature
 *     (e.g. the card API's geometry) as an outline + light fill and fit the view to it.
 *   fitFeature(map, feature, opts), featureBounds(feature) → [[w, s], [e, n]] | null.
 *   jurisdictionList() → Promise<{counties, zones, byCode}> (cached) for filter lists.
 *   renderedParcels(map) → unique properties of the parcels drawn in the view.
 *   STATE_COLORS, CATEGORY_COLORS, CLASS_COLORS, MAP_LOCALE.
 *
 * API data is never parsed as HTML: popups and legends are built with el().
 */

import { api, el } from './common.js';

const TILES = '/tiles';
const DEFAULT_VIEW = { center: [113.852, 34.036], zoom: 9 };  // 许昌市区
const EMPTY_FC = { type: 'FeatureCollection', features: [] };

/** Fixed palette keyed by lifecycle state value (not by position). */
export const STATE_COLORS = {
  reserve: '#c4c6e6',              // 储备
  approved_unsupplied: '#9e9ac8',  // 批而未供
  listed: '#7fb8da',               // 可供
  supplied: '#2b7bba',             // 已供应（出让/划拨）
  under_construction: '#f6c945',   // 在建
  completed: '#b5dd8f',            // 竣工验收
  in_production: '#4daf62',        // 达产验收
  operating: '#1b7837',            // 正常运营
  idle: '#d7301f',                 // 闲置
  inefficient: '#f08a2c',          // 低效
  rectifying: '#e0569b',           // 整改中
  disposing: '#7a1f7e',            // 处置中
  reclaimed: '#6f6f6f',            // 收回
  split_transferred: '#35978f',    // 分割/转让
};
const STATE_LABELS = {
  reserve: '储备', approved_unsupplied: '批而未供', listed: '可供', supplied: '已供应',
  under_construction: '在建', completed: '竣工验收', in_production: '达产验收', operating: '正常运营',
  idle: '闲置', inefficient: '低效', rectifying: '整改中', disposing: '处置中', reclaimed: '收回',
  split_transferred: '分割/转让',
};

/** 低效用地 categories (domain.vocabulary.InefficiencyCategory). */
export const CATEGORY_COLORS = {
  industry_transformation: '#1f78b4',  // 产业转型类
  construction_stalled: '#e31a1c',     // 停建缓建类
  below_contract: '#ff7f00',           // 开发未达标类
  production_halted: '#6a3d9a',        // 停产半停产类
  output_shortfall: '#fdbf6f',         // 产出未达标类
  other: '#b15928',                    // 其他
};
const CATEGORY_LABELS = {
  industry_transformation: '产业转型类', construction_stalled: '停建缓建类', below_contract: '开发未达标类',
  production_halted: '停产半停产类', output_shortfall: '产出未达标类', other: '其他',
};

/** 企业分类综合评价 classes (domain.rules.classify.CLASS_LABELS). */
export const CLASS_COLORS = { A: '#1b9e4b', B: '#f2b134', C: '#d7301f', not_evaluated: '#9bb7d4' };
const CLASS_LABELS = {
  A: 'A类（优先发展类）', B: 'B类（鼓励提升类）', C: 'C类（倒逼转型类）', not_evaluated: '不参评',
};

const NONE_COLOR = '#d4d4d4';
const NONE_LABELS = { state: '其他状态', category: '非低效用地', class: '无评价' };
const COUNTY_LINE = '#5b6472';
const ZONE_LINE = '#8a3ffc';
const SELECT_LINE = '#0b3d91';
// Local fonts only (no "glyphs" URL in the style: MapLibre draws CJK glyphs with these).
const LABEL_FONT = ['Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', 'sans-serif'];
const PARCEL_LAYERS = ['parcels-fill', 'parcels-line', 'parcels-selected'];

export const MAP_LOCALE = {
  'AttributionControl.ToggleAttribution': '显示/隐藏版权信息',
  'AttributionControl.MapFeedback': '地图反馈',
  'FullscreenControl.Enter': '全屏',
  'FullscreenControl.Exit': '退出全屏',
  'GeolocateControl.FindMyLocation': '定位到我的位置',
  'GeolocateControl.LocationNotAvailable': '无法获取位置',
  'LogoControl.Title': 'MapLibre 标志',
  'Map.Title': '地图',
  'Marker.Title': '地图标记',
  'NavigationControl.ResetBearing': '重置为正北方向',
  'NavigationControl.ZoomIn': '放大',
  'NavigationControl.ZoomOut': '缩小',
  'Popup.Close': '关闭',
  'ScaleControl.Feet': '英尺',
  'ScaleControl.Meters': '米',
  'ScaleControl.Kilometers': '公里',
  'ScaleControl.Miles': '英里',
  'ScaleControl.NauticalMiles': '海里',
  'TerrainControl.Enable': '启用地形',
  'TerrainControl.Disable': '关闭地形',
  'CooperativeGesturesHandler.WindowsHelpText': '按住 Ctrl 键并滚动鼠标滚轮缩放地图',
  'CooperativeGesturesHandler.MacHelpText': '按住 ⌘ 键并滚动鼠标滚轮缩放地图',
  'CooperativeGesturesHandler.MobileHelpText': '请用双指移动地图',
};

// ---- cached look-ups -----------------------------------------------------------------

const once = {};
function cached(key, make) {
  if (!once[key]) once[key] = make().catch((err) => { delete once[key]; throw err; });
  return once[key];
}

const tileJson = (layer) => cached(`tj:${layer}`, () => api(`${TILES}/${layer}.json`));
const mapConfig = () => cached('config', () => api('/api/config').catch(() => ({})));

/** Counties and zones (GeoJSON features, by code order) for filter lists; cached. */
export function jurisdictionList() {
  return cached('jurisdictions', async () => {
    const fc = await api('/api/jurisdictions');
    const features = Array.isArray(fc && fc.features) ? fc.features : [];
    const byCode = {};
    for (const f of features) if (f.properties && f.properties.code) byCode[f.properties.code] = f;
    const order = (a, b) => String(a.properties.code).localeCompare(String(b.properties.code));
    return {
      counties: features.filter((f) => f.properties && f.properties.kind === 'county').sort(order),
      zones: features.filter((f) => f.properties && f.properties.kind === 'zone').sort(order),
      byCode,
    };
  });
}

// ---- geometry helpers ------------------------------------------------------------------

function eachPosition(coords, fn) {
  if (!Array.isArray(coords)) return;
  if (typeof coords[0] === 'number') { fn(coords); return; }
  for (const c of coords) eachPosition(c, fn);
}

/** [[minLon, minLat], [maxLon, maxLat]] of a GeoJSON feature or geometry, or null. */
export function featureBounds(feature) {
  const g = feature && (feature.geometry || (feature.coordinates ? feature : null));
  if (!g) return null;
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  eachPosition(g.coordinates, (p) => {
    b[0] = Math.min(b[0], p[0]); b[1] = Math.min(b[1], p[1]);
    b[2] = Math.max(b[2], p[0]); b[3] = Math.max(b[3], p[1]);
  });
  return isFinite(b[0]) ? [[b[0], b[1]], [b[2], b[3]]] : null;
}

function ringArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) a += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
  return a / 2;
}

function insidePolygon(pt, polygon) {
  let inside = false;
  for (const ring of polygon) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > pt[1]) !== (yj > pt[1]) && pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Midpoint of the widest interior run of the horizontal line at y. */
function scanlinePoint(polygon, y) {
  const xs = [];
  for (const ring of polygon) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[j];
      const b = ring[i];
      if ((a[1] > y) !== (b[1] > y)) xs.push(a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1]));
    }
  }
  xs.sort((p, q) => p - q);
  let best = null;
  let width = -1;
  for (let k = 0; k + 1 < xs.length; k += 2) {
    if (xs[k + 1] - xs[k] > width) { width = xs[k + 1] - xs[k]; best = [(xs[k] + xs[k + 1]) / 2, y]; }
  }
  return best;
}

/** A point inside the largest polygon of a feature (for its label). */
function labelPoint(feature) {
  const g = feature.geometry;
  const polys = !g ? [] : g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  if (!polys.length) return null;
  let poly = polys[0];
  let maxArea = -1;
  for (const p of polys) {
    const a = p[0] ? Math.abs(ringArea(p[0])) : 0;
    if (a > maxArea) { maxArea = a; poly = p; }
  }
  const ring = poly[0];
  if (!ring || ring.length < 3) return null;
  let cx = 0; let cy = 0; let a2 = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
    cx += (ring[j][0] + ring[i][0]) * f;
    cy += (ring[j][1] + ring[i][1]) * f;
    a2 += f;
  }
  const c = a2 ? [cx / (3 * a2), cy / (3 * a2)] : ring[0];
  if (insidePolygon(c, poly)) return c;
  const b = featureBounds({ geometry: { coordinates: ring } });
  return scanlinePoint(poly, c[1]) || scanlinePoint(poly, (b[0][1] + b[1][1]) / 2) || c;
}

// ---- style -----------------------------------------------------------------------------

/** The same-origin address of a tile URL template from a TileJSON document. */
function sameOrigin(template) {
  const at = String(template).indexOf(`${TILES}/`);
  return at < 0 ? String(template) : location.origin + String(template).slice(at);
}

/** A MapLibre vector source from a TileJSON document; feature ids promoted from `code`. */
function vectorSource(doc, layer) {
  const source = {
    type: 'vector',
    tiles: (doc.tiles || []).map(sameOrigin),
    minzoom: doc.minzoom,
    maxzoom: doc.maxzoom,
    promoteId: { [layer]: 'code' },
  };
  if (Array.isArray(doc.bounds) && doc.bounds.length === 4) source.bounds = doc.bounds;
  if (doc.attribution) source.attribution = String(doc.attribution);
  return source;
}

const selectedCase = (yes, no) => ['case', ['boolean', ['feature-state', 'selected'], false], yes, no];

function baseStyle(basemapUrl, counties, zones) {
  const sources = {
    counties: vectorSource(counties, 'counties'),
    zones: vectorSource(zones, 'zones'),
    'boundary-labels': { type: 'geojson', data: EMPTY_FC },
    'shown-feature': { type: 'geojson', data: EMPTY_FC },
  };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#eceae3' } }];
  if (basemapUrl) {
    sources.basemap = { type: 'raster', tiles: [basemapUrl], tileSize: 256 };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  layers.push(
    { id: 'county-fill', type: 'fill', source: 'counties', 'source-layer': 'counties',
      paint: { 'fill-color': '#ffffff', 'fill-opacity': basemapUrl ? 0.12 : 0.7 } },
    // Parcel layers are inserted here (before the outlines) by addParcelTiles().
    { id: 'county-line', type: 'line', source: 'counties', 'source-layer': 'counties',
      layout: { 'line-join': 'round' },
      paint: { 'line-color': selectedCase(SELECT_LINE, COUNTY_LINE),
        'line-width': ['interpolate', ['linear'], ['zoom'], 7, selectedCase(2.5, 1), 14, selectedCase(4, 2.5)] } },
    { id: 'zone-line', type: 'line', source: 'zones', 'source-layer': 'zones',
      layout: { 'line-join': 'round' },
      paint: { 'line-color': ZONE_LINE,
        'line-width': ['interpolate', ['linear'], ['zoom'], 8, selectedCase(2.5, 1.2), 15, selectedCase(4, 2.2)],
        'line-dasharray': [3, 2] } },
    { id: 'shown-fill', type: 'fill', source: 'shown-feature',
      paint: { 'fill-color': ['coalesce', ['get', '_color'], SELECT_LINE], 'fill-opacity': 0.18 } },
    { id: 'shown-line', type: 'line', source: 'shown-feature',
      paint: { 'line-color': ['coalesce', ['get', '_color'], SELECT_LINE], 'line-width': 3 } },
    { id: 'county-label', type: 'symbol', source: 'boundary-labels', filter: ['==', ['get', 'kind'], 'county'],
      maxzoom: 12,
      layout: { 'text-field': ['get', 'name'], 'text-font': LABEL_FONT, 'text-size': 14 },
      paint: { 'text-color': '#4b5563', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 } },
    { id: 'zone-label', type: 'symbol', source: 'boundary-labels', filter: ['==', ['get', 'kind'], 'zone'],
      layout: { 'text-field': ['get', 'name'], 'text-font': LABEL_FONT,
        'text-size': ['interpolate', ['linear'], ['zoom'], 8, 11, 14, 15], 'text-max-width': 10 },
      paint: { 'text-color': '#5b21b6', 'text-halo-color': '#ffffff', 'text-halo-width': 1.6 } },
  );
  return { version: 8, name: 'landcycle', sources, layers };
}

/** Tile requests carry the session cookie (same origin), so scoped parcels are the caller's. */
function transformRequest(url) {
  if (url.startsWith(`${location.origin}${TILES}/`)) return { url, credentials: 'same-origin' };
  return { url };
}

function validView(cfg) {
  return cfg && Array.isArray(cfg.center) && cfg.center.length === 2 &&
    cfg.center.every((v) => typeof v === 'number' && isFinite(v)) && typeof cfg.zoom === 'number';
}

/**
 * A MapLibre map in `container` (element or id) with the base layers; resolves once loaded.
 * Rejects with an Error whose message is Chinese when MapLibre or the tiles are unavailable.
 */
export async function createMap(container, opts = {}) {
  const { interactive = true, bounds = null, hash = false, controls = true, expose = '' } = opts;
  if (typeof window.maplibregl === 'undefined') throw new Error('地图组件未能加载，请联系系统管理员（需先构建静态资源）。');
  const maplibregl = window.maplibregl;
  let cfg;
  let counties;
  let zones;
  try {
    [cfg, counties, zones] = await Promise.all([mapConfig(), tileJson('counties'), tileJson('zones')]);
  } catch (err) {
    throw new Error('地图瓦片服务暂不可用，请稍后重试。');
  }
  const basemap = cfg && typeof cfg.basemap_url === 'string' ? cfg.basemap_url.trim() : '';
  const view = opts.center ? { center: opts.center, zoom: opts.zoom ?? 14 } : validView(cfg) ? cfg : DEFAULT_VIEW;
  let map;
  try {
    map = new maplibregl.Map({
      container,
      style: baseStyle(basemap, counties, zones),
      transformRequest,
      interactive,
      hash,
      center: view.center,
      zoom: view.zoom,
      bounds: bounds || undefined,
      fitBoundsOptions: { padding: 30, maxZoom: 17 },
      maxPitch: 0,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      attributionControl: { compact: true },
      locale: MAP_LOCALE,
      canvasContextAttributes: { preserveDrawingBuffer: true },  // print and screenshots
    });
  } catch (err) {
    throw new Error('地图无法显示：当前浏览器可能不支持 WebGL。');
  }
  if (interactive) {
    map.touchZoomRotate.disableRotation();
    map.keyboard.disableRotation();
    if (controls) {
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
      map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    }
  }
  // Without a listener MapLibre prints bare errors; say which source failed instead.
  map.on('error', (e) => console.warn('地图错误', e && e.sourceId ? `（${e.sourceId}）` : '', e && e.error && e.error.message));
  map.landcycle = { styleBy: 'state', layer: null, filter: ['all'], selected: '', popup: null, parcelMinZoom: 14 };
  if (expose) window[expose] = map;
  await new Promise((resolve) => map.once('load', resolve));
  // Names of counties and zones at one point inside each (the outlines come from the tiles).
  jurisdictionList().then(({ counties: cs, zones: zs }) => {
    const labels = [];
    for (const f of cs.concat(zs)) {
      const pt = f.geometry && labelPoint(f);
      if (pt) labels.push({ type: 'Feature', geometry: { type: 'Point', coordinates: pt },
        properties: { code: f.properties.code, name: f.properties.name, kind: f.properties.kind } });
    }
    map.getSource('boundary-labels').setData({ type: 'FeatureCollection', features: labels });
  }).catch((err) => console.warn('jurisdiction labels unavailable', err));
  return map;
}

// ---- parcels -------------------------------------------------------------------------

function colorExpression(styleBy) {
  let attr;
  let colors;
  if (styleBy === 'category') {
    // A parcel may carry several categories ("a,b"): coloured by the first.
    attr = ['slice', ['coalesce', ['get', 'inefficiency'], ''], 0,
      ['let', 'i', ['index-of', ',', ['coalesce', ['get', 'inefficiency'], '']],
        ['case', ['<', ['var', 'i'], 0], ['length', ['coalesce', ['get', 'inefficiency'], '']], ['var', 'i']]]];
    colors = CATEGORY_COLORS;
  } else if (styleBy === 'class') {
    attr = ['coalesce', ['get', 'eval_class'], ''];
    colors = CLASS_COLORS;
  } else {
    attr = ['coalesce', ['get', 'state'], ''];
    colors = STATE_COLORS;
  }
  const expr = ['match', attr];
  for (const [value, color] of Object.entries(colors)) expr.push(value, color);
  expr.push(NONE_COLOR);
  return expr;
}

/**
 * Add the parcels of tile layer `layer` ('supply' public list, 'parcels' the caller's
 * jurisdiction) styled by `styleBy`; resolves to the layer's TileJSON.
 */
export async function addParcelTiles(map, { layer = 'supply', styleBy = 'state' } = {}) {
  const doc = await tileJson(layer);
  for (const id of PARCEL_LAYERS) if (map.getLayer(id)) map.removeLayer(id);
  if (map.getSource('parcels')) map.removeSource('parcels');
  map.addSource('parcels', vectorSource(doc, layer));
  const before = 'county-line';
  map.addLayer({ id: 'parcels-fill', type: 'fill', source: 'parcels', 'source-layer': layer,
    paint: { 'fill-color': colorExpression(styleBy), 'fill-opacity': 0.82 } }, before);
  map.addLayer({ id: 'parcels-line', type: 'line', source: 'parcels', 'source-layer': layer,
    paint: { 'line-color': '#3a3a3a', 'line-opacity': 0.55,
      'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.3, 16, 1.2] } }, before);
  map.addLayer({ id: 'parcels-selected', type: 'line', source: 'parcels', 'source-layer': layer,
    filter: ['==', ['get', 'code'], ''], paint: { 'line-color': SELECT_LINE, 'line-width': 3.5 } });
  Object.assign(map.landcycle, { layer, styleBy, parcelMinZoom: doc.minzoom ?? 14 });
  applyParcelFilter(map);
  if (interactiveMap(map)) {
    map.on('mouseenter', 'parcels-fill', () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', 'parcels-fill', () => { map.getCanvas().style.cursor = ''; });
  }
  return doc;
}

function interactiveMap(map) {
  return map.dragPan && map.dragPan.isEnabled ? map.dragPan.isEnabled() : true;
}

/** Recolour the parcels: 'state' (lifecycle), 'category' (低效类别) or 'class' (A/B/C). */
export function setParcelStyle(map, styleBy) {
  map.landcycle.styleBy = styleBy;
  if (map.getLayer('parcels-fill')) map.setPaintProperty('parcels-fill', 'fill-color', colorExpression(styleBy));
}

/**
 * Filter the drawn parcels by tile attributes: county / zone code, lifecycle state, a list of
 * codes, area in 亩 (minMu/maxMu). Empty values do not filter.
 */
export function setParcelFilter(map, { county, zone, state, codes, minMu, maxMu } = {}) {
  const f = ['all'];
  if (county) f.push(['==', ['get', 'county_code'], county]);
  if (zone) f.push(['==', ['get', 'zone_code'], zone]);
  if (state) f.push(['==', ['get', 'state'], state]);
  if (Array.isArray(codes)) f.push(['in', ['get', 'code'], ['literal', codes]]);
  if (minMu != null && minMu !== '') f.push(['>=', ['to-number', ['get', 'area_mu']], Number(minMu)]);
  if (maxMu != null && maxMu !== '') f.push(['<=', ['to-number', ['get', 'area_mu']], Number(maxMu)]);
  map.landcycle.filter = f;
  applyParcelFilter(map);
}

function applyParcelFilter(map) {
  const { filter, selected } = map.landcycle;
  if (!map.getLayer('parcels-fill')) return;
  map.setFilter('parcels-fill', filter);
  map.setFilter('parcels-line', filter);
  map.setFilter('parcels-selected', ['==', ['get', 'code'], selected || '']);
}

/** Outline one parcel of the tiles ('' or null clears). */
export function highlightParcel(map, code) {
  map.landcycle.selected = code || '';
  applyParcelFilter(map);
}

/** The unique properties of the parcels drawn in the current view (from the tiles). */
export function renderedParcels(map) {
  if (!map.getLayer('parcels-fill')) return [];
  const seen = new Map();
  for (const f of map.queryRenderedFeatures({ layers: ['parcels-fill'] })) {
    const code = f.properties && f.properties.code;
    if (code && !seen.has(code)) seen.set(code, f.properties);
  }
  return [...seen.values()];
}

/** handler(properties, lngLat, event) when a parcel is clicked. */
export function onParcelClick(map, handler) {
  map.on('click', 'parcels-fill', (e) => {
    const f = e.features && e.features[0];
    if (f) handler(f.properties || {}, e.lngLat, e);
  });
}

/** Show `node` in a popup at lngLat (closing the previous one); returns the popup. */
export function openPopup(map, lngLat, node, { onClose } = {}) {
  closePopup(map);
  const popup = new window.maplibregl.Popup({ maxWidth: '320px', closeButton: true, focusAfterOpen: true })
    .setLngLat(lngLat).setDOMContent(node);
  popup.on('close', () => {
    if (map.landcycle.popup === popup) map.landcycle.popup = null;
    if (onClose) onClose();
  });
  map.landcycle.popup = popup.addTo(map);
  return popup;
}

/** Close the map's popup, if any. */
export function closePopup(map) {
  const p = map.landcycle.popup;
  map.landcycle.popup = null;
  if (p) p.remove();
}

// ---- one feature ---------------------------------------------------------------------

/** Fit the view to a GeoJSON feature (or geometry); false when it has no coordinates. */
export function fitFeature(map, feature, { padding = 40, maxZoom = 17, duration = 0 } = {}) {
  const b = featureBounds(feature);
  if (!b) return false;
  map.fitBounds(b, { padding, maxZoom, duration });
  return true;
}

/**
 * Draw one GeoJSON feature (or geometry) as an outline with a light fill (replacing the one
 * drawn before) and, unless `fit` is false, frame it. null clears.
 */
export function showFeature(map, feature, { fit = true, padding = 40, maxZoom = 17, color } = {}) {
  const src = map.getSource('shown-feature');
  if (!feature) { src.setData(EMPTY_FC); return; }
  const f = feature.type === 'Feature' ? feature : { type: 'Feature', geometry: feature, properties: {} };
  const shown = { ...f, properties: { ...(f.properties || {}), ...(color ? { _color: color } : {}) } };
  src.setData({ type: 'FeatureCollection', features: [shown] });
  if (fit) fitFeature(map, f, { padding, maxZoom });
}

// ---- legend ----------------------------------------------------------------------------

/** The legend of a parcel style: [{key, color, label}] (the grey "none" entry last). */
export function legendItems(styleBy) {
  const [colors, labels] = styleBy === 'category' ? [CATEGORY_COLORS, CATEGORY_LABELS]
    : styleBy === 'class' ? [CLASS_COLORS, CLASS_LABELS] : [STATE_COLORS, STATE_LABELS];
  const items = Object.keys(colors).map((key) => ({ key, color: colors[key], label: labels[key] || key }));
  items.push({ key: '', color: NONE_COLOR, label: NONE_LABELS[styleBy] || NONE_LABELS.state });
  return items;
}

/** A colour swatch (decorative). */
export function swatch(color) {
  const s = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  s.style.backgroundColor = color;
  return s;
}

/**
 * Fill `node` (a <ul>) with the legend of `styleBy`; `only` (a set of keys) limits it to
 * the values present, e.g. the public list shows only 可供.
 */
export function renderLegend(node, styleBy, { only } = {}) {
  const items = legendItems(styleBy).filter((i) => !only || only.has(i.key));
  node.replaceChildren(...items.map((i) => el('li', { dataset: { key: i.key } }, [swatch(i.color), i.label])));
  node.setAttribute('aria-label', { state: '按土地状态', category: '按低效类别', class: '按企业分类' }[styleBy] || '图例');
}

/** Colour of one parcel's properties in a style (for list markers and popups). */
export function colorOf(props, styleBy) {
  if (styleBy === 'category') return CATEGORY_COLORS[String(props.inefficiency || '').split(',')[0]] || NONE_COLOR;
  if (styleBy === 'class') return CLASS_COLORS[props.eval_class] || NONE_COLOR;
  return STATE_COLORS[props.state] || NONE_COLOR;
}
