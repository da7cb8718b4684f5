/*
 * landcycle web face — the map page.
 *
 * Plain browser JavaScript (no build step). MapLibre GL JS is vendored under
 * /static/vendor/maplibre-gl/ by scripts/build_static.sh: nothing is fetched
 * from a CDN, and no glyph or sprite server is used (labels are drawn with the
 * browser's local fonts).
 *
 * Maps read tiles, lists read pages: parcels, zones and counties are drawn from
 * vector tiles (MapLibre "vector" sources built from each layer's TileJSON); the page
 * never downloads a layer of parcels as GeoJSON. The anonymous public gets the
 * published supply list ("supply" layer), signed-in users the parcels of their
 * jurisdiction ("parcels" layer; the session cookie goes with every tile request).
 *
 * API contract used here:
 *   GET /api/config          -> {basemap_url, center: [lon, lat], zoom}
 *   GET /api/jurisdictions   -> FeatureCollection (kind: city|county|management_area|zone),
 *                               for the filter lists, zoom-to and the labels
 *   GET /api/meta/states     -> [{value, label}, ...] lifecycle states in order
 *   GET /api/auth/me         -> {role, ...}: "public" when not signed in
 *   GET /tiles/{layer}.json  -> TileJSON 3.0 (tiles, minzoom, maxzoom, bounds)
 *   GET /tiles/{layer}/{z}/{x}/{y}.mvt -> Mapbox Vector Tile (source-layer = layer)
 *   GET /api/parcels/{code}  -> parcel card ("一宗一卡"), fetched for one clicked parcel
 *
 * API data is never parsed as HTML: all text goes through textContent or
 * text nodes (see el()).
 */
