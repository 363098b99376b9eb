// Orbital admin panel: vanilla JS, no dependencies. Reads the node through
// the JSON control API (/api/v1) with the session cookie, and follows it
// live over Server-Sent Events (/api/v1/events). State-changing requests
// carry the CSRF token from <meta name="csrf-token">.
'use strict';
(function () {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const STATES = ['running', 'starting', 'idle', 'exited', 'crashed', 'killed'];
  const state = { procs: [], bus: null, view: '', module: null, series: {}, prev: {}, libsAt: 0 };

  // el builds an element; children are nodes or text (never parsed as HTML).
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const fill = (node, rows) => node.replaceChildren(...rows);
  const badge = (s) => el('span', { class: 'badge s-' + s, 'data-state': s, text: s });
  const num = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString());
  function bytes(n) {
    if (!n) return '0 B';
    const u = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  function dur(ns) {
    const ms = ns / 1e6;
    if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + ' ms';
    const s = ms / 1000;
    return s < 120 ? s.toFixed(1) + ' s' : (s / 60).toFixed(1) + ' min';
  }
  function toast(msg, err) {
    const t = $('toast');
    t.textContent = msg;
    t.className = err ? 'err' : '';
    t.hidden = false;
    clearTimeout(toast.t);
    toast.t = setTimeout(() => { t.hidden = true; }, err ? 6000 : 2500);
  }

  // api calls the control API; errors carry the server's message.
  async function api(method, path, body) {
    const opt = { method, headers: {}, credentials: 'same-origin' };
    if (method !== 'GET') opt.headers['X-CSRF-Token'] = CSRF;
    if (body !== undefined) { opt.headers['Content-Type'] = 'application/json'; opt.body = JSON.stringify(body); }
    const r = await fetch(path, opt);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!r.ok) throw new Error((data && data.error) || r.status + ' ' + r.statusText);
    return data;
  }
  const seg = (name) => name.split('/').map(encodeURIComponent).join('/');

  // ---- navigation ----
  function show(view) {
    // section[...]: <body> carries data-view too (the current page), and
    // must not be hidden with the other pages.
    if (!document.querySelector('section[data-view="' + view + '"]')) view = 'dashboard';
    state.view = view;
    document.querySelectorAll('section[data-view]').forEach((s) => { s.hidden = s.dataset.view !== view; });
    document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === view));
    document.body.dataset.view = view;
    if (view === 'modules') loadModules();
    if (view === 'libraries') loadLibraries();
    render();
  }
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));

  // ---- sparklines ----
  const MAXPTS = 60;
  function push(key, v) {
    const s = state.series[key] || (state.series[key] = []);
    s.push(v);
    if (s.length > MAXPTS) s.shift();
  }
  function spark(node, pts) {
    const W = 300, H = 48, max = Math.max(1e-9, ...pts);
    const xy = pts.map((v, i) => [(i * W) / (MAXPTS - 1), H - 2 - (v / max) * (H - 6)]);
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    if (xy.length > 1) {
      const d = 'M' + xy.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('L');
      const a = document.createElementNS(NS, 'path');
      a.setAttribute('class', 'a');
      a.setAttribute('d', d + 'L' + xy[xy.length - 1][0].toFixed(1) + ',' + H + 'L0,' + H + 'Z');
      const l = document.createElementNS(NS, 'path');
      l.setAttribute('class', 'l');
      l.setAttribute('d', d);
      svg.append(a, l);
    }
    node.replaceChildren(svg);
  }
  function totals() {
    const b = state.bus || { Subjects: [], Direct: {} };
    let msgs = (b.Direct && b.Direct.Sent) || 0, drop = (b.Direct && b.Direct.Dropped) || 0, calls = 0, mem = 0;
    for (const s of b.Subjects || []) { msgs += s.Published; drop += s.Dropped; }
    for (const p of state.procs) { mem += p.memory_bytes || 0; if (p.library) calls += p.library.calls; }
    return { msgs, drop, calls, mem };
  }
  // sample turns the latest totals into per-second rates once a second (a
  // local timer over the last SSE data; nothing is fetched).
  function sample() {
    const now = performance.now(), t = totals(), p = state.prev;
    if (p.at) {
      const dt = (now - p.at) / 1000;
      for (const k of ['msgs', 'drop', 'calls']) push(k, Math.max(0, (t[k] - p[k]) / dt));
    }
    push('mem', t.mem);
    state.prev = Object.assign({ at: now }, t);
    if (state.view === 'dashboard') renderSparks();
  }
  function renderSparks() {
    const last = (k) => { const s = state.series[k] || []; return s.length ? s[s.length - 1] : 0; };
    spark($('spark-bus'), state.series.msgs || []);
    spark($('spark-calls'), state.series.calls || []);
    spark($('spark-mem'), state.series.mem || []);
    spark($('spark-drop'), state.series.drop || []);
    $('rate-bus').textContent = last('msgs').toFixed(1) + ' /s';
    $('rate-calls').textContent = last('calls').toFixed(1) + ' /s';
    $('rate-drop').textContent = last('drop').toFixed(1) + ' /s';
    $('total-mem').textContent = bytes(last('mem'));
  }

  // ---- views ----
  function render() {
    if (state.view === 'dashboard') renderDashboard();
    if (state.view === 'processes') renderProcesses();
    if (state.view === 'bus') renderBus();
    if (state.view === 'libraries' && performance.now() - state.libsAt > 2000) loadLibraries();
  }
  function card(k, v, attrs) {
    return el('div', Object.assign({ class: 'card' }, attrs), el('div', { class: 'k', text: k }), el('div', { class: 'v', text: v }));
  }
  function renderDashboard() {
    const counts = {};
    for (const p of state.procs) counts[p.state] = (counts[p.state] || 0) + 1;
    fill($('state-counts'), [card('processes', num(state.procs.length), { 'data-count-state': 'all' })].concat(
      STATES.map((s) => card(s, num(counts[s] || 0), { 'data-count-state': s, class: 'card s-' + s + '-card' }))));
    fill($('dash-libs'), state.procs.filter((p) => p.library).map((p) => el('tr', { 'data-library': p.name },
      el('td', { text: p.name }), el('td', {}, badge(p.state)), el('td', { class: 'n', text: num(p.library.instances) }),
      el('td', { class: 'n', text: num(p.library.busy) }), el('td', { class: 'n', text: num(p.library.calls) }),
      el('td', { class: 'n', text: num(p.library.failures) }))));
    renderSparks();
  }
  async function processOp(name, op, btn) {
    if (op === 'kill' && !confirm('Kill ' + name + ' now?')) return;
    btn.disabled = true;
    try { await api('POST', '/api/v1/processes/' + encodeURIComponent(name) + '/' + op); toast(op + ': ' + name); }
    catch (e) { toast(op + ' ' + name + ': ' + e.message, true); }
    finally { btn.disabled = false; }
  }
  function renderProcesses() {
    $('proc-count').textContent = state.procs.length + ' total';
    fill($('proc-body'), state.procs.map((p) => {
      const mem = bytes(p.memory_bytes) + (p.memory_limit ? ' / ' + bytes(p.memory_limit) : '');
      const b = (op, cls) => el('button', { type: 'button', class: cls, 'data-action': op, onclick: (ev) => processOp(p.name, op, ev.currentTarget), text: op });
      return el('tr', { 'data-process': p.name, 'data-state': p.state },
        el('td', {}, el('strong', { text: p.name }), p.library ? el('small', { class: 'hint', text: ' library' }) : null),
        el('td', {}, badge(p.state)), el('td', { class: 'mono', text: p.module }),
        el('td', { class: 'n', text: mem }), el('td', { class: 'n', text: dur(p.cpu_time_ns || 0) }),
        el('td', { class: 'n', text: num(p.mailbox) }), el('td', { class: 'n', text: num(p.msgs_in) }),
        el('td', { class: 'n', text: num(p.msgs_out) }), el('td', { class: 'n', text: num(p.dropped) }),
        el('td', { class: 'n', text: num(p.restarts) }), el('td', { class: 'reason', title: p.reason || '', text: p.reason || '' }),
        el('td', {}, el('div', { class: 'actions' }, b('stop'), b('restart'), b('kill', 'danger'))));
    }));
  }
  function renderBus() {
    const b = state.bus;
    if (!b) return;
    const t = totals();
    fill($('bus-cards'), [card('published', num(t.msgs - ((b.Direct && b.Direct.Sent) || 0)), { 'data-bus': 'published' }),
      card('sent direct', num(b.Direct && b.Direct.Sent), { 'data-bus': 'sent' }), card('dropped', num(t.drop), { 'data-bus': 'dropped' }),
      card('denied', num(b.Denied), { 'data-bus': 'denied' }), card('subscriptions', num(b.Subscriptions), { 'data-bus': 'subscriptions' })]);
    fill($('bus-subjects'), (b.Subjects || []).map((s) => el('tr', { 'data-subject': s.Subject },
      el('td', { class: 'mono', text: s.Subject }), el('td', { class: 'n', text: num(s.Published) }), el('td', { class: 'n', text: num(s.Delivered) }),
      el('td', { class: 'n', text: num(s.Dropped) }), el('td', { class: 'n', text: num(s.Unrouted) }), el('td', { class: 'n', text: num(s.Denied) }))));
    fill($('bus-endpoints'), (b.Endpoints || []).map((e) => el('tr', { 'data-endpoint': e.Name },
      el('td', { class: 'mono', text: e.Name }), el('td', { class: 'n', text: num(e.In) }), el('td', { class: 'n', text: num(e.Out) }),
      el('td', { class: 'n', text: num(e.Queued) }), el('td', { class: 'n', text: num(e.Dropped) }), el('td', { class: 'n', text: num(e.Subscriptions) }))));
  }
  async function loadLibraries() {
    state.libsAt = performance.now();
    try {
      const libs = await api('GET', '/api/v1/libraries');
      fill($('lib-body'), (libs || []).map((l) => el('tr', { 'data-library': l.name, 'data-state': l.state },
        el('td', {}, el('strong', { text: l.name })), el('td', { class: 'mono', text: l.version }), el('td', {}, badge(l.state)),
        el('td', { text: (l.native ? 'native' : 'wasm') + (l.stateful ? ', stateful' : '') }),
        el('td', { class: 'mono', text: (l.exports || []).join(', ') }), el('td', { class: 'n', text: num(l.instances) }),
        el('td', { class: 'n', text: num(l.busy) }), el('td', { class: 'n', text: num(l.max) }), el('td', { class: 'n', text: num(l.calls) }),
        el('td', { class: 'n', text: num(l.failures) }), el('td', { class: 'n', text: num(l.restarts) }),
        el('td', { class: 'reason', text: l.reason || '' }))));
    } catch (e) { toast('libraries: ' + e.message, true); }
  }

  // ---- modules ----
  async function loadModules() {
    try {
      const mods = (await api('GET', '/api/v1/modules')) || [];
      $('mod-empty').hidden = mods.length > 0;
      fill($('mod-body'), mods.map((m) => el('tr', { 'data-module': m.name, class: state.module === m.name ? 'sel' : '', onclick: () => loadModule(m.name) },
        el('td', {}, el('strong', { text: m.name })), el('td', { text: m.kind }), el('td', { class: 'mono', text: (m.versions || []).join(', ') }),
        el('td', { class: 'mono', text: m.latest }), el('td', { class: 'mono', text: m.pinned || '' }))));
      if (state.module && !mods.some((m) => m.name === state.module)) { state.module = null; $('mod-detail').hidden = true; }
    } catch (e) { toast('modules: ' + e.message, true); }
  }
  function caps(c) {
    const out = [];
    if (!c) return out;
    for (const k of ['args', 'stdin', 'stdout', 'stderr', 'clock', 'random']) if (c[k]) out.push(k);
    for (const e of c.env || []) out.push('env:' + e);
    for (const n of c.network || []) out.push('network:' + n);
    for (const f of c.fs || []) out.push('fs:' + f.path + (f.read_only ? ' (read-only)' : '') + (f.optional ? ' (optional)' : ''));
    return out;
  }
  async function loadModule(name, version) {
    state.module = name;
    document.querySelectorAll('#mod-body tr').forEach((tr) => tr.classList.toggle('sel', tr.dataset.module === name));
    const box = $('mod-detail');
    try {
      const m = await api('GET', '/api/v1/modules/' + seg(name) + (version ? '?version=' + encodeURIComponent(version) : ''));
      const man = m.manifest || {};
      const list = (items, empty) => items.length ? el('ul', { class: 'plain' }, items.map((i) => el('li', { class: 'mono', text: i }))) : el('p', { class: 'hint', text: empty });
      const exps = Object.keys(man.exports || {}).sort();
      const trig = (m.triggers || []).map((t) => t.kind + (t.value ? ' ' + t.value : ''));
      const deps = (m.dependencies || []).map((d) => d.name + ' ' + d.range + (d.resolved ? ' → ' + d.resolved : '') + (d.optional ? ' (optional)' : ''));
      const dependents = (m.dependents || []).map((d) => d.module + ' needs ' + d.library + ' ' + d.range);
      const versions = (m.versions || []).map((v) => el('li', { 'data-version': v },
        el('span', { class: 'mono', text: v + (v === m.version ? ' (shown)' : '') }), ' ',
        v !== m.version ? el('button', { type: 'button', onclick: () => loadModule(name, v), text: 'view' }) : null, ' ',
        el('button', { type: 'button', 'data-action': 'pin', onclick: () => modOp('POST', '/api/v1/pin/' + seg(name) + '?version=' + encodeURIComponent(v), 'pinned ' + name + '@' + v), text: 'make active' }), ' ',
        el('button', { type: 'button', class: 'danger', 'data-action': 'remove', onclick: () => { if (confirm('Remove ' + name + '@' + v + '?')) modOp('DELETE', '/api/v1/modules/' + seg(name) + '?version=' + encodeURIComponent(v), 'removed ' + name + '@' + v); }, text: 'remove' })));
      box.dataset.module = name;
      box.dataset.version = m.version || '';
      box.replaceChildren(
        el('h2', { text: name + '@' + m.version }),
        el('dl', { class: 'kv' },
          el('dt', { text: 'kind' }), el('dd', { text: m.kind }),
          el('dt', { text: 'description' }), el('dd', { text: m.description || man.description || '–' }),
          el('dt', { text: 'digest' }), el('dd', { class: 'mono', text: m.digest }),
          el('dt', { text: 'size' }), el('dd', { text: bytes(m.size) }),
          el('dt', { text: 'signature' }), el('dd', { 'data-verdict': m.verdict, text: m.verdict || '–' }),
          el('dt', { text: 'installed' }), el('dd', { text: m.installed ? new Date(m.installed).toLocaleString() : '–' }),
          el('dt', { text: 'pinned' }), el('dd', { text: m.pinned ? 'yes' : 'no' })),
        el('h2', { text: 'Versions' }), el('ul', { class: 'plain' }, versions),
        m.pinned ? el('p', {}, el('button', { type: 'button', onclick: () => modOp('POST', '/api/v1/pin/' + seg(name), 'unpinned ' + name), text: 'unpin (follow latest)' })) : null,
        el('h2', { text: 'Capabilities requested' }), list(caps(man.capabilities), 'none'),
        el('h2', { text: 'Exports' }), list(exps, 'none'),
        el('h2', { text: 'Triggers' }), list(trig, 'none'),
        el('h2', { text: 'Dependencies' }), list(deps, 'none'),
        el('h2', { text: 'Dependents' }), list(dependents, 'none'),
        el('h2', { text: 'Manifest' }), el('pre', { class: 'json', id: 'mod-manifest', text: JSON.stringify(man, null, 2) }));
      box.hidden = false;
    } catch (e) { toast(name + ': ' + e.message, true); }
  }
  async function modOp(method, path, ok) {
    try {
      await api(method, path);
      toast(ok);
      await loadModules();
      if (state.module) loadModule(state.module);
    } catch (e) { toast(e.message, true); }
  }

  // ---- live updates ----
  function connect() {
    const es = new EventSource('/api/v1/events');
    const conn = (s, text) => { $('conn').dataset.conn = s; $('conn-text').textContent = text; };
    es.onopen = () => conn('live', 'live');
    es.onerror = () => conn('down', 'reconnecting…');
    es.addEventListener('processes', (ev) => { state.procs = JSON.parse(ev.data) || []; render(); });
    es.addEventListener('bus', (ev) => { state.bus = JSON.parse(ev.data); if (state.view === 'bus') renderBus(); });
    // Reserved: per-process log lines ({"process","line"}), not sent yet.
    es.addEventListener('log', () => {});
  }

  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/admin/logout'); } catch (_) { /* the session may be gone already */ }
    location.href = '/admin/login';
  });
  setInterval(sample, 1000);
  show(location.hash.slice(1) || 'dashboard');
  connect();
})();
