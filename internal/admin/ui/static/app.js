// Orbital admin panel: vanilla JS, no dependencies. Reads the node through
// the JSON control API (/api/v1) with the session cookie, and follows it
// live over Server-Sent Events (/api/v1/events, and one stream per process
// whose output is shown). State-changing requests carry the CSRF token from
// <meta name="csrf-token">. Every value reaches the page as text, never as
// HTML.
'use strict';
(function () {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const STATES = ['running', 'starting', 'idle', 'stopped', 'exited', 'crashed', 'killed'];
  const MAXLINES = 1000; // log lines kept in the DOM per view
  const state = {
    procs: [], byName: new Map(), bus: null, view: '', module: null, series: {}, prev: {}, libsAt: 0, nodesAt: 0,
    apps: [], app: '', appLogs: new Map(), procLog: null, preview: null, deciding: false,
    node: null, subjectRates: {}, busAt: 0,
  };

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
  // fill replaces node's children, leaving out null/undefined/false (the
  // DOM would render them as text).
  const fill = (node, rows) => node.replaceChildren(...rows.flat().filter((k) => k !== null && k !== undefined && k !== false));
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
  // hms is a timestamp's local time of day, HH:MM:SS.
  function hms(t) {
    const d = new Date(t);
    return isNaN(d) ? String(t || '').slice(11, 19) : d.toTimeString().slice(0, 8);
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
    if (view !== 'processes') closeProcLogs();
    if (view === 'modules') loadModules();
    if (view === 'libraries') loadLibraries();
    if (view === 'nodes') loadNodes();
    render();
    frames();
  }
  // go shows view through the address bar (so Back works).
  function go(view) {
    if (location.hash === '#' + view) show(view);
    else location.hash = view;
  }
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));

  // ---- sparklines ----
  const MAXPTS = 60;
  function push(key, v) {
    const s = state.series[key] || (state.series[key] = []);
    s.push(v);
    if (s.length > MAXPTS) s.shift();
  }
  // spark draws pts across the whole width of node (the SVG stretches; the
  // stroke keeps its width).
  function spark(node, pts) {
    const W = 600, H = 60, n = pts.length, max = Math.max(1e-9, ...pts) * 1.15;
    const xy = pts.map((v, i) => [n > 1 ? (i * W) / (n - 1) : 0, H - 1.5 - (v / max) * (H - 4)]);
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('aria-hidden', 'true');
    const path = (cls, d) => {
      const p = document.createElementNS(NS, 'path');
      p.setAttribute('class', cls);
      p.setAttribute('d', d);
      p.setAttribute('vector-effect', 'non-scaling-stroke');
      return p;
    };
    svg.append(path('b', 'M0,' + (H - 0.5) + 'H' + W));
    if (n > 1) {
      const d = 'M' + xy.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join('L');
      svg.append(path('a', d + 'L' + W + ',' + H + 'L0,' + H + 'Z'), path('l', d));
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
    // No bus event for a while: nothing changed, so nothing flowed.
    if (state.busAt && now - state.busAt > 1500) {
      for (const k of Object.keys(state.subjectRates)) state.subjectRates[k] = 0;
      if (state.view === 'bus') renderBus();
    }
    if (state.view === 'dashboard') renderSparks();
  }
  // nodeSample turns a node health event (every 2 s) into the CPU and heap
  // series: CPU % of all cores over the interval.
  function nodeSample(h) {
    const p = state.node;
    if (p && h.uptime_seconds > p.uptime_seconds) {
      push('cpu', Math.max(0, (100 * (h.cpu_seconds - p.cpu_seconds)) / ((h.uptime_seconds - p.uptime_seconds) * (h.num_cpu || 1))));
    }
    push('heap', h.heap_bytes || 0);
    state.node = h;
    if (state.view === 'dashboard') renderNode();
  }
  // busSample keeps the bus counters and each subject's rate since the
  // previous event.
  function busSample(b) {
    const now = performance.now(), prev = state.busAt ? state.bus : null;
    if (prev) {
      const dt = (now - state.busAt) / 1000, before = {};
      for (const s of prev.Subjects || []) before[s.Subject] = s.Published;
      state.subjectRates = {};
      for (const s of b.Subjects || []) state.subjectRates[s.Subject] = dt > 0 ? Math.max(0, (s.Published - (before[s.Subject] || 0)) / dt) : 0;
    }
    state.bus = b;
    state.busAt = now;
  }
  function uptime(s) {
    if (s < 60) return Math.floor(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
  }
  // bootFacts: how long the boot took and how its compiles went.
  function bootFacts(b) {
    if (!b || !b.seconds) return '';
    return ' · booted in ' + dur(b.seconds * 1e9) + ' (' + b.compiled + ' compiled, ' + b.cached + ' cached' +
      (b.failed ? ', ' + b.failed + ' failed' : '') + ', compile phase ' + dur(b.compile_seconds * 1e9) + ')';
  }
  function renderNode() {
    const h = state.node;
    if (!h) return;
    const box = $('node-health');
    box.dataset.health = h.status;
    const st = $('node-status');
    st.className = 'badge ' + (h.status === 'ok' ? 's-running' : 's-crashed');
    st.textContent = h.status === 'ok' ? 'healthy' : 'degraded';
    $('node-facts').textContent = 'orbital ' + h.version + ' · pid ' + h.pid + ' · ' + h.num_cpu + ' CPU' + (h.num_cpu === 1 ? '' : 's') +
      ' · up since ' + new Date(h.started).toLocaleString() + bootFacts(h.boot) + (h.gave_up.length ? ' · given up: ' + h.gave_up.join(', ') : '');
    fill($('node-cards'), [card('uptime', uptime(h.uptime_seconds), { 'data-node': 'uptime' }),
      card('running', num(h.running) + ' / ' + num(h.processes), { 'data-node': 'running' }),
      card('cpu time', h.cpu_seconds ? h.cpu_seconds.toFixed(1) + ' s' : '–', { 'data-node': 'cpu' }),
      card('go heap', bytes(h.heap_bytes), { 'data-node': 'heap' }), card('go runtime', bytes(h.sys_bytes), { 'data-node': 'sys' }),
      card('goroutines', num(h.goroutines), { 'data-node': 'goroutines' })]);
  }
  function renderSparks() {
    const last = (k) => { const s = state.series[k] || []; return s.length ? s[s.length - 1] : 0; };
    spark($('spark-bus'), state.series.msgs || []);
    spark($('spark-calls'), state.series.calls || []);
    spark($('spark-mem'), state.series.mem || []);
    spark($('spark-drop'), state.series.drop || []);
    spark($('spark-cpu'), state.series.cpu || []);
    spark($('spark-heap'), state.series.heap || []);
    $('rate-cpu').textContent = (state.series.cpu || []).length ? last('cpu').toFixed(1) + ' %' : '–';
    $('total-heap').textContent = state.node ? bytes(last('heap')) : '–';
    $('rate-bus').textContent = last('msgs').toFixed(1) + ' /s';
    $('rate-calls').textContent = last('calls').toFixed(1) + ' /s';
    $('rate-drop').textContent = last('drop').toFixed(1) + ' /s';
    $('total-mem').textContent = bytes(last('mem'));
  }

  // ---- views ----
  function render() {
    if (state.view === 'dashboard') renderDashboard();
    if (state.view === 'apps') renderApps();
    if (state.view === 'processes') renderProcesses();
    if (state.view === 'bus') renderBus();
    if (state.view === 'libraries' && performance.now() - state.libsAt > 2000) loadLibraries();
    if (state.view === 'nodes' && performance.now() - state.nodesAt > 2000) loadNodes();
  }
  function card(k, v, attrs) {
    return el('div', Object.assign({ class: 'card' }, attrs), el('div', { class: 'k', text: k }), el('div', { class: 'v', text: v }));
  }
  function renderDashboard() {
    const counts = {};
    for (const p of state.procs) counts[p.state] = (counts[p.state] || 0) + 1;
    fill($('state-counts'), [card('processes', num(state.procs.length), { 'data-count-state': 'all' })].concat(
      STATES.map((s) => card(s, num(counts[s] || 0), { 'data-count-state': s, class: 'card s-' + s + '-card' + (counts[s] ? '' : ' zero') }))));
    fill($('dash-libs'), state.procs.filter((p) => p.library).map((p) => el('tr', { 'data-library': p.name },
      el('td', { text: p.name }), el('td', {}, badge(p.state)), el('td', { class: 'n', text: num(p.library.instances) }),
      el('td', { class: 'n', text: num(p.library.busy) }), el('td', { class: 'n', text: num(p.library.calls) }),
      el('td', { class: 'n', text: num(p.library.failures) }))));
    renderNode();
    renderSparks();
  }

  // ---- processes ----
  // opsFor lists the actions that make sense for a process in state s.
  function opsFor(s) {
    if (s === 'stopped') return ['start'];
    if (s === 'idle') return ['start', 'restart'];
    if (s === 'exited' || s === 'crashed' || s === 'killed') return ['stop', 'restart'];
    return ['stop', 'restart', 'kill'];
  }
  function opButtons(ops) {
    return ops.map((op) => el('button', { type: 'button', class: op === 'kill' ? 'danger' : op === 'start' ? 'go' : '', 'data-action': op, text: op }));
  }
  async function processOp(name, op, btn) {
    if (op === 'kill' && !confirm('Kill ' + name + ' now?')) return;
    btn.disabled = true;
    try { await api('POST', '/api/v1/processes/' + encodeURIComponent(name) + '/' + op); toast(op + ': ' + name); }
    catch (e) { toast(op + ' ' + name + ': ' + e.message, true); }
    finally { btn.disabled = false; }
  }
  // netText sums up a process's sockets: where it listens, bytes in and
  // out, dials the grant refused.
  function netText(n) {
    if (!n) return '';
    let s = (n.listen && n.listen.length ? n.listen.join(' ') + ' · ' : '') + bytes(n.bytes_in) + ' in / ' + bytes(n.bytes_out) + ' out';
    if (n.denied) s += ' · ' + num(n.denied) + ' denied';
    return s;
  }
  // driverText sums up a driver: how it runs, what it sent, what went wrong.
  function driverText(d) {
    let s = d.mode + (d.pid ? ' pid ' + d.pid : '') + ' · ' + bytes(d.bytes) + ' sent';
    for (const [n, what] of [[d.protocol_errors, 'protocol errors'], [d.hangs, 'hangs'], [d.floods, 'floods']]) if (n) s += ' · ' + num(n) + ' ' + what;
    return s;
  }
  function newProcRow(p) {
    const td = (cls) => el('td', { class: cls });
    return el('tr', { 'data-process': p.name },
      el('td', { class: 'name' }, el('button', { type: 'button', class: 'link', 'data-logs': p.name, title: 'Show the output of ' + p.name }, el('strong', { text: p.name })),
        p.library ? el('small', { class: 'tag', text: 'library' }) : null,
        p.driver ? el('small', { class: 'tag', text: 'driver', title: 'native code: ' + (p.driver.mode === 'process' ? 'a child OS process' : 'in the node\'s process') }) : null),
      td(), td('mono'), td('n'), td('n'), td('n'), td('n'), td('n'), td('n'), td('n'), el('td', { class: 'mono', 'data-net': '' }), td('reason'), el('td', {}, el('div', { class: 'actions' })));
  }
  // updateProcRow changes only what changed, so a click in progress on the
  // row survives the next update.
  function updateProcRow(tr, p) {
    const c = tr.children;
    if (tr.dataset.state !== p.state) { tr.dataset.state = p.state; c[1].replaceChildren(badge(p.state)); }
    const d = p.driver;
    const vals = d
      ? [p.module || '', '', '', '', num(d.calls), num(d.published), num(d.dropped), num(p.restarts), driverText(d), p.reason || '']
      : [p.module || '', bytes(p.memory_bytes) + (p.memory_limit ? ' / ' + bytes(p.memory_limit) : ''), dur(p.cpu_time_ns || 0),
        num(p.mailbox), num(p.msgs_in), num(p.msgs_out), num(p.dropped), num(p.restarts), netText(p.net), p.reason || ''];
    vals.forEach((v, i) => { if (c[i + 2].textContent !== v) c[i + 2].textContent = v; });
    c[11].title = p.reason || '';
    const ops = opsFor(p.state), box = c[12].firstChild;
    if (box.dataset.ops !== ops.join()) { box.dataset.ops = ops.join(); box.replaceChildren(...opButtons(ops)); }
    tr.classList.toggle('sel', !!state.procLog && state.procLog.name === p.name);
  }
  function renderProcesses() {
    $('proc-count').textContent = state.procs.length + ' total';
    const body = $('proc-body'), old = new Map();
    for (const tr of body.children) old.set(tr.dataset.process, tr);
    const rows = [];
    for (const p of state.procs) {
      let tr = old.get(p.name);
      old.delete(p.name);
      if (!tr) tr = newProcRow(p);
      updateProcRow(tr, p);
      rows.push(tr);
    }
    for (const tr of old.values()) tr.remove();
    rows.forEach((tr, i) => { if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null); });
  }
  $('proc-body').addEventListener('click', (e) => {
    const b = e.target.closest('button'), tr = b && b.closest('tr[data-process]');
    if (!tr) return;
    if (b.dataset.action) processOp(tr.dataset.process, b.dataset.action, b);
    else if (b.hasAttribute('data-logs')) openProcLogs(tr.dataset.process);
  });
  function renderBus() {
    const b = state.bus;
    if (!b) return;
    const t = totals();
    fill($('bus-cards'), [card('published', num(t.msgs - ((b.Direct && b.Direct.Sent) || 0)), { 'data-bus': 'published' }),
      card('sent direct', num(b.Direct && b.Direct.Sent), { 'data-bus': 'sent' }), card('dropped', num(t.drop), { 'data-bus': 'dropped' }),
      card('denied', num(b.Denied), { 'data-bus': 'denied' }), card('subscriptions', num(b.Subscriptions), { 'data-bus': 'subscriptions' })]);
    const rate = (s) => { const r = state.subjectRates[s.Subject]; return r === undefined ? '–' : r.toFixed(1); };
    fill($('bus-subjects'), (b.Subjects || []).map((s) => el('tr', { 'data-subject': s.Subject },
      el('td', { class: 'mono', text: s.Subject }), el('td', { class: 'n', 'data-rate': '', text: rate(s) }), el('td', { class: 'n', text: num(s.Published) }), el('td', { class: 'n', text: num(s.Delivered) }),
      el('td', { class: 'n', text: num(s.Dropped) }), el('td', { class: 'n', text: num(s.Unrouted) }), el('td', { class: 'n', text: num(s.Denied) }))));
    fill($('bus-endpoints'), (b.Endpoints || []).map((e) => el('tr', { 'data-endpoint': e.Name },
      el('td', { class: 'mono', text: e.Name }), el('td', { class: 'n', text: num(e.In) }), el('td', { class: 'n', text: num(e.Out) }),
      el('td', { class: 'n', text: num(e.Queued) }), el('td', { class: 'n', text: num(e.Dropped) }),
      el('td', { class: 'mono subs', 'data-subscriptions': String(e.Subscriptions || 0), text: (e.Patterns || []).join(', ') }))));
  }
  async function loadLibraries() {
    state.libsAt = performance.now();
    try {
      const libs = await api('GET', '/api/v1/libraries');
      fill($('lib-body'), (libs || []).map((l) => el('tr', { 'data-library': l.name, 'data-state': l.state },
        el('td', {}, el('strong', { text: l.name })), el('td', { class: 'mono', text: l.version }), el('td', {}, badge(l.state)),
        el('td', { text: (l.remote ? 'remote on ' + (l.nodes || []).join(', ') : l.native ? 'native' : 'wasm') + (l.stateful ? ', stateful' : '') }),
        el('td', { class: 'mono', text: (l.exports || []).join(', ') }), el('td', { class: 'n', text: num(l.instances) }),
        el('td', { class: 'n', text: num(l.busy) }), el('td', { class: 'n', text: num(l.max) }), el('td', { class: 'n', text: num(l.calls) }),
        el('td', { class: 'n', text: num(l.failures) }), el('td', { class: 'n', text: num(l.restarts) }),
        el('td', { class: 'reason', text: l.reason || '' }))));
    } catch (e) { toast('libraries: ' + e.message, true); }
  }

  // ---- nodes ----
  // loadNodes shows the cluster's nodes: state, health, what runs where.
  async function loadNodes() {
    state.nodesAt = performance.now();
    try {
      const v = await api('GET', '/api/v1/nodes'), st = v.stats || {};
      const alone = !st.cluster;
      $('nodes-alone').hidden = !alone;
      $('nodes-cluster').textContent = alone ? '' : 'cluster ' + st.cluster + (st.connected ? ' · connected to ' + st.server : ' · disconnected');
      fill($('cluster-cards'), alone ? [] : [card('forwarded', num(st.forwarded), { 'data-cluster': 'forwarded' }),
        card('received', num(st.received), { 'data-cluster': 'received' }), card('remote calls', num(st.calls), { 'data-cluster': 'calls' }),
        card('calls served', num(st.calls_served), { 'data-cluster': 'calls_served' }), card('refused', num(st.refused + st.calls_refused), { 'data-cluster': 'refused' }),
        card('dropped', num(st.dropped), { 'data-cluster': 'dropped' }), card('failovers', num(st.failovers), { 'data-cluster': 'failovers' })]);
      fill($('nodes-body'), (v.nodes || []).map((n) => el('tr', { 'data-node': n.name, 'data-state': n.state, class: n.self ? 'sel' : '' },
        el('td', {}, el('strong', { text: n.name }), n.self ? el('small', { class: 'tag', text: 'this node' }) : null),
        el('td', {}, el('span', { class: 'badge ' + (n.state === 'up' ? 's-running' : 's-crashed'), text: n.state })),
        el('td', { class: 'mono', text: n.version || '' }), el('td', { text: (n.health && n.health.status) || '' }),
        el('td', { class: 'n', 'data-processes': String((n.processes || []).length), text: num((n.processes || []).length) }),
        el('td', { class: 'mono', text: (n.processes || []).map((p) => p.name).join(', ') }),
        el('td', { class: 'mono', text: (n.libraries || []).join(', ') }), el('td', { class: 'mono', text: (n.exports || []).join(', ') }),
        el('td', { text: n.last_seen ? new Date(n.last_seen).toLocaleTimeString() : '' }))));
    } catch (e) { toast('nodes: ' + e.message, true); }
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
  // capList shows capabilities requested (from the API's
  // [{name, granted, note}]) with whether each is granted.
  function capList(caps) {
    if (!caps || !caps.length) return el('p', { class: 'hint', text: 'Nothing: no files, clock, randomness or messages.' });
    return el('ul', { class: 'caps' }, caps.map((c) => el('li', { 'data-capability': c.name, 'data-granted': String(!!c.granted) },
      el('span', { class: 'mark', 'aria-hidden': 'true', text: c.granted ? '✓' : '✕' }), el('span', { class: 'cname mono', text: c.name }),
      el('span', { class: 'gr', text: c.granted ? 'granted' : 'not granted' }), c.note ? el('span', { class: 'note', text: c.note }) : null)));
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
      fill(box, [
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
        el('h2', { text: 'Capabilities requested and granted' }), capList(m.capabilities),
        el('h2', { text: 'Exports' }), list(exps, 'none'),
        el('h2', { text: 'Triggers' }), list(trig, 'none'),
        el('h2', { text: 'Dependencies' }), list(deps, 'none'),
        el('h2', { text: 'Dependents' }), list(dependents, 'none'),
        el('h2', { text: 'Manifest' }), el('pre', { class: 'json', id: 'mod-manifest', text: JSON.stringify(man, null, 2) })]);
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

  // ---- process output ----
  // logView follows one process's output: an EventSource on its log stream
  // feeding div.log[data-log=NAME] (at most MAXLINES lines), kept scrolled to
  // the end while the reader is at the end. v.stat shows the stream's state
  // (click it to reconnect a closed stream); v.close() ends the stream.
  function logView(name) {
    const box = el('div', { class: 'log', 'data-log': name, role: 'log', tabindex: '0', 'aria-label': 'Output of ' + name });
    const stat = el('button', { type: 'button', class: 'logstat', title: 'The output stream; click to reconnect when closed' });
    const v = { name, box, stat, last: 0, stick: true, es: null, queue: [], timer: 0 };
    const status = (s, t) => { stat.dataset.stream = s; box.dataset.stream = s; stat.textContent = t; };
    box.addEventListener('scroll', () => { v.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 24; });
    stat.addEventListener('click', () => { if (stat.dataset.stream === 'closed') v.open(); });
    v.open = () => {
      if (v.es) v.es.close();
      status('connecting', 'connecting…');
      const es = v.es = new EventSource('/api/v1/processes/' + encodeURIComponent(name) + '/logs/stream' + (v.last ? '?after=' + v.last : ''));
      es.onopen = () => status('live', 'live');
      es.onerror = () => (es.readyState === EventSource.CLOSED ? status('closed', 'closed · reconnect') : status('connecting', 'reconnecting…'));
      es.addEventListener('log', (ev) => {
        let l;
        try { l = JSON.parse(ev.data); } catch (_) { return; }
        if (!l || !(l.seq > v.last)) return; // a replay after a reconnect
        v.last = l.seq;
        v.queue.push(l);
        if (v.queue.length > MAXLINES) v.queue.splice(0, v.queue.length - MAXLINES);
        if (!v.timer) v.timer = setTimeout(() => flushLog(v), 50);
      });
    };
    v.close = () => {
      if (v.es) v.es.close();
      v.es = null;
      clearTimeout(v.timer);
      v.timer = 0;
      status('closed', 'closed');
    };
    v.toEnd = () => { if (v.stick) box.scrollTop = box.scrollHeight; };
    v.open();
    return v;
  }
  function flushLog(v) {
    v.timer = 0;
    const f = document.createDocumentFragment();
    for (const l of v.queue) {
      const lv = String(l.level || 'INFO').toUpperCase(), src = l.source || 'node';
      f.append(el('div', { class: 'line lv-' + lv.replace(/[^A-Z]/g, '').toLowerCase(), 'data-seq': l.seq, 'data-level': lv, 'data-source': src },
        el('span', { class: 'ts', title: l.time, text: hms(l.time) }), el('span', { class: 'lv', text: lv }),
        el('span', { class: 'src', text: src }), el('span', { class: 'tx', text: l.text || '' })));
    }
    v.queue = [];
    v.box.append(f);
    for (let n = v.box.childElementCount - MAXLINES; n > 0; n--) v.box.firstElementChild.remove();
    v.toEnd();
  }
  // openProcLogs shows name's output below the process table (one stream
  // at a time).
  function openProcLogs(name) {
    if (state.procLog && state.procLog.name === name) return;
    closeProcLogs();
    const v = state.procLog = logView(name), box = $('proc-logs');
    box.dataset.logsFor = name;
    box.replaceChildren(el('div', { class: 'loghead' }, el('h2', {}, 'Output of ', el('span', { class: 'mono', text: name })), v.stat, el('span', { class: 'grow' }),
      el('button', { type: 'button', 'data-action': 'open-app', onclick: () => { openApp(name); go('apps'); }, text: 'Open in Apps' }),
      el('button', { type: 'button', class: 'ghost x', 'data-action': 'close-logs', 'aria-label': 'Close the output', title: 'Close', onclick: closeProcLogs, text: '×' })), v.box);
    box.hidden = false;
    if (state.view === 'processes') renderProcesses();
  }
  function closeProcLogs() {
    const box = $('proc-logs');
    if (!state.procLog && box.hidden) return;
    if (state.procLog) state.procLog.close();
    state.procLog = null;
    box.hidden = true;
    delete box.dataset.logsFor;
    box.replaceChildren();
    document.querySelectorAll('#proc-body tr.sel').forEach((tr) => tr.classList.remove('sel'));
  }

  // ---- apps: the modules launched from the URL bar, and any process's output ----
  const APPS_KEY = 'orbital.apps';
  function saveApps() {
    try { sessionStorage.setItem(APPS_KEY, JSON.stringify({ apps: state.apps, app: state.app })); } catch (_) { /* storage off */ }
  }
  function openApp(name) {
    if (!state.appLogs.has(name)) {
      state.apps.push(name);
      state.appLogs.set(name, logView(name));
    }
    state.app = name;
    saveApps();
    renderApps();
  }
  function closeApp(name) {
    const v = state.appLogs.get(name), i = state.apps.indexOf(name);
    if (v) v.close();
    state.appLogs.delete(name);
    if (i >= 0) state.apps.splice(i, 1);
    if (state.app === name) state.app = state.apps[Math.min(i, state.apps.length - 1)] || '';
    saveApps();
    renderApps();
  }
  // renderApps updates the tab strip and the window; the log boxes are kept
  // (each tab's stream stays open until its tab is closed).
  function renderApps() {
    const n = state.apps.length, stateOf = (a) => (state.byName.get(a) || {}).state || 'unknown';
    $('apps-count').textContent = n;
    $('apps-count').hidden = !n;
    const tabs = $('app-tabs'), key = state.apps.join('\n') + '\n\n' + state.app;
    if (tabs.dataset.key !== key) {
      tabs.dataset.key = key;
      fill(tabs, state.apps.map((a) => el('div', { class: 'tab' + (a === state.app ? ' on' : ''), role: 'presentation', 'data-tab-item': a },
        el('button', { type: 'button', role: 'tab', 'aria-selected': String(a === state.app), 'data-tab': a, onclick: () => openApp(a) },
          el('span', { class: 'sdot' }), a),
        el('button', { type: 'button', class: 'x', 'data-close-tab': a, 'aria-label': 'Close ' + a, title: 'Close (stops following its output)', onclick: () => closeApp(a), text: '×' }))));
    }
    for (const t of tabs.querySelectorAll('.sdot')) t.dataset.dot = stateOf(t.parentNode.dataset.tab);
    const sel = $('app-open');
    const others = state.procs.map((p) => p.name).filter((p) => !state.appLogs.has(p));
    if (sel.dataset.key !== others.join('\n') && document.activeElement !== sel) {
      sel.dataset.key = others.join('\n');
      fill(sel, [el('option', { value: '', text: '+ open output of…' })].concat(others.map((p) => el('option', { value: p, text: p }))));
    }
    const w = $('app-window');
    if (w.dataset.app !== state.app) {
      const v = state.appLogs.get(state.app);
      w.dataset.app = state.app;
      if (!v) {
        fill(w, [el('div', { class: 'empty' }, el('div', { class: 'glyph', 'aria-hidden': 'true', text: '⇩' }), el('h2', { text: 'No apps open' }),
          el('p', { class: 'hint', text: 'Paste a package address into the bar at the top and press Go. You will see who published it and what it asks for before anything is installed. Or follow a running process with “open output of…”.' }))]);
      } else {
        fill(w, [el('div', { class: 'loghead' }, el('h2', { text: state.app }), el('span', { 'data-app-state': '' }), v.stat, el('span', { class: 'grow' }),
          el('div', { class: 'actions', 'data-app-actions': '' })),
          el('p', { class: 'hint reason', 'data-app-reason': '' }),
          el('div', { class: 'surface', 'data-surface': state.app }),
          el('div', { class: 'outlabel', text: 'Output' }), v.box]);
        v.toEnd();
      }
    }
    frames();
    if (!state.app) return;
    const p = state.byName.get(state.app), st = stateOf(state.app);
    const sb = w.querySelector('[data-app-state]'), acts = w.querySelector('[data-app-actions]');
    if (sb.dataset.appState !== st) { sb.dataset.appState = st; sb.replaceChildren(badge(st)); }
    w.querySelector('[data-app-reason]').textContent = (p && p.reason) || '';
    const ops = p ? opsFor(st) : [];
    if (acts.dataset.ops !== ops.join()) { acts.dataset.ops = ops.join(); acts.replaceChildren(...opButtons(ops)); }
  }
  $('app-window').addEventListener('click', (e) => {
    const b = e.target.closest('[data-app-actions] button[data-action]');
    if (b && state.app) processOp(state.app, b.dataset.action, b);
  });
  $('app-open').addEventListener('change', (e) => {
    const name = e.target.value;
    e.target.value = '';
    e.target.blur();
    if (name) openApp(name);
  });

  // ---- screen: the compositor's frames on a canvas, input posted back ----
  // frameView draws a frame stream (GET /api/v1/screen/stream, or one
  // window's with win) on a new canvas in box until v.close(): records of
  // u32 length, u16 x, y, w, h, screen w, h (little-endian), then a PNG of
  // that rectangle. box.dataset.stream is live, none (404: no window) or
  // down; a stream that fails or ends is retried every 3 s. v.n counts the
  // batches drawn (a read's worth of records: about one composite).
  function frameView(box, win) {
    const ac = new AbortController(), v = { n: 0, close: () => ac.abort() };
    const c = el('canvas', { tabindex: '0', 'data-frames': '0', 'aria-label': win ? 'Display of ' + win : 'The node\u2019s screen' }), g = c.getContext('2d');
    const note = el('span', { class: 'note', text: 'connecting\u2026' });
    const status = (s) => { box.dataset.stream = s; note.textContent = { live: '', none: 'no display surface', down: 'reconnecting\u2026' }[s]; };
    box.dataset.stream = 'connecting';
    box.replaceChildren(c, note);
    frameInput(c, win);
    (async () => {
      while (!ac.signal.aborted) {
        try {
          const r = await fetch('/api/v1/screen/stream' + (win ? '?window=' + encodeURIComponent(win) : ''), { credentials: 'same-origin', signal: ac.signal });
          status(r.ok ? 'live' : r.status === 404 ? 'none' : 'down');
          if (!r.ok) continue;
          const rd = r.body.getReader();
          let buf = new Uint8Array(0);
          for (;;) {
            const { done, value } = await rd.read();
            if (done) break;
            if (buf.length) { const b = new Uint8Array(buf.length + value.length); b.set(buf); b.set(value, buf.length); buf = b; } else buf = value;
            const jobs = []; // decoded in parallel, drawn in order
            while (buf.length >= 16) {
              const d = new DataView(buf.buffer, buf.byteOffset, 16), n = 4 + d.getUint32(0, true);
              if (buf.length < n) break;
              jobs.push([[0, 1, 2, 3, 4, 5].map((i) => d.getUint16(4 + 2 * i, true)), createImageBitmap(new Blob([buf.subarray(16, n)], { type: 'image/png' }))]);
              buf = buf.subarray(n);
            }
            for (const [h, p] of jobs) {
              const bm = await p;
              if (c.width !== h[4] || c.height !== h[5]) { c.width = h[4]; c.height = h[5]; }
              g.drawImage(bm, h[0], h[1]);
              bm.close();
            }
            if (jobs.length) c.dataset.frames = ++v.n;
          }
          status('down');
        } catch (_) { if (!ac.signal.aborted) status('down'); }
        finally { if (!ac.signal.aborted) await new Promise((ok) => setTimeout(ok, 3000)); }
      }
    })();
    return v;
  }
  // frameInput posts canvas c's pointer, wheel and key input: in screen
  // coordinates, or with win in that window's surface coordinates (which
  // focuses it). Moves are coalesced while a post is in flight.
  function frameInput(c, win) {
    const q = [];
    let busy = false;
    async function send(ev) {
      if (win) ev.window = win;
      const last = q[q.length - 1];
      if (ev.action === 'move' && last && last.action === 'move') q[q.length - 1] = ev; else q.push(ev);
      if (busy) return;
      busy = true;
      while (q.length) { try { await api('POST', '/api/v1/screen/input', q.shift()); } catch (_) { /* the window went away */ } }
      busy = false;
    }
    const mods = (e) => (e.shiftKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.altKey ? 4 : 0) | (e.metaKey ? 8 : 0);
    const at = (e) => {
      const b = c.getBoundingClientRect();
      return { x: Math.floor(((e.clientX - b.left) * c.width) / b.width), y: Math.floor(((e.clientY - b.top) * c.height) / b.height), mods: mods(e) };
    };
    // The browser's buttons are left 1, right 2, middle 4; the kernel's left 1, middle 2, right 4.
    const btns = (b) => (b & 1) | ((b & 4) >> 1) | ((b & 2) << 1);
    for (const action of ['down', 'up', 'move']) {
      c.addEventListener('pointer' + action, (e) => {
        if (action === 'down') { c.focus({ preventScroll: true }); c.setPointerCapture(e.pointerId); }
        if (action !== 'move') e.preventDefault();
        const touch = e.pointerType === 'touch';
        send(Object.assign({ type: touch ? 'touch' : 'pointer', action, buttons: btns(e.buttons) }, at(e),
          touch ? { id: e.pointerId } : action === 'move' ? {} : { button: e.button + 1 }));
      });
    }
    c.addEventListener('wheel', (e) => { e.preventDefault(); send(Object.assign({ type: 'pointer', action: 'wheel', dx: Math.round(e.deltaX), dy: Math.round(e.deltaY) }, at(e))); }, { passive: false });
    for (const action of ['down', 'up']) {
      c.addEventListener('key' + action, (e) => {
        if (e.key === 'Tab') return; // keeps the keyboard's way out
        e.preventDefault();
        send({ type: 'key', action, key: e.key, code: e.keyCode, mods: mods(e) });
      });
    }
    c.addEventListener('contextmenu', (e) => e.preventDefault());
  }
  // frames streams what is on screen: the Screen page's canvas and the
  // shown app's window, only while their page is shown (so the node
  // encodes frames only for an open page).
  function frames() {
    const on = !document.hidden, s = state.screen, box = on && state.view === 'apps' && document.querySelector('#app-window .surface'), f = state.appFrames;
    if (f && f.box !== box) { f.v.close(); state.appFrames = null; }
    if (box && !state.appFrames) state.appFrames = { box, v: frameView(box, box.dataset.surface) };
    if (s && !(on && state.view === 'screen')) { s.v.close(); clearInterval(s.timer); state.screen = null; }
    if (!state.screen && on && state.view === 'screen') {
      state.screen = { v: frameView($('screen-box'), ''), n: 0, at: performance.now(), timer: setInterval(loadScreen, 2000) };
      loadScreen();
    }
  }
  document.addEventListener('visibilitychange', frames);
  // loadScreen shows the screen's size, the frames received per second
  // since the last look, and its windows (click one to focus it).
  async function loadScreen() {
    const s = state.screen;
    let info;
    try { info = await api('GET', '/api/v1/screen'); } catch (e) { $('screen-stat').textContent = e.message; return; }
    if (s !== state.screen) return;
    const now = performance.now(), fps = s.n || s.v.n ? (((s.v.n - s.n) * 1000) / (now - s.at)).toFixed(1) : '–';
    Object.assign(s, { n: s.v.n, at: now });
    $('screen-stat').textContent = info.width + '×' + info.height + ' · ' + fps + ' fps received · composited at up to ' + info.fps + ' fps' +
      ' · displays: ' + (info.displays.join(', ') || 'none');
    const wins = info.windows.filter((w) => w.visible);
    fill($('screen-wins'), wins.length ? wins.map((w) => el('button', { type: 'button', class: 'chip' + (w.focused ? ' on' : ''), 'data-window': w.name, 'data-focused': String(w.focused),
      title: 'Focus ' + w.name, onclick: () => api('POST', '/api/v1/windows/' + encodeURIComponent(w.name), { focus: true }).then(loadScreen, (e) => toast(e.message, true)),
      text: w.name + ' ' + w.width + '×' + w.height + (w.focused ? ' · focus' : '') })) : ['none']);
  }

  // ---- install from a URL: preview, then a permission prompt ----
  const blocking = (p) => /^(refused|cannot run): /.test(p);
  function urlBusy(on) {
    const f = $('urlbar'), b = f.querySelector('button[data-action="preview"]');
    f.dataset.busy = String(on);
    f.setAttribute('aria-busy', String(on));
    $('url-input').readOnly = on;
    b.disabled = on;
    b.textContent = on ? 'Fetching…' : 'Go';
  }
  $('urlbar').addEventListener('submit', async (e) => {
    e.preventDefault();
    const ref = $('url-input').value.trim();
    if ($('urlbar').dataset.busy === 'true' || state.preview) return;
    if (!ref) { toast('Paste a package address first (https or oci://…)', true); $('url-input').focus(); return; }
    urlBusy(true);
    try { showPrompt(await api('POST', '/api/v1/install/preview', { ref })); }
    catch (err) { toast(err.message, true); }
    finally { urlBusy(false); }
  });

  function showPrompt(pv) {
    const d = $('prompt'), sig = pv.signature || {}, caps = pv.capabilities || [], problems = pv.problems || [];
    const sigKind = sig.trusted ? 'trusted' : /allowed by policy/.test(sig.verdict || '') && !problems.includes(sig.verdict) ? 'allowed' : 'refused';
    const withheld = caps.filter((c) => !c.granted).length;
    const list = (title, items, attr) => el('div', { class: 'facet' }, el('h3', { text: title }), items.length
      ? el('ul', { class: 'plain' }, items.map((i) => el('li', { class: 'mono', [attr]: i, text: i }))) : el('p', { class: 'hint', text: 'none' }));
    const blockers = problems.filter(blocking);
    state.preview = pv;
    state.deciding = false;
    d.dataset.previewId = pv.id;
    d.dataset.module = pv.name;
    d.dataset.installable = String(!!pv.installable);
    const probs = problems.length ? el('div', { class: 'problems' + (blockers.length ? ' blocking' : ''), role: 'alert' },
      el('h3', { text: blockers.length ? 'Cannot be installed' : 'Warnings' }),
      el('ul', {}, problems.map((p) => el('li', { class: blocking(p) ? 'blocking' : '', 'data-problem': p, text: p })))) : null;
    fill(d, [
      el('div', { class: 'p-head' },
        el('div', { class: 'p-icon', 'aria-hidden': 'true', text: (pv.name || '?').charAt(0).toUpperCase() }),
        el('div', {}, el('p', { class: 'eyebrow', text: pv.installed ? 'Update request' : 'Install request' }),
          el('h2', { id: 'prompt-title' }, el('span', { text: pv.name }), el('span', { class: 'ver', text: '@' + pv.version }), ' ', el('span', { class: 'chip', text: pv.kind })),
          pv.description ? el('p', { class: 'desc', text: pv.description }) : null,
          pv.installed ? el('p', { class: 'upgrade', 'data-upgrades': pv.installed, text: 'upgrades ' + pv.name + '@' + pv.installed + ' → ' + pv.version }) : null)),
      blockers.length ? probs : null,
      el('div', { class: 'sig', 'data-signature': sigKind },
        el('span', { class: 'sig-mark', 'aria-hidden': 'true', text: sigKind === 'trusted' ? '✓' : sigKind === 'allowed' ? '!' : '✕' }),
        el('div', {}, el('strong', { text: sigKind === 'trusted' ? 'Trusted publisher' : sigKind === 'allowed' ? 'No trusted signature (allowed by this device’s policy)' : 'Signature refused' }),
          el('p', { class: 'sig-verdict', text: sig.verdict || (sig.signed ? 'signed' : 'unsigned') }),
          (sig.signers || []).length ? el('ul', { class: 'signers' }, sig.signers.map((s) => el('li', { 'data-signer': s.signer, 'data-status': s.status },
            el('span', { class: 'who', text: s.signer || '(no name)' }), s.publisher ? el('span', { class: 'hint', text: ' as “' + s.publisher + '”' }) : null,
            el('span', { class: 'mono hint', text: ' key ' + s.key_id }), el('span', { class: 'st', text: s.status })))) : null)),
      el('dl', { class: 'kv' },
        el('dt', { text: 'source' }), el('dd', { class: 'mono', 'data-ref': pv.ref, text: pv.ref }),
        el('dt', { text: 'publisher' }), el('dd', { 'data-publisher': pv.publisher || '', text: pv.publisher || 'unknown' }),
        el('dt', { text: 'size' }), el('dd', { text: bytes(pv.size) }),
        el('dt', { text: 'digest' }), el('dd', { class: 'mono', title: pv.digest, text: pv.digest })),
      el('h3', {}, 'Asks for ', el('small', { class: withheld ? 'bad' : 'hint', text: caps.length ? (withheld ? withheld + ' of ' + caps.length + ' not granted' : 'all granted') : '' })),
      capList(caps),
      el('div', { class: 'facets' }, list('Triggers', pv.triggers || [], 'data-trigger'), list('Exports', pv.exports || [], 'data-export'),
        list('Dependencies', pv.dependencies || [], 'data-dependency')),
      blockers.length ? null : probs,
      el('div', { class: 'p-foot' },
        el('p', { class: 'hint', text: 'Nothing is installed unless you approve.' + (pv.expires ? ' This request expires at ' + hms(pv.expires) + '.' : '') }),
        el('button', { type: 'button', 'data-action': 'deny', autofocus: true, onclick: deny, text: 'Deny' }),
        el('button', { type: 'button', class: 'primary', 'data-action': 'approve', disabled: !pv.installable, onclick: approve,
          title: pv.installable ? 'Install ' + pv.name + '@' + pv.version + ' and run it' : 'Cannot install: ' + ((blockers.length ? blockers : problems).join('; ') || 'refused'),
          text: pv.installed ? 'Approve update' : 'Approve' }))]);
    d.showModal();
  }
  function promptBusy(btn, label) {
    for (const b of $('prompt').querySelectorAll('.p-foot button')) b.disabled = true;
    btn.textContent = label;
  }
  // compileEvent shows a module's compile progress while the operator
  // waits on an install (a Go-built module takes a second or two).
  function compileEvent(c) {
    if (!c || !state.deciding || !state.preview) return;
    const btn = $('prompt').querySelector('[data-action="approve"]');
    if (!btn) return;
    const size = bytes(c.size);
    const took = c.elapsed_ns ? ' in ' + dur(c.elapsed_ns) : '';
    const text = { compiling: c.cached ? 'Loading ' + c.module + ' ' + size + ' from the cache…' : 'Compiling ' + c.module + ' ' + size + '…',
      compiled: 'Compiled' + took + ', starting…', cached: 'Cached' + took + ', starting…', loaded: 'Starting…' }[c.stage];
    if (text) btn.textContent = text;
  }
  function closePrompt() {
    const d = $('prompt');
    state.preview = null;
    if (d.open) d.close();
    d.replaceChildren();
    delete d.dataset.previewId;
    delete d.dataset.module;
    delete d.dataset.installable;
  }
  async function deny() {
    const pv = state.preview;
    if (!pv || state.deciding) return;
    state.deciding = true;
    promptBusy($('prompt').querySelector('[data-action="deny"]') || el('b'), 'Denying…');
    try { await api('DELETE', '/api/v1/install/' + encodeURIComponent(pv.id)); } catch (_) { /* unknown or expired: nothing was installed either way */ }
    state.deciding = false;
    closePrompt();
    toast('denied: nothing installed');
  }
  async function approve() {
    const pv = state.preview;
    if (!pv || state.deciding || !pv.installable) return;
    state.deciding = true;
    promptBusy($('prompt').querySelector('[data-action="approve"]'), 'Installing…');
    try {
      const r = (await api('POST', '/api/v1/install/' + encodeURIComponent(pv.id))) || {};
      state.deciding = false;
      closePrompt();
      $('url-input').value = '';
      toast('installed ' + (r.name || pv.name) + '@' + (r.version || pv.version));
      openApp(r.process || r.name || pv.name);
      go('apps');
    } catch (e) {
      // The preview is used up either way: fetch it again to retry.
      state.deciding = false;
      closePrompt();
      toast('install ' + pv.name + '@' + pv.version + ': ' + e.message, true);
    }
  }
  // Escape (cancel) and any other close without a decision deny.
  $('prompt').addEventListener('cancel', (e) => { e.preventDefault(); deny(); });
  $('prompt').addEventListener('close', () => { if (state.preview && !state.deciding) deny(); });

  // ---- live updates ----
  function connect() {
    const es = new EventSource('/api/v1/events');
    const conn = (s, text) => { $('conn').dataset.conn = s; $('conn-text').textContent = text; };
    es.onopen = () => conn('live', 'live');
    es.onerror = () => conn('down', 'reconnecting…');
    es.addEventListener('processes', (ev) => {
      state.procs = JSON.parse(ev.data) || [];
      state.byName = new Map(state.procs.map((p) => [p.name, p]));
      render();
      if (state.view !== 'apps' && state.apps.length) renderApps(); // the tab dots and the nav count
    });
    es.addEventListener('bus', (ev) => { busSample(JSON.parse(ev.data)); if (state.view === 'bus') renderBus(); });
    es.addEventListener('node', (ev) => nodeSample(JSON.parse(ev.data)));
    es.addEventListener('compile', (ev) => compileEvent(JSON.parse(ev.data)));
    // Reserved: per-process log lines ({"process","line"}), not sent yet.
    es.addEventListener('log', () => {});
  }

  $('logout').addEventListener('click', async () => {
    try { await api('POST', '/admin/logout'); } catch (_) { /* the session may be gone already */ }
    location.href = '/admin/login';
  });
  // Tabs opened earlier in this browser tab come back after a reload.
  try {
    const saved = JSON.parse(sessionStorage.getItem(APPS_KEY) || 'null');
    if (saved && Array.isArray(saved.apps)) {
      for (const a of saved.apps) if (typeof a === 'string' && a) openApp(a);
      if (state.appLogs.has(saved.app)) state.app = saved.app;
    }
  } catch (_) { /* storage off or garbled */ }
  setInterval(sample, 1000);
  show(location.hash.slice(1) || 'dashboard');
  connect();
})();