(function () {
  'use strict';

  var API = {
    config: '/api/config',
    jurisdictions: '/api/jurisdictions',
    states: '/api/meta/states',
    me: '/api/auth/me',
    parcels: '/api/parcels',
    tiles: '/tiles'
  };

  // Tile layers: the public supply list for anonymous visitors, the scoped parcels
  // layer for signed-in users; jurisdiction outlines for everyone.
  var PUBLIC_PARCEL_LAYER = 'supply';
  var SCOPED_PARCEL_LAYER = 'parcels';
  var BOUNDARY_LAYERS = ['counties', 'zones'];
  var DEFAULT_PARCEL_MIN_ZOOM = 14;  // until the TileJSON says otherwise
  var DEFAULT_VIEW = { center: [113.852, 34.036], zoom: 9 };  // 许昌市区
  var SQM_PER_MU = 10000 / 15;

  // Fixed palette keyed by lifecycle state value (not by position).
  var STATE_COLORS = {
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
    split_transferred: '#35978f'     // 分割/转让
  };
  var FALLBACK_COLOR = '#d4d4d4';

  var COUNTY_LINE = '#5b6472';
  var ZONE_LINE = '#8a3ffc';
  var SELECT_LINE = '#0b3d91';
  // Local fonts only (no "glyphs" URL in the style, so MapLibre draws glyphs itself).
  var LABEL_FONT = ['Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', 'sans-serif'];

  var MAP_LOCALE = {
    'AttributionControl.ToggleAttribution': '显示/隐藏版权信息',
    'AttributionControl.MapFeedback': '地图反馈',
    'FullscreenControl.Enter': '全屏',
    'FullscreenControl.Exit': '退出全屏',
    'LogoControl.Title': 'MapLibre 标志',
    'Map.Title': '地图',
    'Marker.Title': '地图标记',
    'NavigationControl.ResetBearing': '重置为正北方向',
    'NavigationControl.ZoomIn': '放大',
    'NavigationControl.ZoomOut': '缩小',
    'Popup.Close': '关闭',
    'ScaleControl.Meters': '米',
    'ScaleControl.Kilometers': '公里',
    'CooperativeGesturesHandler.WindowsHelpText': '按住 Ctrl 键并滚动鼠标滚轮缩放地图',
    'CooperativeGesturesHandler.MacHelpText': '按住 ⌘ 键并滚动鼠标滚轮缩放地图',
    'CooperativeGesturesHandler.MobileHelpText': '请用双指移动地图'
  };

  var EMPTY_FC = { type: 'FeatureCollection', features: [] };

  // ---- page state -------------------------------------------------------

  var map = null;
  var mapLoaded = false;
  var parcelLayer = PUBLIC_PARCEL_LAYER;  // source-layer of the parcel tiles
  var parcelMinZoom = DEFAULT_PARCEL_MIN_ZOOM;
  var states = [];                  // [{value, label}]
  var stateLabels = {};             // value -> label
  var counties = [];                // jurisdiction features, kind "county"
  var zones = [];                   // jurisdiction features, kind "zone"
  var byCode = {};                  // jurisdiction code -> feature
  var filters = { county: '', zone: '', state: '' };
  var highlighted = { counties: null, zones: null };

  var popup = null;
  var selectedCode = '';

  // ---- small helpers ----------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  /** Create an element; children may be nodes or strings (inserted as text). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'class') node.className = attrs[k];
        else if (k === 'text') node.textContent = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      node.append(c == null ? '' : c);
    });
    return node;
  }

  function props(feature) {
    return (feature && feature.properties) || {};
  }

  function str(v) {
    return v == null ? '' : String(v);
  }

  function colorFor(value) {
    return Object.prototype.hasOwnProperty.call(STATE_COLORS, value)
      ? STATE_COLORS[value]
      : FALLBACK_COLOR;
  }

  function swatch(color) {
    var s = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    s.style.backgroundColor = color;
    return s;
  }

  function isFiniteNumber(v) {
    return typeof v === 'number' && isFinite(v);
  }

  function fetchJSON(url, signal) {
    return fetch(url, {
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      signal: signal
    }).then(function (res) {
      if (!res.ok) {
        var err = new Error('HTTP ' + res.status + ' for ' + url);
        err.status = res.status;
        throw err;
      }
      return res.json();
    });
  }

  // ---- status / messages ------------------------------------------------

  function setStatus(children) {
    var node = $('status');
    node.replaceChildren.apply(node, children);
  }

  function showError(message) {
    var node = $('status-error');
    if (message) {
      node.textContent = message;
      node.hidden = false;
    } else {
      node.textContent = '';
      node.hidden = true;
    }
  }

  function showMapMessage(message) {
    var node = $('map-message');
    node.textContent = message;
    node.hidden = !message;
  }

  // ---- geometry helpers -------------------------------------------------

  function eachPosition(coords, fn) {
    if (!Array.isArray(coords)) return;
    if (typeof coords[0] === 'number') {
      fn(coords);
      return;
    }
    for (var i = 0; i < coords.length; i++) eachPosition(coords[i], fn);
  }

  /** [[minLon, minLat], [maxLon, maxLat]] of a feature, or null. */
  function featureBounds(feature) {
    var g = feature && feature.geometry;
    if (!g) return null;
    var b = [Infinity, Infinity, -Infinity, -Infinity];
    eachPosition(g.coordinates, function (p) {
      if (p[0] < b[0]) b[0] = p[0];
      if (p[1] < b[1]) b[1] = p[1];
      if (p[0] > b[2]) b[2] = p[0];
      if (p[1] > b[3]) b[3] = p[1];
    });
    return isFinite(b[0]) ? [[b[0], b[1]], [b[2], b[3]]] : null;
  }

  function polygonsOf(geometry) {
    if (!geometry) return [];
    if (geometry.type === 'Polygon') return [geometry.coordinates];
    if (geometry.type === 'MultiPolygon') return geometry.coordinates;
    return [];
  }

  function ringArea(ring) {
    var a = 0;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      a += (ring[j][0] * ring[i][1]) - (ring[i][0] * ring[j][1]);
    }
    return a / 2;
  }

  function insidePolygon(pt, polygon) {
    var inside = false;
    polygon.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
        if ((yi > pt[1]) !== (yj > pt[1]) &&
            pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) {
          inside = !inside;
        }
      }
    });
    return inside;
  }

  /** Midpoint of the widest interior segment of a horizontal scanline at y. */
  function scanlinePoint(polygon, y) {
    var xs = [];
    polygon.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var a = ring[j], b = ring[i];
        if ((a[1] > y) !== (b[1] > y)) {
          xs.push(a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1]));
        }
      }
    });
    xs.sort(function (p, q) { return p - q; });
    var best = null, width = -1;
    for (var k = 0; k + 1 < xs.length; k += 2) {
      if (xs[k + 1] - xs[k] > width) {
        width = xs[k + 1] - xs[k];
        best = [(xs[k] + xs[k + 1]) / 2, y];
      }
    }
    return best;
  }

  /** A point inside the largest polygon of the feature, for its label. */
  function labelPoint(feature) {
    var polys = polygonsOf(feature.geometry);
    if (!polys.length) return null;
    var poly = polys[0], maxArea = -1;
    polys.forEach(function (p) {
      var a = p[0] ? Math.abs(ringArea(p[0])) : 0;
      if (a > maxArea) { maxArea = a; poly = p; }
    });
    var ring = poly[0];
    if (!ring || ring.length < 3) return null;
    // Area-weighted centroid of the outer ring.
    var cx = 0, cy = 0, a2 = 0;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
      cx += (ring[j][0] + ring[i][0]) * f;
      cy += (ring[j][1] + ring[i][1]) * f;
      a2 += f;
    }
    var c = a2 ? [cx / (3 * a2), cy / (3 * a2)] : ring[0];
    if (insidePolygon(c, poly)) return c;
    var b = featureBounds({ geometry: { coordinates: ring } });
    return scanlinePoint(poly, c[1]) ||
      scanlinePoint(poly, (b[0][1] + b[1][1]) / 2) || c;
  }

  // ---- map style ----------------------------------------------------------

  function parcelColorExpression() {
    var expr = ['match', ['get', 'state']];
    Object.keys(STATE_COLORS).forEach(function (value) {
      expr.push(value, STATE_COLORS[value]);
    });
    expr.push(FALLBACK_COLOR);
    return expr;
  }

  function selectedCase(whenSelected, otherwise) {
    return ['case', ['boolean', ['feature-state', 'selected'], false], whenSelected, otherwise];
  }

  /** The same-origin address of a tile URL template from a TileJSON document. */
  function sameOrigin(template) {
    var at = String(template).indexOf(API.tiles + '/');
    return at < 0 ? String(template) : window.location.origin + String(template).slice(at);
  }

  /** A MapLibre vector source from a layer's TileJSON; feature ids promoted from `code`. */
  function vectorSource(doc, layer) {
    var promote = {};
    promote[layer] = 'code';
    var source = {
      type: 'vector',
      tiles: (doc.tiles || []).map(sameOrigin),
      minzoom: doc.minzoom,
      maxzoom: doc.maxzoom,
      promoteId: promote
    };
    if (Array.isArray(doc.bounds) && doc.bounds.length === 4) source.bounds = doc.bounds;
    if (doc.attribution) source.attribution = String(doc.attribution);
    return source;
  }

  function buildStyle(basemapUrl, docs) {
    var sources = {
      counties: vectorSource(docs.counties, 'counties'),
      zones: vectorSource(docs.zones, 'zones'),
      'boundary-labels': { type: 'geojson', data: EMPTY_FC },
      parcels: vectorSource(docs.parcels, parcelLayer)
    };
    var layers = [
      { id: 'background', type: 'background', paint: { 'background-color': '#eceae3' } }
    ];
    if (basemapUrl) {
      sources.basemap = { type: 'raster', tiles: [basemapUrl], tileSize: 256 };
      layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
    }
    layers.push(
      {
        id: 'county-fill', type: 'fill', source: 'counties', 'source-layer': 'counties',
        paint: { 'fill-color': '#ffffff', 'fill-opacity': basemapUrl ? 0.12 : 0.7 }
      },
      {
        id: 'parcels-fill', type: 'fill', source: 'parcels', 'source-layer': parcelLayer,
        paint: { 'fill-color': parcelColorExpression(), 'fill-opacity': 0.8 }
      },
      {
        id: 'parcels-line', type: 'line', source: 'parcels', 'source-layer': parcelLayer,
        paint: {
          'line-color': '#3a3a3a',
          'line-opacity': 0.55,
          'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.3, 16, 1.2]
        }
      },
      {
        id: 'parcel-selected', type: 'line', source: 'parcels', 'source-layer': parcelLayer,
        filter: ['==', ['get', 'code'], ''],
        paint: { 'line-color': SELECT_LINE, 'line-width': 3 }
      },
      {
        id: 'county-line', type: 'line', source: 'counties', 'source-layer': 'counties',
        layout: { 'line-join': 'round' },
        paint: {
          'line-color': selectedCase(SELECT_LINE, COUNTY_LINE),
          'line-width': ['interpolate', ['linear'], ['zoom'],
            7, selectedCase(2.5, 1),
            14, selectedCase(4, 2.5)]
        }
      },
      {
        id: 'zone-line', type: 'line', source: 'zones', 'source-layer': 'zones',
        layout: { 'line-join': 'round' },
        paint: {
          'line-color': ZONE_LINE,
          'line-width': ['interpolate', ['linear'], ['zoom'],
            8, selectedCase(2.5, 1.2),
            15, selectedCase(4, 2.2)],
          'line-dasharray': [3, 2]
        }
      },
      {
        id: 'county-label', type: 'symbol', source: 'boundary-labels',
        filter: ['==', ['get', 'kind'], 'county'],
        maxzoom: 12,
        layout: {
          'text-field': ['get', 'name'],
          'text-font': LABEL_FONT,
          'text-size': 14
        },
        paint: {
          'text-color': '#4b5563',
          'text-halo-color': '#ffffff',
          'text-halo-width': 1.5
        }
      },
      {
        id: 'zone-label', type: 'symbol', source: 'boundary-labels',
        filter: ['==', ['get', 'kind'], 'zone'],
        layout: {
          'text-field': ['get', 'name'],
          'text-font': LABEL_FONT,
          'text-size': ['interpolate', ['linear'], ['zoom'], 8, 11, 14, 15],
          'text-max-width': 10
        },
        paint: {
          'text-color': '#5b21b6',
          'text-halo-color': '#ffffff',
          'text-halo-width': 1.6
        }
      }
    );
    return { version: 8, name: 'landcycle', sources: sources, layers: layers };
  }

  // ---- filters ----------------------------------------------------------

  function fillStateSelect() {
    var select = $('filter-state');
    select.replaceChildren(el('option', { value: '', text: '全部状态' }));
    states.forEach(function (s) {
      select.append(el('option', { value: s.value, text: s.label || s.value }));
    });
  }

  function fillCountySelect() {
    var select = $('filter-county');
    select.replaceChildren(el('option', { value: '', text: '全部县区' }));
    counties.forEach(function (f) {
      var p = props(f);
      select.append(el('option', { value: str(p.code), text: str(p.name || p.code) }));
    });
  }

  /** Zone options: only the chosen county's zones, or all zones grouped by county. */
  function fillZoneSelect() {
    var select = $('filter-zone');
    var keep = filters.zone;
    select.replaceChildren(el('option', { value: '', text: '全部产业集聚区' }));
    var option = function (f) {
      var p = props(f);
      return el('option', { value: str(p.code), text: str(p.name || p.code) });
    };
    if (filters.county) {
      zones.filter(function (f) { return str(props(f).county_code) === filters.county; })
        .forEach(function (f) { select.append(option(f)); });
    } else {
      var groups = {}, order = [];
      zones.forEach(function (f) {
        var cc = str(props(f).county_code);
        if (!groups[cc]) { groups[cc] = []; order.push(cc); }
        groups[cc].push(f);
      });
      var rank = function (cc) {
        var i = counties.findIndex(function (c) { return str(props(c).code) === cc; });
        return i < 0 ? counties.length : i;
      };
      order.sort(function (a, b) { return rank(a) - rank(b); });
      order.forEach(function (cc) {
        var county = byCode[cc];
        var label = county ? str(props(county).name) : '其他';
        var group = el('optgroup', { label: label || '其他' });
        groups[cc].forEach(function (f) { group.append(option(f)); });
        select.append(group);
      });
    }
    var stillThere = Array.prototype.some.call(select.options, function (o) {
      return o.value === keep;
    });
    select.value = stillThere ? keep : '';
    filters.zone = select.value;
  }

  function setHighlight(sourceId, code) {
    if (!map || !mapLoaded) return;
    var prev = highlighted[sourceId];
    if (prev) map.setFeatureState({ source: sourceId, sourceLayer: sourceId, id: prev }, { selected: false });
    highlighted[sourceId] = code || null;
    if (code) map.setFeatureState({ source: sourceId, sourceLayer: sourceId, id: code }, { selected: true });
  }

  /** Fly to a jurisdiction; returns true if the map will move. */
  function zoomTo(code) {
    var f = code && byCode[code];
    var b = f && featureBounds(f);
    if (!map || !b) return false;
    map.fitBounds(b, { padding: 40, maxZoom: 15, duration: 700 });
    return true;
  }

  function onCountyChange() {
    filters.county = $('filter-county').value;
    fillZoneSelect();
    setHighlight('counties', filters.county);
    setHighlight('zones', filters.zone);
    applyFilters();
    zoomTo(filters.zone || filters.county);
  }

  function onZoneChange() {
    filters.zone = $('filter-zone').value;
    setHighlight('zones', filters.zone);
    applyFilters();
    zoomTo(filters.zone || filters.county);
  }

  function onStateChange() {
    filters.state = $('filter-state').value;
    applyFilters();
  }

  function onReset(event) {
    event.preventDefault();  // handle it ourselves so the zone list is rebuilt first
    filters = { county: '', zone: '', state: '' };
    $('filter-county').value = '';
    $('filter-state').value = '';
    fillZoneSelect();
    setHighlight('counties', null);
    setHighlight('zones', null);
    applyFilters();
  }

  // ---- legend -----------------------------------------------------------

  function fillLegend() {
    var list = $('legend-states');
    list.replaceChildren();
    states.forEach(function (s) {
      list.append(el('li', null, [swatch(colorFor(s.value)), s.label || s.value]));
    });
    var other = el('li', { id: 'legend-other', hidden: '' }, [swatch(FALLBACK_COLOR), '其他状态']);
    list.append(other);
  }

  function updateLegendOther(anyOther) {
    var other = $('legend-other');
    if (other) other.hidden = !anyOther;
  }

  // ---- parcels (vector tiles) --------------------------------------------

  /** The county/zone/state filters as a MapLibre expression on the tile attributes. */
  function parcelFilter() {
    var f = ['all'];
    if (filters.county) f.push(['==', ['get', 'county_code'], filters.county]);
    if (filters.zone) f.push(['==', ['get', 'zone_code'], filters.zone]);
    if (filters.state) f.push(['==', ['get', 'state'], filters.state]);
    return f;
  }

  function matchesFilters(p) {
    return (!filters.county || str(p.county_code) === filters.county) &&
      (!filters.zone || str(p.zone_code) === filters.zone) &&
      (!filters.state || str(p.state) === filters.state);
  }

  function applyFilters() {
    if (!map || !mapLoaded) return;
    var f = parcelFilter();
    map.setFilter('parcels-fill', f);
    map.setFilter('parcels-line', f);
    map.setFilter('parcel-selected', ['all', f, ['==', ['get', 'code'], selectedCode]]);
    // Close the popup when its parcel is filtered out.
    if (popup && popup.parcelProps && !matchesFilters(popup.parcelProps)) closePopup();
  }

  function showZoomHint() {
    setStatus(['放大地图以查看宗地']);
  }

  /** Count the parcels drawn in the view (from the rendered tiles, no extra request). */
  function updateStatus() {
    if (!map || !mapLoaded) return;
    if (map.getZoom() < parcelMinZoom) {
      updateLegendOther(false);
      showZoomHint();
      return;
    }
    var seen = {};
    var count = 0;
    var anyOther = false;
    map.queryRenderedFeatures({ layers: ['parcels-fill'] }).forEach(function (f) {
      var p = props(f);
      var code = str(p.code);
      if (!code || seen[code]) return;
      seen[code] = true;
      count += 1;
      if (colorFor(p.state) === FALLBACK_COLOR) anyOther = true;
    });
    updateLegendOther(anyOther);
    var parts = ['当前视野内 ', el('strong', { text: count.toLocaleString('zh-CN') }), ' 宗'];
    if (parcelLayer === PUBLIC_PARCEL_LAYER) {
      parts.push(el('span', { class: 'status-note', text: '（公开的可供土地清单；登录后可查看辖区内全部宗地）' }));
    }
    setStatus(parts);
  }

  // ---- popup ------------------------------------------------------------

  function closePopup() {
    var p = popup;
    popup = null;
    if (p) p.remove();
  }

  function formatArea(p) {
    var m2 = Number(p.area_m2);
    var mu = Number(p.area_mu);
    var hasM2 = p.area_m2 != null && isFinite(m2);
    var hasMu = p.area_mu != null && isFinite(mu);
    if (!hasMu && hasM2) { mu = m2 / SQM_PER_MU; hasMu = true; }
    if (!hasMu) return '—';
    var fmt = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
    var text = mu.toLocaleString('zh-CN', fmt) + ' 亩';
    if (hasM2) text += '（' + m2.toLocaleString('zh-CN', fmt) + ' m²）';
    return text;
  }

  function select(code) {
    selectedCode = code || '';
    applyFilters();
  }

  /** 坐落 is not in the tiles: read it from the parcel's card (one record). */
  function fillLocation(code, node) {
    fetchJSON(API.parcels + '/' + encodeURIComponent(code)).then(function (card) {
      var loc = card && card.parcel ? str(card.parcel.location) : '';
      node.textContent = loc || '—';
    }).catch(function () {
      node.textContent = '—';
    });
  }

  function showParcelPopup(p, lngLat) {
    var code = str(p.code);
    var stateText = str(p.state_label || stateLabels[p.state] || p.state) || '—';
    var location = el('dd', { text: '正在读取…' });
    var rows = [
      ['状态', [swatch(colorFor(p.state)), stateText]],
      ['面积', formatArea(p)],
      ['所属集聚区', str(p.zone_name) || '—'],
      ['所属县区', str(p.county_name) || '—']
    ];
    if (p.inefficiency_label) rows.push(['低效类别', str(p.inefficiency_label)]);
    var dl = el('dl', null, [el('dt', { text: '坐落' }), location]);
    rows.forEach(function (r) {
      dl.append(el('dt', { text: r[0] }), el('dd', null, [].concat(r[1])));
    });
    var link = el('a', {
      href: API.parcels + '/' + encodeURIComponent(code),
      target: '_blank',
      rel: 'noopener',
      text: '查看一宗一卡'
    });
    var content = el('div', { class: 'parcel-popup' }, [
      el('h3', { text: '宗地 ' + code }), dl, link
    ]);
    closePopup();
    var opened = new maplibregl.Popup({ maxWidth: '320px', closeButton: true })
      .setLngLat(lngLat)
      .setDOMContent(content);
    opened.parcelCode = code;
    opened.parcelProps = p;
    opened.on('close', function () {
      if (popup === opened) popup = null;
      select('');
    });
    popup = opened.addTo(map);
    select(code);
    fillLocation(code, location);
  }

  // ---- jurisdictions ------------------------------------------------------

  function applyJurisdictions(fc) {
    var features = Array.isArray(fc && fc.features) ? fc.features : [];
    byCode = {};
    features.forEach(function (f) {
      var code = str(props(f).code);
      if (code) byCode[code] = f;
    });
    var byCodeOrder = function (a, b) {
      return str(props(a).code).localeCompare(str(props(b).code));
    };
    counties = features.filter(function (f) { return props(f).kind === 'county'; }).sort(byCodeOrder);
    zones = features.filter(function (f) { return props(f).kind === 'zone'; }).sort(byCodeOrder);
    fillCountySelect();
    fillZoneSelect();
  }

  /** One label point per county and zone (the outlines themselves come from the tiles). */
  function drawJurisdictionLabels() {
    if (!map || !mapLoaded) return;
    var labels = [];
    counties.concat(zones).forEach(function (f) {
      var pt = f.geometry && labelPoint(f);
      if (!pt) return;
      var p = props(f);
      labels.push({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: pt },
        properties: { code: str(p.code), name: str(p.name), kind: p.kind }
      });
    });
    map.getSource('boundary-labels').setData({ type: 'FeatureCollection', features: labels });
  }

  // ---- panel (collapsible on phones) ------------------------------------

  function setupPanelToggle() {
    var panel = $('panel');
    var toggle = $('panel-toggle');
    var narrow = window.matchMedia('(max-width: 720px)');
    function setCollapsed(collapsed) {
      panel.classList.toggle('is-collapsed', collapsed);
      toggle.setAttribute('aria-expanded', String(!collapsed));
    }
    setCollapsed(narrow.matches);  // phones start with the map visible
    toggle.addEventListener('click', function () {
      setCollapsed(!panel.classList.contains('is-collapsed'));
    });
    var onChange = function (e) { if (!e.matches) setCollapsed(false); };
    if (narrow.addEventListener) narrow.addEventListener('change', onChange);
  }

  // ---- start-up -----------------------------------------------------------

  function validView(cfg) {
    return cfg && Array.isArray(cfg.center) && cfg.center.length === 2 &&
      isFiniteNumber(cfg.center[0]) && isFiniteNumber(cfg.center[1]) &&
      isFiniteNumber(cfg.zoom);
  }

  /** Tile requests carry the session cookie (same origin), so the parcels are the caller's. */
  function transformRequest(url) {
    if (url.indexOf(window.location.origin + API.tiles + '/') === 0) {
      return { url: url, credentials: 'same-origin' };
    }
    return { url: url };
  }

  function createMap(cfg, docs) {
    var basemap = cfg && typeof cfg.basemap_url === 'string' ? cfg.basemap_url.trim() : '';
    var view = validView(cfg) ? cfg : DEFAULT_VIEW;
    map = new maplibregl.Map({
      container: 'map',
      style: buildStyle(basemap, docs),
      transformRequest: transformRequest,
      hash: true,  // #zoom/lat/lon in the address: a view can be shared or reloaded
      center: view.center,
      zoom: view.zoom,
      maxPitch: 0,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      attributionControl: { compact: true },
      locale: MAP_LOCALE
    });
    map.touchZoomRotate.disableRotation();
    map.keyboard.disableRotation();
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');

    map.on('idle', updateStatus);
    map.on('click', 'parcels-fill', function (e) {
      var f = e.features && e.features[0];
      if (f) showParcelPopup(props(f), e.lngLat);
    });
    map.on('mouseenter', 'parcels-fill', function () { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', 'parcels-fill', function () { map.getCanvas().style.cursor = ''; });
    map.on('error', function (e) {
      console.error('map error', e && e.error);
      if (e && e.sourceId === 'parcels') showError('宗地瓦片加载失败，请检查网络或稍后重试。');
    });
    return new Promise(function (resolve) {
      map.once('load', function () { mapLoaded = true; resolve(); });
    });
  }

  function settle(promise) {
    return promise.then(
      function (value) { return { ok: true, value: value }; },
      function (error) { console.error(error); return { ok: false, error: error }; }
    );
  }

  function main() {
    setupPanelToggle();
    $('filter-county').addEventListener('change', onCountyChange);
    $('filter-zone').addEventListener('change', onZoneChange);
    $('filter-state').addEventListener('change', onStateChange);
    $('filters').addEventListener('reset', onReset);

    var configP = settle(fetchJSON(API.config));
    var statesP = settle(fetchJSON(API.states));
    var jurisdictionsP = settle(fetchJSON(API.jurisdictions));
    // Signed in: the parcels of the caller's jurisdiction; otherwise the public supply list.
    var tilesP = settle(fetchJSON(API.me).then(function (me) {
      return me && me.role && me.role !== 'public' ? SCOPED_PARCEL_LAYER : PUBLIC_PARCEL_LAYER;
    }, function () {
      return PUBLIC_PARCEL_LAYER;
    }).then(function (layer) {
      parcelLayer = layer;
      var names = { parcels: layer };
      BOUNDARY_LAYERS.forEach(function (name) { names[name] = name; });
      var keys = Object.keys(names);
      return Promise.all(keys.map(function (k) {
        return fetchJSON(API.tiles + '/' + names[k] + '.json');
      })).then(function (list) {
        var docs = {};
        keys.forEach(function (k, i) { docs[k] = list[i]; });
        if (isFiniteNumber(docs.parcels.minzoom)) parcelMinZoom = docs.parcels.minzoom;
        return docs;
      });
    }));
    var errors = [];

    statesP.then(function (r) {
      states = r.ok && Array.isArray(r.value) ? r.value.filter(function (s) {
        return s && typeof s.value === 'string';
      }) : [];
      states.forEach(function (s) { stateLabels[s.value] = str(s.label || s.value); });
      if (!r.ok) errors.push('土地状态列表');
      fillStateSelect();
      fillLegend();
    });
    jurisdictionsP.then(function (r) {
      if (r.ok) applyJurisdictions(r.value);
      else errors.push('行政区划与集聚区边界');
    });

    var config = null;
    var mapP = Promise.all([configP, tilesP]).then(function (r) {
      config = r[0].ok ? r[0].value : null;
      if (!r[0].ok) errors.push('地图配置');
      if (!r[1].ok) {
        errors.push('地图瓦片服务');
        throw new Error('tile layers unavailable');
      }
      if (typeof maplibregl === 'undefined') throw new Error('maplibregl is not loaded');
      return createMap(config, r[1].value);
    }).catch(function (err) {
      console.error(err);
      map = null;
      var message = '地图无法显示：当前浏览器可能不支持 WebGL。';
      if (typeof maplibregl === 'undefined') message = '地图组件未能加载，请联系系统管理员（需先构建静态资源）。';
      else if (errors.indexOf('地图瓦片服务') >= 0) message = '地图瓦片服务暂不可用，请稍后重试。';
      showMapMessage(message);
    });

    Promise.all([mapP, statesP, jurisdictionsP]).then(function () {
      if (errors.length) showError('以下数据未能加载：' + errors.join('、') + '。');
      if (!map || !mapLoaded) {
        setStatus(['地图不可用']);
        return;
      }
      drawJurisdictionLabels();
      applyFilters();
      if (!validView(config) && counties.length) {
        // No usable view in /api/config: frame all counties instead.
        var all = { geometry: { coordinates: counties.map(function (f) {
          return f.geometry ? f.geometry.coordinates : [];
        }) } };
        var b = featureBounds(all);
        if (b) map.fitBounds(b, { padding: 20, duration: 0 });
      }
      updateStatus();
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', main);
  } else {
    main();
  }
})();
