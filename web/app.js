// netstatd's page: a client of the public API only (see /openapi.yaml).
// Live answers are polled with If-None-Match, so an unchanged sample costs a 304 and
// no DOM work; what changed is updated in place (rows keyed, text set only when it
// differs) so nothing flickers. Every API call carries the bearer token once the
// user has given one; a 401 asks for it once, then the calls are retried.
(() => {
  'use strict';

  const POLL_MS = 2000;
  const HISTORY_MS = 15000;
  const CONNECTION_LIMIT = 200;
  const TOKEN_KEY = 'netstatd.token';

  // Windows of the history charts: `from` and `step` as the API takes them (about 180 points).
  const WINDOWS = {
    '15m': { from: '-15m', step: '5s' },
    '1h': { from: '-1h', step: '20s' },
    '6h': { from: '-6h', step: '2m' },
    '1d': { from: '-1d', step: '10m' },
    '7d': { from: '-7d', step: '1h' },
  };
  const DEFAULT_WINDOW = '1h';

  // Counters the second chart offers (Group.Name as /api/v1/history/protocols takes them).
  const COUNTERS = [
    ['Tcp.RetransSegs', 'Retransmitted segments'],
    ['TcpExt.ListenOverflows', 'Listen overflows'],
    ['TcpExt.ListenDrops', 'Listen drops'],
    ['Tcp.OutRsts', 'Resets sent'],
    ['Tcp.EstabResets', 'Established resets'],
    ['Tcp.AttemptFails', 'Failed connection attempts'],
    ['Tcp.ActiveOpens', 'Active opens'],
    ['Tcp.PassiveOpens', 'Passive opens'],
    ['Udp.RcvbufErrors', 'UDP receive buffer errors'],
  ];
  const DEFAULT_COUNTERS = ['Tcp.RetransSegs', 'TcpExt.ListenOverflows', 'Tcp.OutRsts'];

  // netstat's order, which is also the kernel's.
  const STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
    'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'UNCONN'];
  // Spellings the API's state= accepts (Sources/Sampling/Model/SocketKinds.swift), without - and _.
  const STATE_WORDS = new Set(['established', 'estab', 'synsent', 'synrecv', 'synreceived', 'finwait1',
    'finwait2', 'timewait', 'close', 'closed', 'unconn', 'unconnected', 'closewait', 'lastack', 'listen',
    'listening', 'closing']);
  const PROTO_WORDS = new Set(['tcp', 'udp', 'tcp4', 'tcp6', 'udp4', 'udp6']);

  // Health signals: a readable name, how to show the value, when it is worth a look.
  const HEALTH = {
    tcp_retransmission_ratio: { label: 'TCP retransmission ratio', unit: 'ratio', warn: 0.01, bad: 0.05 },
    tcp_retransmission_ratio_since_boot: { label: 'Retransmission ratio since boot', unit: 'ratio', warn: 0.01, bad: 0.05 },
    tcp_listen_overflows_per_second: { label: 'Listen overflows', unit: '/s', warn: 0, bad: 1 },
    tcp_listen_drops_per_second: { label: 'Listen drops', unit: '/s', warn: 0, bad: 1 },
    tcp_failed_connection_attempts_per_second: { label: 'Failed connection attempts', unit: '/s' },
    tcp_resets_sent_per_second: { label: 'Resets sent', unit: '/s' },
    tcp_established_resets_per_second: { label: 'Established connections reset', unit: '/s' },
    udp_receive_buffer_errors_per_second: { label: 'UDP receive buffer errors', unit: '/s', warn: 0, bad: 1 },
  };
  const RATE_COUNTERS = ['Tcp.InSegs', 'Tcp.OutSegs', 'Tcp.ActiveOpens', 'Tcp.PassiveOpens', 'Tcp.CurrEstab'];

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 2 });

  // ---- small DOM helpers -------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  function setClass(node, className) {
    if (node.getAttribute('class') !== className) node.setAttribute('class', className);
  }

  // A bar filled to `fraction` (0...1); the element is made once and then only resized.
  function meter(parent, fraction, className) {
    let bar = parent.querySelector(':scope > .meter');
    if (!bar) {
      bar = el('span', 'meter');
      bar.setAttribute('aria-hidden', 'true');
      bar.appendChild(el('span'));
      parent.appendChild(bar);
    }
    setClass(bar, 'meter' + (className ? ' ' + className : ''));
    const width = (Math.max(0, Math.min(1, fraction)) * 100).toFixed(1) + '%';
    if (bar.firstChild.style.width !== width) bar.firstChild.style.width = width;
    return bar;
  }

  // Makes `container`'s children match `items`, keyed by `key(item)`: existing nodes
  // are updated by `update(node, item)`, new ones made by `make(item)`, missing ones
  // removed, and a node moved only when it is out of place.
  function syncChildren(container, items, key, make, update) {
    const existing = new Map();
    for (const child of Array.from(container.children)) existing.set(child.dataset.key, child);
    const seen = new Set();
    let previous = null;
    for (const item of items) {
      let k = String(key(item));
      while (seen.has(k)) k += '#';
      seen.add(k);
      let node = existing.get(k);
      if (!node) {
        node = make(item);
        node.dataset.key = k;
      }
      update(node, item);
      const wanted = previous ? previous.nextSibling : container.firstChild;
      if (wanted !== node) container.insertBefore(node, wanted);
      previous = node;
    }
    for (const [k, node] of existing) if (!seen.has(k)) node.remove();
  }

  // A table body whose rows have one cell per column; `cells[i](td, item)` fills cell i.
  function syncTable(tbody, items, key, cells) {
    syncChildren(tbody, items, key, () => {
      const tr = document.createElement('tr');
      for (let i = 0; i < cells.length; i++) tr.appendChild(document.createElement('td'));
      return tr;
    }, (tr, item) => cells.forEach((fill, i) => fill(tr.cells[i], item, tr)));
  }

  function endpoint(e) {
    return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
  }

  function listenerAddress(socket) {
    const a = socket.local.address;
    return a.includes(':') ? `[${a}]:${socket.local.port}` : `${a}:${socket.local.port}`;
  }

  function owners(processes) {
    return processes.length ? processes.map((p) => `${p.pid}/${p.name}`).join(', ') : '-';
  }

  function protoLabel(socket) {
    return socket.proto + (socket.family === 'ipv6' ? '6' : '');
  }

  function clock(ms, withDate) {
    const d = new Date(ms);
    const options = { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
    if (withDate) Object.assign(options, { month: 'short', day: 'numeric' });
    return d.toLocaleString(undefined, options);
  }

  // ---- the API -----------------------------------------------------------------

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenWaiters = null; // a promise while the form is up, shared by every call that got 401
  const etags = new Map(); // URL -> { etag, data, takenAt }

  class APIError extends Error {
    constructor(status, problem) {
      super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  // GET `path` as JSON. With `conditional`, repeats the last ETag in If-None-Match and
  // answers { changed: false } on 304. Retries once the user gave a token on a 401.
  async function api(path, { conditional = false } = {}) {
    for (;;) {
      const headers = { Accept: 'application/json' };
      const sent = token;
      if (sent) headers.Authorization = 'Bearer ' + sent;
      const cached = conditional ? etags.get(path) : undefined;
      if (cached) headers['If-None-Match'] = cached.etag;
      // Relative to the page, so that behind a proxy that serves it under a prefix
      // (/netstatd/) the calls go there too.
      const response = await fetch(path.replace(/^\//, ''), { headers, cache: 'no-store', credentials: 'omit' });
      if (response.status === 401) {
        // A call that left before the user gave a token just goes again with it.
        if (token === sent) await askForToken(sent ? 'netstatd refused that token; try again.' : '');
        continue;
      }
      if (response.status === 304 && cached) return { changed: false, data: cached.data, takenAt: cached.takenAt };
      const type = response.headers.get('Content-Type') || '';
      const body = type.includes('json') ? await response.json() : await response.text();
      if (!response.ok) throw new APIError(response.status, typeof body === 'object' ? body : { detail: body });
      const takenAt = response.headers.get('Netstatd-Taken-At') || (body && body.taken_at) || null;
      const etag = response.headers.get('ETag');
      if (conditional && etag) etags.set(path, { etag, data: body, takenAt });
      return { changed: true, data: body, takenAt };
    }
  }

  function askForToken(message) {
    if (!tokenWaiters) {
      tokenWaiters = new Promise((resolve) => {
        const dialog = $('token-dialog');
        const form = $('token-form');
        const input = $('token-input');
        setText($('token-error'), message);
        $('token-open').hidden = false;
        setStatus('needs', 'Waiting for a token');
        const submit = (event) => {
          event.preventDefault();
          const value = input.value.trim();
          if (!value) return;
          token = value;
          sessionStorage.setItem(TOKEN_KEY, token);
          input.value = '';
          form.removeEventListener('submit', submit);
          $('token-open').hidden = true;
          dialog.close();
          tokenWaiters = null;
          resolve();
        };
        form.addEventListener('submit', submit);
        if (!dialog.open) dialog.showModal();
        input.focus();
      });
    }
    return tokenWaiters;
  }

  $('token-open').addEventListener('click', () => {
    const dialog = $('token-dialog');
    if (!dialog.open) dialog.showModal();
    $('token-input').focus();
  });

  // ---- status line ---------------------------------------------------------------

  function setStatus(kind, text) {
    setClass($('status'), 'status ' + kind);
    setText($('status-text'), text);
  }

  let statusInfo = null; // /api/v1/status, once

  function describeStatus(takenAt) {
    const parts = [];
    if (statusInfo) parts.push('netstatd ' + statusInfo.version);
    if (takenAt) parts.push('sample of ' + clock(Date.parse(takenAt)));
    const last = statusInfo && statusInfo.last_sample;
    if (last) parts.push(`read by ${last.source}`);
    parts.push(`refreshed every ${POLL_MS / 1000} s`);
    if (statusInfo && statusInfo.auth) parts.push('token in use');
    return parts.join(' · ');
  }

  // ---- live sections ---------------------------------------------------------------

  function renderStates(answer) {
    const byState = answer.by_state || {};
    const states = Object.keys(byState).filter((s) => byState[s] > 0)
      .sort((a, b) => STATES.indexOf(a) - STATES.indexOf(b) || a.localeCompare(b));
    const max = Math.max(1, ...states.map((s) => byState[s]));
    $('states').dataset.takenAt = answer.taken_at;
    setText($('states-total'), number.format(answer.total));
    syncChildren($('states-stack'), states, (s) => s, (s) => {
      const span = el('span', 's-' + s);
      span.title = s;
      return span;
    }, (span, s) => {
      const grow = String(byState[s]);
      if (span.style.flexGrow !== grow) span.style.flexGrow = grow;
    });
    syncTable($('states-rows'), states, (s) => s, [
      (td, s, tr) => {
        tr.dataset.state = s;
        if (!td.firstChild) {
          td.appendChild(el('span', 'swatch s-' + s));
          td.appendChild(el('span', 'state-name', s));
        }
      },
      (td, s) => { td.className = 'num count'; setText(td, number.format(byState[s])); },
      (td, s) => { meter(td, byState[s] / max, 's-' + s); },
    ]);
  }

  function renderListeners(answer) {
    const items = answer.items.slice().sort((a, b) => a.local.port - b.local.port
      || a.proto.localeCompare(b.proto) || a.local.address.localeCompare(b.local.address));
    setText($('listeners-count'), `${answer.total} listening or bound`);
    syncTable($('listeners-rows'), items,
      (s) => `${s.proto}|${s.local.address}|${s.local.port}|${s.cookie ?? s.inode}`, [
        (td, s, tr) => { tr.dataset.port = s.local.port; setText(td, protoLabel(s)); },
        (td, s) => {
          td.className = 'addr';
          let button = td.firstChild;
          if (!button) {
            button = el('button', 'link');
            button.type = 'button';
            button.addEventListener('click', () => applySearch(`port:${button.dataset.port}`, true));
            td.appendChild(button);
          }
          button.dataset.port = s.local.port;
          button.title = `Show the connections using port ${s.local.port}`;
          setText(button, listenerAddress(s));
        },
        (td, s) => {
          let badge = td.firstChild;
          if (!badge) { badge = el('span'); td.appendChild(badge); }
          setClass(badge, 'badge exp-' + s.exposure);
          let text = s.exposure;
          if (s.also_ipv4 === true) text += ' (IPv6 and IPv4)';
          setText(badge, text);
        },
        (td, s) => {
          const q = s.accept_queue;
          if (!q) { setText(td, '-'); return; }
          if (q.backlog === null) { setText(td, `${q.depth} / ? (backlog unknown: read from /proc)`); return; }
          const fraction = q.backlog > 0 ? q.depth / q.backlog : (q.depth > 0 ? 1 : 0);
          meter(td, fraction, fraction >= 1 && q.depth > 0 ? 'full' : fraction >= 0.5 ? 'high' : '');
          let text = td.querySelector('.meter-text');
          if (!text) { text = el('span', 'meter-text'); td.appendChild(text); }
          setText(text, `${q.depth} / ${q.backlog}`);
        },
        (td, s) => { td.className = 'wrap'; setText(td, owners(s.processes)); },
      ]);
  }

  function renderProcesses(answer) {
    const items = answer.items.slice().sort((a, b) => b.sockets - a.sockets || a.name.localeCompare(b.name));
    setText($('processes-count'), number.format(answer.count));
    syncTable($('processes-rows'), items, (p) => `${p.pid}|${p.start_time}`, [
      (td, p) => { setText(td, `${p.pid}/${p.name}`); td.title = `user ${p.user}`; },
      (td, p) => { td.className = 'num'; setText(td, number.format(p.sockets)); },
      (td, p) => {
        td.className = 'wrap mono';
        setText(td, p.listening.map((l) => (l.proto === 'udp' ? 'udp ' : '') + l.port).join(', ') || '-');
      },
      (td, p) => {
        td.className = 'wrap';
        const states = Object.keys(p.states).sort((a, b) => STATES.indexOf(a) - STATES.indexOf(b));
        const text = states.map((s) => `${s} ${p.states[s]}`).join(' ');
        if (td.dataset.text === text) return;
        td.dataset.text = text;
        td.replaceChildren(...states.map((s) => {
          const chip = el('span', 'chip');
          chip.append(el('span', 'swatch s-' + s), document.createTextNode(`${s} ${p.states[s]}`));
          return chip;
        }));
      },
    ]);
  }

  // Top groups of a grouped /stats/states answer, counting connections only.
  function renderRanking(list, answer, filterPrefix) {
    const totals = new Map();
    for (const row of answer.counts) {
      if (row.state === 'LISTEN' || row.state === 'UNCONN') continue;
      totals.set(row.group, (totals.get(row.group) || 0) + row.count);
    }
    const top = Array.from(totals, ([group, count]) => ({ group, count }))
      .sort((a, b) => b.count - a.count || a.group.localeCompare(b.group)).slice(0, 10);
    const max = Math.max(1, ...top.map((t) => t.count));
    syncChildren(list, top, (t) => t.group, (t) => {
      const li = el('li');
      const button = el('button', 'link');
      button.type = 'button';
      button.addEventListener('click', () => applySearch(filterPrefix + li.dataset.key, true));
      li.append(button, el('span'), el('span', 'count'));
      return li;
    }, (li, t) => {
      const [button, barCell, count] = li.children;
      setText(button, t.group);
      button.title = `Show the connections with ${filterPrefix}${t.group}`;
      meter(barCell, t.count / max, 'k3');
      setText(count, number.format(t.count));
    });
    if (!top.length && !list.children.length) {
      // Nothing yet: one quiet line, replaced by the first real row.
      const li = el('li', 'empty', 'No connections.');
      li.dataset.key = '';
      list.appendChild(li);
    }
  }

  function formatHealth(value, unit) {
    if (value === null || value === undefined) return 'n/a';
    if (unit === 'ratio') return percent.format(value);
    return decimal.format(value) + ' /s';
  }

  function renderHealth(answer) {
    syncChildren($('health-list'), answer.health, (h) => h.name, (h) => {
      const li = el('li');
      li.append(el('span', 'name'), el('span', 'value'), el('span', 'why'));
      return li;
    }, (li, h) => {
      const info = HEALTH[h.name] || { label: h.name.replace(/_/g, ' '), unit: h.name.endsWith('per_second') ? '/s' : '' };
      const [name, value, why] = li.children;
      setText(name, info.label);
      setText(value, formatHealth(h.value, info.unit));
      setText(why, h.explanation);
      why.title = h.explanation;
      let level = 'ok';
      if (h.value === null || h.value === undefined) level = 'none';
      else if (info.bad !== undefined && h.value > info.bad) level = 'bad';
      else if (info.warn !== undefined && h.value > info.warn) level = 'warn';
      setClass(li, level);
      li.dataset.name = h.name;
    });
    const tcp = (answer.groups && answer.groups.Tcp) || {};
    const rate = (name) => (tcp[name] && tcp[name].rate !== null && tcp[name].rate !== undefined ? decimal.format(tcp[name].rate) : '–');
    const current = tcp.CurrEstab ? number.format(tcp.CurrEstab.value) : '–';
    setText($('health-rates'), `TCP segments in ${rate('InSegs')}/s, out ${rate('OutSegs')}/s · opens ${rate('ActiveOpens')}/s active, ${rate('PassiveOpens')}/s passive · ${current} established`
      + (answer.full_listeners && answer.full_listeners.length
        ? ` · ${answer.full_listeners.length} ${answer.full_listeners.length === 1 ? 'listener has its' : 'listeners have their'} accept queue full` : ''));
  }

  // ---- the search box ------------------------------------------------------------

  // Turns the search text into the API's filters for /api/v1/connections, or throws
  // an Error saying which word could not be understood.
  function parseSearch(text) {
    const params = new URLSearchParams();
    const states = [];
    const protos = [];
    const single = (name, value, word) => {
      if (params.has(name)) throw new Error(`only one ${name.replace('_', ' ')} at a time: "${word}"`);
      params.set(name, value);
    };
    for (const word of text.trim().split(/\s+/).filter(Boolean)) {
      const prefixed = /^(port|addr|address|remote|local|process|proc|state|proto|pid|user):(.+)$/i.exec(word);
      const kind = prefixed ? prefixed[1].toLowerCase() : classify(word);
      const value = prefixed ? prefixed[2] : word.replace(/^:(\d+)$/, '$1');
      switch (kind) {
        case 'port':
          if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new Error(`"${word}" is not a port (0-65535)`);
          single('port', value, word); break;
        case 'addr': case 'address': case 'remote': single('remote_addr', value, word); break;
        case 'local': single('local_addr', value, word); break;
        case 'state': states.push(value); break;
        case 'proto': protos.push(value); break;
        case 'pid': single('pid', value, word); break;
        case 'user': single('user', value, word); break;
        default: single('process', value, word);
      }
    }
    if (states.length) params.set('state', states.join(','));
    if (protos.length) params.set('proto', protos.join(','));
    return params;
  }

  function classify(word) {
    if (/^:?\d{1,5}$/.test(word)) return 'port';
    if (/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(word)) return 'addr';
    if (/^[0-9a-f]*:[0-9a-f:.]*(\/\d{1,3})?$/i.test(word) && word.split(':').length > 2) return 'addr';
    if (STATE_WORDS.has(word.toLowerCase().replace(/[-_]/g, ''))) return 'state';
    if (PROTO_WORDS.has(word.toLowerCase())) return 'proto';
    return 'process';
  }

  // ---- page state kept in the URL ------------------------------------------------

  const view = {
    q: '',
    filters: new URLSearchParams(),
    window: DEFAULT_WINDOW,
    counters: DEFAULT_COUNTERS.slice(),
    at: null, // ms since the epoch when the table shows a past moment
    netns: '', // one network namespace (inode or name), or '' for all
  };

  // A live path narrowed to the chosen namespace (every live list takes netns=).
  function inNamespace(path) {
    if (!view.netns) return path;
    return path + (path.includes('?') ? '&' : '?') + 'netns=' + encodeURIComponent(view.netns);
  }

  function readURL() {
    const params = new URLSearchParams(location.search);
    view.q = params.get('q') || '';
    view.window = WINDOWS[params.get('window')] ? params.get('window') : DEFAULT_WINDOW;
    const counters = (params.get('counters') || '').split(',').filter((c) => COUNTERS.some(([name]) => name === c));
    view.counters = counters.length ? counters : DEFAULT_COUNTERS.slice();
    const at = Date.parse(params.get('at') || '');
    view.at = Number.isFinite(at) ? at : null;
    view.netns = params.get('netns') || '';
    try { view.filters = parseSearch(view.q); } catch (error) { view.filters = new URLSearchParams(); setText($('search-error'), error.message); }
  }

  function writeURL() {
    const params = new URLSearchParams();
    if (view.q) params.set('q', view.q);
    if (view.window !== DEFAULT_WINDOW) params.set('window', view.window);
    if (view.counters.join(',') !== DEFAULT_COUNTERS.join(',')) params.set('counters', view.counters.join(','));
    if (view.at !== null) params.set('at', new Date(view.at).toISOString());
    if (view.netns) params.set('netns', view.netns);
    const search = params.toString();
    const url = location.pathname + (search ? '?' + search : '') + location.hash;
    if (url !== location.pathname + location.search + location.hash) history.replaceState(null, '', url);
  }

  let searchTimer = 0;
  function applySearch(text, fromElsewhere) {
    clearTimeout(searchTimer);
    if (fromElsewhere) $('search').value = text;
    let filters;
    try {
      filters = parseSearch(text);
    } catch (error) {
      setText($('search-error'), error.message);
      return;
    }
    setText($('search-error'), '');
    view.q = text.trim();
    view.filters = filters;
    writeURL();
    refreshConnections();
    if (fromElsewhere) $('connections').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    applySearch($('search').value, false);
  });
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => applySearch($('search').value, false), 600);
  });
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
    if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      $('search').focus();
      $('search').select();
    }
  });

  // ---- the connection table --------------------------------------------------------

  let connectionsGeneration = 0;

  function connectionsPath() {
    const params = new URLSearchParams(view.filters);
    params.set('limit', String(CONNECTION_LIMIT));
    if (view.netns) params.set('netns', view.netns);
    if (view.at !== null) params.set('at', new Date(view.at).toISOString());
    return '/api/v1/connections?' + params.toString();
  }

  async function refreshConnections() {
    const generation = ++connectionsGeneration;
    const path = connectionsPath();
    try {
      // A past table never changes (the API says so with max-age); the live one is polled.
      const answer = await api(path, { conditional: view.at === null });
      if (generation !== connectionsGeneration) return;
      if (answer.changed || $('connections').dataset.path !== path) renderConnections(answer.data, path);
    } catch (error) {
      if (generation !== connectionsGeneration) return;
      const table = $('connections');
      table.dataset.path = path;
      if (error instanceof APIError) {
        const detail = error.status === 404 && view.at !== null
          ? 'netstatd has no sample at or before that moment.'
          : error.status === 503 ? `History is not available: ${error.message}` : error.message;
        setText($('connections-error'), detail);
        syncTable($('connections-rows'), [], () => '', []);
        $('connections-empty').hidden = true;
        setText($('connections-summary'), 'No table.');
      } else {
        throw error;
      }
    }
  }

  function renderConnections(answer, path) {
    const section = $('connections');
    section.dataset.path = path;
    section.dataset.takenAt = answer.taken_at;
    section.dataset.at = view.at === null ? '' : new Date(view.at).toISOString();
    setText($('connections-error'), '');
    const filtered = view.q ? ` matching “${view.q}”` : '';
    const shown = answer.count < answer.total ? `first ${number.format(answer.count)} of ${number.format(answer.total)}` : number.format(answer.total);
    const when = view.at === null
      ? `live, sample of ${clock(Date.parse(answer.taken_at))}`
      : `as they stood at ${clock(Date.parse(answer.taken_at), true)} (from history)`;
    setText($('connections-summary'), `${shown} sockets${filtered}, ${when}`);
    $('connections-summary').className = view.at === null ? '' : 'at-banner';
    $('back-to-live').hidden = view.at === null;
    $('connections-empty').hidden = answer.items.length > 0;
    syncTable($('connections-rows'), answer.items,
      (s) => `${s.proto}|${s.local.address}|${s.local.port}|${s.remote.address}|${s.remote.port}|${s.cookie ?? s.inode}`, [
        (td, s) => setText(td, protoLabel(s)),
        (td, s, tr) => { td.className = 'addr'; tr.dataset.localPort = s.local.port; tr.dataset.remotePort = s.remote.port; setText(td, endpoint(s.local)); },
        (td, s) => { td.className = 'addr'; setText(td, s.remote.port === 0 && /^(0\.0\.0\.0|::)$/.test(s.remote.address) ? (s.remote.address.includes(':') ? '[::]:*' : '0.0.0.0:*') : endpoint(s.remote)); },
        (td, s, tr) => {
          tr.dataset.state = s.state;
          let swatch = td.firstChild;
          if (!swatch) { swatch = el('span'); td.append(swatch, el('span', 'state-name')); }
          setClass(swatch, 'swatch s-' + s.state);
          setText(td.lastChild, s.state);
        },
        (td, s) => { td.className = 'num'; setText(td, s.recv_q); },
        (td, s) => { td.className = 'num'; setText(td, s.send_q); },
        (td, s) => { td.className = 'wrap'; setText(td, owners(s.processes)); },
      ]);
  }

  function pinMoment(ms) {
    view.at = ms;
    writeURL();
    charts.states.pin(ms);
    charts.counters.pin(ms);
    refreshConnections();
  }

  $('back-to-live').addEventListener('click', () => {
    view.at = null;
    writeURL();
    charts.states.pin(null);
    charts.counters.pin(null);
    setText($('connections-error'), '');
    refreshConnections();
    $('search').focus();
  });

  // ---- charts ------------------------------------------------------------------------

  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function setAttr(node, name, value) {
    const text = String(value);
    if (node.getAttribute(name) !== text) node.setAttribute(name, text);
  }

  // A line chart drawn in SVG by this page. `series` is [{ key, label, className,
  // points: [{ t, v }] }] with t in ms; `from`/`to` bound the time axis. Paths are
  // kept per series and only their `d` changes, so a redraw does not flicker.
  class LineChart {
    constructor(container, readout, describe, onPick) {
      this.container = container;
      this.readout = readout;
      this.describe = describe;
      this.onPick = onPick;
      this.data = null;
      this.messageText = '';
      this.hidden = new Set();
      this.cursor = -1;
      this.pinned = null;
      this.root = svg('svg', { role: 'group', tabindex: '0' });
      this.root.setAttribute('aria-label', `${describe}: arrow keys move along the time axis, Enter shows the connections at that moment`);
      this.grid = svg('g');
      this.labels = svg('g');
      this.lines = svg('g');
      this.dots = svg('g', { class: 'dots' });
      this.cursorLine = svg('line', { class: 'cursor', visibility: 'hidden' });
      this.pinLine = svg('line', { class: 'pinned', visibility: 'hidden' });
      this.message = svg('text', { class: 'nodata', 'text-anchor': 'middle' });
      this.root.append(this.grid, this.labels, this.lines, this.dots, this.pinLine, this.cursorLine, this.message);
      container.appendChild(this.root);
      this.paths = new Map();
      this.root.addEventListener('mousemove', (event) => this.hover(this.indexAt(event)));
      this.root.addEventListener('mouseleave', () => this.hover(-1));
      this.root.addEventListener('click', (event) => {
        const index = this.indexAt(event);
        if (index >= 0) this.pick(index);
      });
      this.root.addEventListener('keydown', (event) => this.key(event));
      this.root.addEventListener('blur', () => this.hover(-1));
      new ResizeObserver(() => this.draw()).observe(container);
    }

    get times() {
      return this.data ? this.data.times : [];
    }

    set(data) {
      this.data = data;
      this.messageText = '';
      if (this.cursor >= data.times.length) this.cursor = -1;
      this.draw();
    }

    setMessage(text) {
      this.data = null;
      this.messageText = text;
      this.draw();
    }

    geometry() {
      const width = Math.max(200, this.container.clientWidth);
      const height = Math.max(120, this.container.clientHeight);
      return { width, height, left: 52, right: width - 10, top: 10, bottom: height - 22 };
    }

    draw() {
      const g = this.geometry();
      setAttr(this.root, 'viewBox', `0 0 ${g.width} ${g.height}`);
      this.grid.replaceChildren();
      this.labels.replaceChildren();
      this.dots.replaceChildren();
      const data = this.data;
      if (!data || !data.times.length) {
        for (const path of this.paths.values()) path.remove();
        this.paths.clear();
        setAttr(this.message, 'x', (g.left + g.right) / 2);
        setAttr(this.message, 'y', (g.top + g.bottom) / 2);
        setText(this.message, this.messageText || (data ? 'No samples in this window yet.' : 'Loading…'));
        this.grid.append(svg('line', { class: 'axis', x1: g.left, x2: g.right, y1: g.bottom, y2: g.bottom }));
        setAttr(this.cursorLine, 'visibility', 'hidden');
        setAttr(this.pinLine, 'visibility', 'hidden');
        return;
      }
      setText(this.message, '');
      const visible = data.series.filter((s) => !this.hidden.has(s.key));
      let max = 0;
      for (const s of visible) for (const p of s.points) if (p.v !== null && p.v > max) max = p.v;
      max = niceMax(max);
      this.scale = {
        x: (t) => g.left + ((t - data.from) / Math.max(1, data.to - data.from)) * (g.right - g.left),
        y: (v) => g.bottom - (v / max) * (g.bottom - g.top),
        g,
      };
      const { x, y } = this.scale;
      for (let i = 0; i <= 4; i++) {
        const v = (max * i) / 4;
        const yy = y(v);
        this.grid.append(svg('line', { class: i === 0 ? 'axis' : 'grid', x1: g.left, x2: g.right, y1: yy, y2: yy }));
        const label = svg('text', { x: g.left - 6, y: yy + 4, 'text-anchor': 'end' });
        label.textContent = shortNumber(v);
        this.labels.append(label);
      }
      const span = data.to - data.from;
      const withDate = span > 86400000;
      for (let i = 0; i <= 4; i++) {
        const t = data.from + (span * i) / 4;
        const label = svg('text', { x: x(t), y: g.height - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' });
        label.textContent = clock(t, withDate).replace(/:\d\d$/, span > 3600000 ? '' : '$&');
        this.labels.append(label);
      }
      // Before the first bucket netstatd recorded nothing (it was not running yet): say so
      // instead of leaving the window's start looking like zero.
      const first = data.times[0];
      if (first - data.from > 1.5 * data.step) {
        const width = x(first) - g.left;
        this.grid.append(svg('rect', { class: 'unrecorded', x: g.left, y: g.top, width, height: g.bottom - g.top }));
        if (width > 150) {
          const label = svg('text', { class: 'unrecorded-label', x: g.left + width / 2, y: (g.top + g.bottom) / 2, 'text-anchor': 'middle' });
          label.textContent = `nothing recorded before ${clock(first, withDate)}`;
          this.labels.append(label);
        }
      }
      const seen = new Set();
      const fewPoints = data.times.length <= 60;
      for (const s of visible) {
        seen.add(s.key);
        let path = this.paths.get(s.key);
        if (!path) {
          path = svg('path');
          this.paths.set(s.key, path);
          this.lines.append(path);
        }
        setAttr(path, 'class', 'series ' + s.className);
        // A gap longer than two steps (no samples: netstatd was down) breaks the line.
        let d = '';
        let last = null;
        for (const p of s.points) {
          if (p.v === null) { last = null; continue; }
          const command = last === null || p.t - last > 2 * data.step ? 'M' : 'L';
          d += `${command}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
          last = p.t;
        }
        setAttr(path, 'd', d || 'M0,0');
        if (fewPoints) {
          const group = svg('g', { class: s.className });
          for (const p of s.points) if (p.v !== null) group.append(svg('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5 }));
          this.dots.append(group);
        }
      }
      for (const [key, path] of this.paths) if (!seen.has(key)) { path.remove(); this.paths.delete(key); }
      this.placeCursor();
      this.placePin();
    }

    indexAt(event) {
      if (!this.data || !this.data.times.length || !this.scale) return -1;
      const box = this.root.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * this.scale.g.width;
      let best = -1;
      let distance = Infinity;
      this.data.times.forEach((t, i) => {
        const d = Math.abs(this.scale.x(t) - px);
        if (d < distance) { distance = d; best = i; }
      });
      return best;
    }

    hover(index) {
      this.cursor = index;
      this.placeCursor();
    }

    placeCursor() {
      const data = this.data;
      if (!data || this.cursor < 0 || this.cursor >= data.times.length || !this.scale) {
        setAttr(this.cursorLine, 'visibility', 'hidden');
        setText(this.readout, this.pinned !== null ? `Table pinned at ${clock(this.pinned, true)}` : this.idleText());
        return;
      }
      const t = data.times[this.cursor];
      const { x, g } = this.scale;
      setAttr(this.cursorLine, 'visibility', 'visible');
      setAttr(this.cursorLine, 'x1', x(t)); setAttr(this.cursorLine, 'x2', x(t));
      setAttr(this.cursorLine, 'y1', g.top); setAttr(this.cursorLine, 'y2', g.bottom);
      const values = data.series.filter((s) => !this.hidden.has(s.key)).map((s) => {
        const p = s.points.find((q) => q.t === t);
        return `${s.label} ${p && p.v !== null ? shortNumber(p.v) : '–'}`;
      });
      setText(this.readout, `${clock(t, data.to - data.from > 86400000)}: ${values.join(' · ')}`);
    }

    idleText() {
      return this.data && this.data.times.length ? 'Point at the chart for values; click a moment to see its connections.' : '';
    }

    pin(ms) {
      this.pinned = ms;
      this.placePin();
      this.placeCursor();
    }

    placePin() {
      if (this.pinned === null || !this.scale || !this.data) {
        setAttr(this.pinLine, 'visibility', 'hidden');
        return;
      }
      const { x, g } = this.scale;
      const px = Math.max(g.left, Math.min(g.right, x(this.pinned)));
      setAttr(this.pinLine, 'visibility', 'visible');
      setAttr(this.pinLine, 'x1', px); setAttr(this.pinLine, 'x2', px);
      setAttr(this.pinLine, 'y1', g.top); setAttr(this.pinLine, 'y2', g.bottom);
    }

    // The moment a point stands for: the end of its bucket (the API's `at` is its
    // start), no later than the window's end, so `at=` finds a sample inside it.
    pick(index) {
      const data = this.data;
      const t = Math.min(data.times[index] + data.step, data.to) - 1;
      this.onPick(Math.max(data.times[index], t));
    }

    key(event) {
      const count = this.times.length;
      if (!count) return;
      if (event.key === 'ArrowLeft' || event.key === 'ArrowRight' || event.key === 'Home' || event.key === 'End') {
        event.preventDefault();
        let index = this.cursor < 0 ? count - 1 : this.cursor;
        if (event.key === 'ArrowLeft') index = Math.max(0, index - 1);
        if (event.key === 'ArrowRight') index = Math.min(count - 1, index + 1);
        if (event.key === 'Home') index = 0;
        if (event.key === 'End') index = count - 1;
        this.hover(index);
      } else if ((event.key === 'Enter' || event.key === ' ') && this.cursor >= 0) {
        event.preventDefault();
        this.pick(this.cursor);
      }
    }
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const factor of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (factor * magnitude >= value) return factor * magnitude;
    return 10 * magnitude;
  }

  function shortNumber(v) {
    if (Math.abs(v) >= 1e6) return decimal.format(v / 1e6) + 'M';
    if (Math.abs(v) >= 1e4) return decimal.format(v / 1e3) + 'k';
    return decimal.format(v);
  }

  const charts = {
    states: new LineChart($('chart-states'), $('chart-states-readout'), 'Sockets by state over time', pinMoment),
    counters: new LineChart($('chart-counters'), $('chart-counters-readout'), 'Protocol counters per second over time', pinMoment),
  };

  // The legend of the state chart: one toggle a state.
  function renderStateLegend(series) {
    syncChildren($('chart-states-legend'), series, (s) => s.key, (s) => {
      const button = el('button');
      button.type = 'button';
      button.append(el('span', 'swatch ' + s.className), el('span', 'state-name', s.label));
      button.addEventListener('click', () => {
        const key = button.dataset.key;
        if (charts.states.hidden.has(key)) charts.states.hidden.delete(key); else charts.states.hidden.add(key);
        button.setAttribute('aria-pressed', String(!charts.states.hidden.has(key)));
        charts.states.draw();
      });
      return button;
    }, (button, s) => {
      button.setAttribute('aria-pressed', String(!charts.states.hidden.has(s.key)));
      button.title = `Show or hide ${s.label}`;
    });
  }

  function buildCounterPicker() {
    const box = $('counter-picker');
    COUNTERS.forEach(([name, label], index) => {
      const id = 'counter-' + name.replace('.', '-');
      const input = el('input');
      input.type = 'checkbox';
      input.id = id;
      input.value = name;
      input.checked = view.counters.includes(name);
      input.addEventListener('change', () => {
        view.counters = COUNTERS.map(([n]) => n).filter((n) => $('counter-' + n.replace('.', '-')).checked);
        writeURL();
        refreshHistory();
      });
      const tag = el('label');
      tag.htmlFor = id;
      tag.title = name;
      tag.append(input, el('span', 'swatch k' + index), document.createTextNode(label));
      box.appendChild(tag);
    });
  }

  // ---- history -----------------------------------------------------------------------

  let historyGeneration = 0;
  let historyOff = false;

  function showHistoryOff(text) {
    historyOff = true;
    const notice = $('history-off');
    setText(notice, text);
    notice.hidden = false;
    $('history-charts').hidden = true;
    $('window-picker').disabled = true;
  }

  async function refreshHistory() {
    if (historyOff) return;
    const generation = ++historyGeneration;
    const w = WINDOWS[view.window];
    const statesPath = `/api/v1/history/states?from=${w.from}&step=${w.step}`;
    const counterParams = view.counters.map((c) => 'counter=' + encodeURIComponent(c)).join('&');
    const countersPath = `/api/v1/history/protocols?from=${w.from}&step=${w.step}` + (counterParams ? '&' + counterParams : '');
    $('history').dataset.statesPath = statesPath;
    $('history').dataset.countersPath = countersPath;
    const [states, counters] = await Promise.allSettled([
      api(statesPath),
      view.counters.length ? api(countersPath) : Promise.resolve(null),
    ]);
    if (generation !== historyGeneration) return;
    for (const result of [states, counters]) {
      if (result.status === 'rejected' && result.reason instanceof APIError && result.reason.status === 503) {
        showHistoryOff(`History is not available: ${result.reason.message}`);
        return;
      }
    }
    if (states.status === 'fulfilled') {
      const data = stateSeries(states.value.data);
      charts.states.set(data);
      renderStateLegend(data.series);
    } else {
      charts.states.setMessage(`Could not read the history: ${states.reason.message}`);
    }
    if (counters.status === 'fulfilled' && counters.value) {
      charts.counters.set(counterSeries(counters.value.data));
    } else if (counters.status === 'fulfilled') {
      charts.counters.setMessage('Pick a counter below.');
    } else {
      charts.counters.setMessage(`Could not read the history: ${counters.reason.message}`);
    }
    $('history').dataset.loaded = statesPath;
  }

  function stateSeries(answer) {
    const times = answer.series.map((b) => Date.parse(b.at));
    const present = new Set();
    const totals = answer.series.map((bucket) => {
      const sum = {};
      for (const protocol of Object.values(bucket.counts)) {
        for (const [state, value] of Object.entries(protocol)) {
          sum[state] = (sum[state] || 0) + value;
          present.add(state);
        }
      }
      return sum;
    });
    const order = Array.from(present).sort((a, b) => STATES.indexOf(a) - STATES.indexOf(b));
    return {
      from: Date.parse(answer.from), to: Date.parse(answer.to), step: answer.step_seconds * 1000, times,
      series: order.map((state) => ({
        key: state, label: state, className: 's-' + state,
        points: times.map((t, i) => ({ t, v: totals[i][state] || 0 })),
      })),
    };
  }

  function counterSeries(answer) {
    const times = new Set();
    for (const points of Object.values(answer.series)) for (const p of points) times.add(Date.parse(p.at));
    const sorted = Array.from(times).sort((a, b) => a - b);
    const series = view.counters.filter((name) => answer.series[name]).map((name) => {
      const index = COUNTERS.findIndex(([n]) => n === name);
      const byTime = new Map(answer.series[name].map((p) => [Date.parse(p.at), p.rate]));
      return {
        key: name, label: COUNTERS[index][1], className: 'k' + index,
        points: sorted.map((t) => ({ t, v: byTime.has(t) && byTime.get(t) !== null ? byTime.get(t) : null })),
      };
    });
    return { from: Date.parse(answer.from), to: Date.parse(answer.to), step: answer.step_seconds * 1000, times: sorted, series };
  }

  for (const input of document.querySelectorAll('#window-picker input')) {
    input.addEventListener('change', () => {
      if (!input.checked) return;
      view.window = input.value;
      writeURL();
      refreshHistory();
    });
  }

  // ---- the polling loop --------------------------------------------------------------

  const live = [
    ['/api/v1/stats/states', renderStates],
    ['/api/v1/listeners', renderListeners],
    ['/api/v1/processes', renderProcesses],
    ['/api/v1/stats/states?group_by=remote_addr', (a) => renderRanking($('peers-list'), a, 'addr:')],
    ['/api/v1/stats/states?group_by=local_port', (a) => renderRanking($('ports-list'), a, 'port:')],
  ];
  const protocolsPath = '/api/v1/stats/protocols?' + ['Tcp.RetransSegs', 'Tcp.OutRsts', 'Tcp.EstabResets', 'Tcp.AttemptFails',
    'TcpExt.ListenOverflows', 'TcpExt.ListenDrops', 'Udp.RcvbufErrors', ...RATE_COUNTERS].map((c) => 'counter=' + c).join('&');

  let lastHistory = 0;
  let pollTimer = 0;
  let polling = false;

  async function poll() {
    clearTimeout(pollTimer);
    if (polling) return;
    polling = true;
    try {
      await pollOnce();
    } finally {
      polling = false;
      if (!document.hidden) pollTimer = setTimeout(poll, POLL_MS);
    }
  }

  async function pollOnce() {
    const tasks = live.map(([path, render]) => api(inNamespace(path), { conditional: true }).then((answer) => {
      if (answer.changed) render(answer.data);
      return answer;
    }));
    tasks.push(api(protocolsPath).then((answer) => renderHealth(answer.data)));
    if (view.at === null) tasks.push(refreshConnections());
    if (!historyOff && Date.now() - lastHistory >= HISTORY_MS) {
      lastHistory = Date.now();
      tasks.push(refreshHistory());
    }
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      const reason = failed.reason;
      setStatus('down', reason instanceof APIError ? `netstatd answered ${reason.status}: ${reason.message}` : 'netstatd does not answer; retrying…');
    } else {
      setStatus('live', describeStatus(results[0].value.takenAt));
    }
  }

  document.addEventListener('visibilitychange', () => {
    // A hidden tab stops polling; it catches up at once when shown again.
    if (document.hidden) clearTimeout(pollTimer); else poll();
  });

  // ---- the namespace picker -------------------------------------------------------

  // Shown when the host has more than one network namespace (containers, ip netns);
  // the choice narrows every live panel and the connection table, and is kept in the URL.
  async function refreshNamespaces() {
    let answer;
    try {
      answer = (await api('/api/v1/namespaces')).data;
    } catch (error) {
      return; // an older netstatd, or no permission: the picker stays hidden
    }
    const picker = $('netns-picker');
    const items = answer.items || [];
    const options = [['', 'all namespaces']].concat(items.map((ns) => {
      const label = (ns.name || String(ns.inode)) + (ns.host ? ' (host)' : '')
        + (ns.container ? ` · ${ns.container.runtime} ${ns.container.name || ns.container.id.slice(0, 12)}` : '')
        + ` · ${ns.sockets} sockets` + (ns.read ? '' : ' · not readable');
      return [ns.name || String(ns.inode), label];
    }));
    if (view.netns && !options.some(([value]) => value === view.netns)) options.push([view.netns, view.netns + ' (gone)']);
    const wanted = options.map(([value, label]) => value + '\u0000' + label).join('\u0001');
    if (picker.dataset.options !== wanted) {
      picker.dataset.options = wanted;
      picker.replaceChildren(...options.map(([value, label]) => {
        const option = el('option', '', label);
        option.value = value;
        return option;
      }));
    }
    picker.value = view.netns;
    $('netns-label').hidden = items.length < 2 && !view.netns;
  }

  $('netns-picker').addEventListener('change', () => {
    view.netns = $('netns-picker').value;
    writeURL();
    poll();
  });

  async function start() {
    readURL();
    $('search').value = view.q;
    for (const input of document.querySelectorAll('#window-picker input')) input.checked = input.value === view.window;
    buildCounterPicker();
    refreshNamespaces();
    setInterval(refreshNamespaces, 30_000);
    try {
      statusInfo = (await api('/api/v1/status')).data;
    } catch (error) {
      setStatus('down', 'netstatd does not answer /api/v1/status: ' + error.message);
    }
    if (statusInfo && statusInfo.history === null) {
      showHistoryOff('History is off: this netstatd runs with --no-history, so there are no charts and no past tables. The live figures above and below still update.');
    }
    if (view.at !== null) {
      charts.states.pin(view.at);
      charts.counters.pin(view.at);
      refreshConnections();
    }
    await poll();
  }

  window.addEventListener('error', (event) => setStatus('down', 'page error: ' + event.message));
  start();
})();
