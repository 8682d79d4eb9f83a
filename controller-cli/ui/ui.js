/* d4ctl ui: the browser controller. Plain JavaScript, no build step and
 * nothing from elsewhere: d4ctl serves this file and is the only server
 * the page talks to (server-sent events in, JSON POSTs out). The state is
 * what d4ctl polled from the nodes (docs/ui.md); the page draws it. */
'use strict';
performance.mark('d4-script');

const SESSION = document.querySelector('meta[name="d4-session"]').content;
const $ = (sel) => document.querySelector(sel);

/* Subscription states (docs/api.md, docs/ui.md) and how they look. A
 * state this page does not know is shown as it is, neutrally. */
const LEVEL = {
	receiving: 'ok',
	late: 'warn',
	degraded: 'warn',
	waiting: 'pending',
	'no-audio': 'error',
	'clock-mismatch': 'warn', /* it plays, not sample-aligned */
	unresolved: 'error',
};
const ICON = {ok: '\u2713', warn: '!', pending: '\u2026', error: '\u2717',
	      unknown: '?'};
const level = (state) => LEVEL[state] || 'unknown';
const WORST = ['unknown', 'ok', 'pending', 'warn', 'error'];

let S = JSON.parse(document.getElementById('d4-initial').textContent);
let view = 'routing';
const perf = (window.d4perf = {
	meterMsgs: 0, meterFrames: 0, meterSeqs: 0, lastSeq: 0, lags: [],
	/* windows of the node's meters seen, per bank ("ADDR f/FLOW") */
	windows: {},
	stateMsgs: 0, firstMatrixMs: null,
});

/* ---- helpers ---- */

function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text;
	return e;
}

/* "3 Vox", or "3" while the channel has its default name "03". */
function chanLabel(it) {
	const pad = it.ch < 10 ? '0' + it.ch : String(it.ch);
	return it.name === pad || it.name === String(it.ch) ? String(it.ch)
		: it.ch + ' ' + it.name;
}

function fmtChans(list) {
	const out = [];
	for (let i = 0; i < list.length; i++) {
		let j = i;
		while (j + 1 < list.length && list[j + 1] === list[j] + 1)
			j++;
		out.push(j > i ? list[i] + '-' + list[j] : String(list[i]));
		i = j;
	}
	return out.join(',');
}

function fmtNs(ns) {
	if (ns === null || ns === undefined)
		return '\u2014';
	const a = Math.abs(ns);
	if (a < 1000)
		return ns + ' ns';
	if (a < 1e6)
		return (ns / 1e3).toFixed(1) + ' \u00b5s';
	return (ns / 1e6).toFixed(2) + ' ms';
}

const fmtMs = (us) => (us / 1000).toLocaleString(undefined,
	{maximumFractionDigits: 2}) + ' ms';

function toast(text, info) {
	const t = $('#toast');
	t.textContent = text;
	t.className = info ? 'info' : '';
	t.hidden = false;
	clearTimeout(toast.timer);
	toast.timer = setTimeout(() => (t.hidden = true), info ? 3000 : 8000);
}

async function post(path, body) {
	let r;
	try {
		r = await fetch(path, {
			method: 'POST',
			headers: {'Content-Type': 'application/json',
				  'X-D4-Session': SESSION},
			body: JSON.stringify(body),
		});
	} catch (e) {
		return {ok: false, error: 'd4ctl ui is not answering: ' + e};
	}
	try {
		return await r.json();
	} catch (e) {
		return {ok: false, error: 'HTTP ' + r.status};
	}
}

/* ---- the network, derived from the state ---- */

let net; /* {byAddr, byName, tx: [group], rx: [group], rxmap} */
/* addr -> {SUB: {stats, state, state_reason, latency_safe_us, legs}}:
 * the stats message, once a second, and when it was made */
let statsNow = {}, statsT = 0;

/* The per-leg counters of @stats with the leg states of the route's
 * @legs ("A ok, B down", the state message's): a leg's silence is shown
 * only when that state says down. */
function legsAsOf(stats, legs) {
	if (!Array.isArray(stats))
		return stats;
	const st = {};
	for (const p of String(legs || '').split(', ')) {
		const w = p.split(' ');
		if (w.length === 2)
			st[w[0]] = w[1];
	}
	/* a silence measured before the state changed is not the state's */
	return stats.map((l) => !st[l.leg] || st[l.leg] === l.state ? l :
		Object.assign({}, l, {state: st[l.leg], silent_ms: undefined}));
}

function derive() {
	const byAddr = {}, byName = {}, sessions = new Set();
	const tx = [], rx = [], rxmap = {};
	for (const n of S.nodes) {
		byAddr[n.addr] = n;
		byName[n.name] = n;
		for (const f of n.flows || [])
			sessions.add(f.session || n.name + ' ' + f.name);
	}
	for (const n of S.nodes) {
		const ch = n.channels || {tx: [], rx: []};
		if (ch.tx.length)
			tx.push({key: 'n:' + n.addr, addr: n.addr, label: n.name,
				 off: !n.reachable,
				 items: ch.tx.map((c) => ({ch: c.channel,
							   name: c.name}))});
		if (ch.rx.length)
			rx.push({key: 'n:' + n.addr, addr: n.addr, label: n.name,
				 off: !n.reachable,
				 items: ch.rx.map((c) => ({ch: c.channel,
							   name: c.name}))});
	}
	/* AES67 streams seen that are not d4 flows: TX groups of their own
	 * (Dante in AES67 mode, PipeWire...). */
	const foreign = {};
	for (const n of S.nodes)
		for (const s of n.streams || [])
			if (!s.own && s.channels && !sessions.has(s.name))
				foreign[s.name] = s;
	for (const name of Object.keys(foreign).sort()) {
		const items = [];
		for (let c = 1; c <= foreign[name].channels; c++)
			items.push({ch: c, name: String(c)});
		tx.push({key: 's:' + name, stream: name, label: name,
			 items: items});
	}
	for (const r of S.routes) {
		const rn = byName[r.node];
		/* The counters and safe latency as of the last second. A
		 * state goes with the reason and leg states of the same poll:
		 * the newer of the two messages gives all three (a state
		 * message sent on a change is newer than the last second's
		 * stats, and the next stats message newer than it). derive()
		 * runs again on each message: it starts from what the state
		 * message said (kept in r.said). */
		const live = rn && (statsNow[rn.addr] || {})[r.subscription];
		if (!r.said)
			r.said = {state: r.state, state_reason: r.state_reason};
		r.state = r.said.state;
		r.state_reason = r.said.state_reason;
		r.leg_stats = undefined;
		if (live) {
			r.latency_safe_us = live.latency_safe_us;
			if (statsT >= ((S.ui || {}).t || 0)) {
				if (live.state)
					r.state = live.state;
				r.state_reason = live.state_reason;
				r.leg_stats = live.legs;
			} else {
				r.leg_stats = legsAsOf(live.legs, r.legs);
			}
		}
		/* A receiving node that does not answer cannot say how its
		 * route fares: unknown ('?'), with its last word, not a
		 * green tick kept from before (a new user's outage) */
		if (rn && !rn.reachable) {
			r.state_reason = rn.name + ' does not answer; it last ' +
				'said ' + (r.state || 'nothing') +
				(r.state_reason ? ': ' + r.state_reason : '');
			r.state = 'unknown';
			r.leg_stats = undefined;
		}
		if (!rn || !r.rx_channels)
			continue;
		r.rx_channels.forEach((c, i) => {
			let key = null;
			if (r.tx_node && byName[r.tx_node])
				key = 'n:' + byName[r.tx_node].addr + '/' +
				      r.tx_channels[i];
			else if (r.stream)
				key = 's:' + r.stream + '/' +
				      (r.stream_channels || [])[i];
			rxmap[rn.addr + '/' + c] = {tx: key, route: r};
		});
	}
	net = {byAddr, byName, tx, rx, rxmap};
}

/* ---- the routing matrix ---- */

const collapsed = {tx: new Set(), rx: new Set()};
let defaultsSet = false;
let cols = [], rows = [];
let active = {r: 0, c: 0};
const busy = new Set();
const CELL = () => parseInt(getComputedStyle(document.documentElement)
	.getPropertyValue('--cell'), 10) || 24;

/* The groups and channels of one axis whose names hold @f; an axis where
 * nothing does stays whole (filtering for "Vox" shows the Vox column
 * against every RX channel). */
function filterGroups(groups, f) {
	const out = [];
	for (const g of groups) {
		if (!f || g.label.toLowerCase().includes(f)) {
			out.push(g);
			continue;
		}
		const items = g.items.filter(
			(it) => it.name.toLowerCase().includes(f));
		if (items.length)
			out.push(Object.assign({}, g, {items}));
	}
	return out.length ? out : groups;
}

function axis(groups, side) {
	const out = [];
	for (const g of groups) {
		if (collapsed[side].has(g.key))
			out.push({g, item: null});
		else
			for (const it of g.items)
				out.push({g, item: it});
	}
	return out;
}

function buildAxes() {
	const f = $('#filter').value.trim().toLowerCase();
	if (!defaultsSet) {
		/* A big network starts with its foreign streams folded. */
		for (const g of net.tx)
			if (g.stream && net.tx.length > 1)
				collapsed.tx.add(g.key);
		defaultsSet = true;
	}
	cols = axis(filterGroups(net.tx, f), 'tx');
	rows = axis(filterGroups(net.rx, f), 'rx');
	active.r = Math.min(active.r, Math.max(rows.length - 1, 0));
	active.c = Math.min(active.c, Math.max(cols.length - 1, 0));
}

function txKey(col) {
	return col.g.key + '/' + col.item.ch;
}

/* What one cell shows: {cls, text, label, title}. */
/* ST 2022-7: "leg A ok, leg B down" for a subscription with two legs
 * (its per-leg states from the node's API, once a second), or ''. */
function legsText(r) {
	if (!Array.isArray(r.leg_stats) || !r.leg_stats.length)
		return '';
	return r.leg_stats.map((l) => 'leg ' + l.leg + ' ' + l.state +
		(l.state === 'down' && l.silent_ms != null ?
		 ' (silent ' + (l.silent_ms / 1000).toFixed(1) + ' s)' : '') +
		', ' + l.lost + ' lost').join('; ');
}

function cellInfo(row, col) {
	if (row.item && col.item) {
		const cur = net.rxmap[row.g.addr + '/' + row.item.ch];
		const here = cur && cur.tx === txKey(col);
		const tname = col.g.label + ' TX ' + chanLabel(col.item);
		const rname = row.g.label + ' RX ' + chanLabel(row.item);
		if (!here)
			return {cls: '', text: '',
				label: tname + ' to ' + rname +
				       (cur ? ': RX taken by ' + cur.route.from
					    : ': not routed'),
				title: ''};
		const r = cur.route, lv = level(r.state);
		const why = r.state_reason ? ': ' + r.state_reason : '';
		const legs = legsText(r);
		return {cls: 'routed lv-' + lv, text: ICON[lv],
			state: r.state || 'unknown', lv,
			label: tname + ' to ' + rname + ': ' + r.state + why +
			       (legs ? '; ' + legs : ''),
			title: r.state + why + (legs ? '\n' + legs : '') +
			       '\n' + r.rx + ' from ' + r.from +
			       ' (' + r.kind + ', ' + fmtMs(r.latency_us) + ')'};
	}
	/* A folded node: how many of its channels are routed here. */
	let n = 0, worst = 0;
	const txs = col.item ? [col.item] : col.g.items;
	const rxs = row.item ? [row.item] : row.g.items;
	const want = new Set(txs.map((it) => col.g.key + '/' + it.ch));
	for (const it of rxs) {
		const cur = net.rxmap[row.g.addr + '/' + it.ch];
		if (cur && want.has(cur.tx)) {
			n++;
			worst = Math.max(worst,
					 WORST.indexOf(level(cur.route.state)));
		}
	}
	const lv = WORST[worst];
	return {cls: 'sum' + (n ? ' routed lv-' + lv : ''),
		text: n ? String(n) : '',
		label: col.g.label + ' to ' + row.g.label + ': ' + n +
		       ' routed; Enter expands',
		title: n + ' channel' + (n === 1 ? '' : 's') + ' routed'};
}

const pool = [];
let renderQueued = false;
let colIndex = {}; /* TX key ("n:ADDR/CH") -> column */

/* The cells in view that show something: routed ones, a folded node's
 * summaries, and the active cell; the grid's lines are the canvas's
 * background. So a 512 x 512 matrix costs a few dozen elements. */
function renderMatrix() {
	const body = $('.mx-body'), canvas = $('.mx-canvas');
	const C = CELL();
	canvas.style.width = cols.length * C + 'px';
	canvas.style.height = rows.length * C + 'px';
	body.setAttribute('aria-rowcount', rows.length);
	body.setAttribute('aria-colcount', cols.length);
	const r0 = Math.max(0, Math.floor(body.scrollTop / C) - 1);
	const r1 = Math.min(rows.length,
			    Math.ceil((body.scrollTop + body.clientHeight) / C) + 1);
	const c0 = Math.max(0, Math.floor(body.scrollLeft / C) - 1);
	const c1 = Math.min(cols.length,
			    Math.ceil((body.scrollLeft + body.clientWidth) / C) + 1);
	colIndex = {};
	const folded = [];
	cols.forEach((col, c) => {
		if (col.item)
			colIndex[txKey(col)] = c;
		else if (c >= c0 && c < c1)
			folded.push(c);
	});
	const show = [];
	for (let r = r0; r < r1; r++) {
		const row = rows[r];
		if (!row.item) {
			for (let c = c0; c < c1; c++)
				show.push([r, c]);
			continue;
		}
		const cur = net.rxmap[row.g.addr + '/' + row.item.ch];
		const c = cur ? colIndex[cur.tx] : undefined;
		if (c !== undefined && c >= c0 && c < c1)
			show.push([r, c]);
		for (const f of folded)
			show.push([r, f]);
	}
	if (rows.length && cols.length &&
	    !show.some(([r, c]) => r === active.r && c === active.c))
		show.push([active.r, active.c]);
	let k = 0;
	for (const [r, c] of show) {
		let e = pool[k];
		if (!e) {
			e = pool[k] = el('div');
			e.setAttribute('role', 'gridcell');
			canvas.appendChild(e);
		}
		k++;
		const info = cellInfo(rows[r], cols[c]);
		e.className = 'cell ' + info.cls +
			(busy.has(r + ':' + c) ? ' busy' : '') +
			(r === active.r && c === active.c ? ' active' : '');
		e.id = 'cell-' + r + '-' + c;
		e.dataset.r = r;
		e.dataset.c = c;
		e.dataset.tx = cols[c].item ? txKey(cols[c]) : cols[c].g.key;
		e.dataset.rx = rows[r].g.addr +
			(rows[r].item ? '/' + rows[r].item.ch : '');
		e.dataset.state = info.state || '';
		e.dataset.level = info.lv || '';
		e.setAttribute('aria-rowindex', r + 1);
		e.setAttribute('aria-colindex', c + 1);
		e.setAttribute('aria-label', info.label);
		e.title = info.title;
		e.textContent = info.text;
		e.style.left = c * C + 'px';
		e.style.top = r * C + 'px';
		e.hidden = false;
	}
	for (; k < pool.length; k++)
		pool[k].hidden = true;
	if (rows.length && cols.length)
		body.setAttribute('aria-activedescendant',
				  'cell-' + active.r + '-' + active.c);
	renderHeaders(r0, r1, c0, c1, C);
	if (perf.firstMatrixMs === null) {
		perf.firstMatrixMs = performance.now();
		performance.mark('d4-matrix');
	}
}

/* The cell of TX key @tx and RX key @rx ("ADDR/CH") made active and
 * scrolled into view: its element (for tests and for people's scripts). */
window.d4cell = function (tx, rx) {
	const c = cols.findIndex((col) =>
		(col.item ? txKey(col) : col.g.key) === tx);
	const r = rows.findIndex((row) =>
		row.g.addr + (row.item ? '/' + row.item.ch : '') === rx);
	if (r < 0 || c < 0)
		return null;
	moveTo(r, c);
	return document.getElementById('cell-' + r + '-' + c);
};

/* Group and channel headers of the rows and columns in view. */
function renderHeaders(r0, r1, c0, c1, C) {
	const ch = $('.mx-colhdr-in'), rh = $('.mx-rowhdr-in');
	const body = $('.mx-body');
	ch.textContent = '';
	rh.textContent = '';
	ch.style.width = cols.length * C + 'px';
	rh.style.height = rows.length * C + 'px';
	ch.style.transform = 'translateX(' + -body.scrollLeft + 'px)';
	rh.style.transform = 'translateY(' + -body.scrollTop + 'px)';
	const groupSpans = (list, a, b) => {
		const spans = [];
		for (let i = a; i < b; i++) {
			const last = spans[spans.length - 1];
			if (last && last.g === list[i].g)
				last.n++;
			else
				spans.push({g: list[i].g, i, n: 1});
		}
		/* a group begun before the view is labelled from its start */
		if (spans.length) {
			let i = spans[0].i;
			while (i > 0 && list[i - 1].g === spans[0].g) {
				i--;
				spans[0].i = i;
				spans[0].n++;
			}
		}
		return spans;
	};
	for (const s of groupSpans(cols, c0, c1)) {
		const side = 'tx', folded = collapsed[side].has(s.g.key);
		const b = el('button', 'hg' + (s.g.off ? ' off' : ''),
			     (folded ? '\u25b8 ' : '\u25be ') + s.g.label);
		b.type = 'button';
		b.style.left = s.i * C + 'px';
		b.style.width = s.n * C + 'px';
		b.title = (folded ? 'Expand ' : 'Collapse ') + s.g.label +
			  (s.g.off ? ' (not answering)' : '');
		b.setAttribute('aria-expanded', String(!folded));
		b.onclick = () => toggleGroup(side, s.g.key);
		ch.appendChild(b);
	}
	for (let c = c0; c < c1; c++) {
		const col = cols[c];
		const d = el('div', 'hc' + (col.item ? '' : ' num'),
			     col.item ? chanLabel(col.item)
				      : col.g.items.length + ' ch');
		d.style.left = c * C + 'px';
		d.setAttribute('role', 'columnheader');
		ch.appendChild(d);
	}
	for (const s of groupSpans(rows, r0, r1)) {
		const side = 'rx', folded = collapsed[side].has(s.g.key);
		const b = el('button', 'hg' + (s.g.off ? ' off' : ''),
			     (folded ? '\u25b8 ' : '\u25be ') + s.g.label);
		b.type = 'button';
		b.style.top = s.i * C + 'px';
		b.style.height = s.n * C + 'px';
		b.title = (folded ? 'Expand ' : 'Collapse ') + s.g.label;
		b.setAttribute('aria-expanded', String(!folded));
		b.onclick = () => toggleGroup(side, s.g.key);
		rh.appendChild(b);
	}
	for (let r = r0; r < r1; r++) {
		const row = rows[r];
		const cur = row.item && net.rxmap[row.g.addr + '/' + row.item.ch];
		const d = el('div', 'hr' + (row.item ? '' : ' num'),
			     row.item ? chanLabel(row.item)
				      : row.g.items.length + ' ch');
		if (cur && colIndex[cur.tx] === undefined)
			d.appendChild(el('span', 'from', ' \u2190 ' + cur.route.from));
		d.style.top = r * C + 'px';
		d.style.height = C + 'px';
		d.setAttribute('role', 'rowheader');
		rh.appendChild(d);
	}
}

function queueRender() {
	if (renderQueued)
		return;
	renderQueued = true;
	requestAnimationFrame(() => {
		renderQueued = false;
		renderView();
	});
}

function toggleGroup(side, key) {
	if (collapsed[side].has(key))
		collapsed[side].delete(key);
	else
		collapsed[side].add(key);
	buildAxes();
	renderMatrix();
}

function setAll(fold) {
	for (const side of ['tx', 'rx'])
		for (const g of net[side])
			fold ? collapsed[side].add(g.key)
			     : collapsed[side].delete(g.key);
	buildAxes();
	renderMatrix();
}

async function activate(r, c) {
	const row = rows[r], col = cols[c];
	if (!row || !col)
		return;
	if (!row.item || !col.item) {
		collapsed.tx.delete(col.g.key);
		collapsed.rx.delete(row.g.key);
		buildAxes();
		renderMatrix();
		return;
	}
	const cur = net.rxmap[row.g.addr + '/' + row.item.ch];
	const rxd = {rx_node: row.g.addr, rx_channels: [row.item.ch]};
	let path, body;
	if (cur && cur.tx === txKey(col)) {
		path = '/api/unroute';
		body = rxd;
	} else {
		path = '/api/route';
		body = Object.assign({replace: !!cur}, rxd,
			col.g.stream ? {stream: col.g.stream,
					stream_channels: [col.item.ch]}
				     : {tx_node: col.g.addr,
					tx_channels: [col.item.ch]});
	}
	const id = r + ':' + c;
	busy.add(id);
	renderMatrix();
	$('#mx-status').textContent = (path === '/api/route' ? 'Routing ' :
		'Unrouting ') + col.g.label + ' ' + col.item.name + ' to ' +
		row.g.label + ' ' + row.item.name + '\u2026';
	const res = await post(path, body);
	busy.delete(id);
	$('#mx-status').textContent = res.ok ? (res.out || res.what) :
		'Failed: ' + res.what;
	if (!res.ok)
		toast(res.what + ' failed:\n' + (res.error || ''));
	renderMatrix();
}

function moveTo(r, c) {
	active.r = Math.max(0, Math.min(rows.length - 1, r));
	active.c = Math.max(0, Math.min(cols.length - 1, c));
	const body = $('.mx-body'), C = CELL();
	const x = active.c * C, y = active.r * C;
	if (x < body.scrollLeft)
		body.scrollLeft = x;
	else if (x + C > body.scrollLeft + body.clientWidth)
		body.scrollLeft = x + C - body.clientWidth;
	if (y < body.scrollTop)
		body.scrollTop = y;
	else if (y + C > body.scrollTop + body.clientHeight)
		body.scrollTop = y + C - body.clientHeight;
	renderMatrix();
	const info = rows.length && cols.length ?
		cellInfo(rows[active.r], cols[active.c]) : null;
	if (info)
		$('#mx-status').textContent = info.label;
}

function onGridKey(e) {
	const page = Math.max(1, Math.floor($('.mx-body').clientHeight / CELL()) - 1);
	const k = {
		ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1],
		ArrowRight: [0, 1], PageUp: [-page, 0], PageDown: [page, 0],
	}[e.key];
	if (k) {
		moveTo(active.r + k[0], active.c + k[1]);
	} else if (e.key === 'Home') {
		moveTo(e.ctrlKey ? 0 : active.r, 0);
	} else if (e.key === 'End') {
		moveTo(e.ctrlKey ? rows.length - 1 : active.r, cols.length - 1);
	} else if (e.key === 'Enter' || e.key === ' ') {
		activate(active.r, active.c);
	} else {
		return;
	}
	e.preventDefault();
}

/* ---- devices ---- */

let detailAddr = null, detailShape = '';

/* A table's rows by key, updated in place: a row's button or menu is the
 * same element from one state to the next, so focus and an open menu
 * survive the updates (four a second). */
function keyedRows(tb, keys, make) {
	const have = {};
	for (const tr of [...tb.children])
		if (!keys.includes(tr.dataset.key))
			tr.remove();
		else
			have[tr.dataset.key] = tr;
	keys.forEach((k, i) => {
		const tr = have[k] || make(k);
		tr.dataset.key = k;
		if (tb.children[i] !== tr)
			tb.insertBefore(tr, tb.children[i] || null);
	});
	return [...tb.children];
}

function setCell(td, text, cls) {
	if (td.textContent !== text)
		td.textContent = text;
	if (cls !== undefined && td.className !== cls)
		td.className = cls;
}

function renderDevices() {
	const tb = $('#devices tbody');
	const rows = keyedRows(tb, S.nodes.map((n) => n.addr), (addr) => {
		const tr = el('tr');
		for (let i = 0; i < 10; i++)
			tr.appendChild(el('td'));
		const td = el('td');
		const b = el('button');
		b.type = 'button';
		b.onclick = () => {
			detailAddr = detailAddr === addr ? null : addr;
			renderDevices();
		};
		td.appendChild(b);
		tr.appendChild(td);
		return tr;
	});
	S.nodes.forEach((n, k) => {
		const tr = rows[k];
		const nd = n.node || {}, clk = nd.clock || {};
		const rates = new Set((n.flows || []).map((f) => f.rate));
		const lats = (n.subscriptions || []).map((s) => s.latency_us);
		const cells = [
			n.name, n.addr,
			n.reachable ? clk.state || '\u2014' : 'not answering',
			clk.gm || '\u2014',
			n.reachable ? fmtNs((clockNow[n.addr] || [])[1]) : '',
			rates.size ? [...rates].map((r) => r / 1000 + ' kHz').join(', ')
				   : '48 kHz',
			lats.length ? fmtMs(Math.min(...lats)) +
				(Math.max(...lats) !== Math.min(...lats) ?
				 ' \u2013 ' + fmtMs(Math.max(...lats)) : '')
				    : '\u2014',
			(nd.tx_channels || 0) + ' / ' + (nd.rx_channels || 0),
			String((n.flows || []).length), nd.version || '',
		];
		cells.forEach((t, i) => setCell(tr.children[i], t, i === 2 ?
			'lv-' + clockLevel(clk.state, n.reachable) : ''));
		const b = tr.children[10].firstChild;
		setCell(b, detailAddr === n.addr ? 'Close' : 'Rename\u2026');
		b.dataset.node = n.name;
	});
	renderDetail();
}

function renameForm(label, value, body) {
	const f = el('form');
	const l = el('label', '', label + ' ');
	const i = el('input');
	i.value = value;
	i.setAttribute('aria-label', label);
	l.appendChild(i);
	const b = el('button', '', 'Save');
	b.type = 'submit';
	f.append(l, b);
	f.onsubmit = async (e) => {
		e.preventDefault();
		const res = await post('/api/rename',
				       Object.assign({name: i.value}, body));
		toast(res.ok ? res.what + ': done' :
		      res.what + ' failed:\n' + res.error, res.ok);
	};
	return f;
}

function renderDetail() {
	const d = $('#device-detail');
	const n = net.byAddr[detailAddr];
	const shape = JSON.stringify(n ? [n.addr, n.name, n.channels] : null);
	if (document.activeElement && d.contains(document.activeElement))
		return; /* do not redraw under someone typing */
	if (shape === detailShape)
		return; /* the same names: keep the form as it is */
	detailShape = shape;
	d.textContent = '';
	if (!n)
		return;
	const box = el('div', 'detail card');
	box.appendChild(el('h3', '', 'Rename ' + n.name));
	box.appendChild(renameForm('Node name', n.name, {node: n.addr}));
	for (const dir of ['tx', 'rx']) {
		const chans = (n.channels || {})[dir] || [];
		if (!chans.length)
			continue;
		box.appendChild(el('h3', '', dir.toUpperCase() + ' channels'));
		for (const c of chans)
			box.appendChild(renameForm(dir.toUpperCase() + ' ' +
				c.channel, c.name,
				{node: n.addr, dir, channel: c.channel}));
	}
	d.appendChild(box);
}

/* ---- clock ---- */

const clockHist = {}; /* addr -> [[ms, offset_ns]] */
const clockNow = {}; /* addr -> [ms, offset_ns, state, gm] */

function clockLevel(state, reachable) {
	if (!reachable)
		return 'error';
	return {locked: 'ok', locking: 'pending', holdover: 'warn',
		unlocked: 'error'}[state] || 'unknown';
}

function plot(points) {
	const ns = 'http://www.w3.org/2000/svg';
	const svg = document.createElementNS(ns, 'svg');
	svg.setAttribute('viewBox', '0 0 300 90');
	svg.setAttribute('preserveAspectRatio', 'none');
	svg.setAttribute('role', 'img');
	const now = Date.now(), span = 120000;
	const pts = points.filter((p) => p[0] > now - span);
	let max = 1000;
	for (const p of pts)
		max = Math.max(max, Math.abs(p[1]));
	const y = (v) => 45 - (v / max) * 42;
	const zero = document.createElementNS(ns, 'line');
	zero.setAttribute('x1', 0);
	zero.setAttribute('x2', 300);
	zero.setAttribute('y1', 45);
	zero.setAttribute('y2', 45);
	zero.setAttribute('class', 'plot-zero');
	svg.appendChild(zero);
	const line = document.createElementNS(ns, 'polyline');
	line.setAttribute('class', 'plot-line');
	line.setAttribute('points', pts.map((p) =>
		((p[0] - (now - span)) / span * 300).toFixed(1) + ',' +
		y(p[1]).toFixed(1)).join(' '));
	svg.appendChild(line);
	svg.setAttribute('aria-label', 'offset over the last 2 minutes, ' +
			 'full scale \u00b1' + fmtNs(max));
	return {svg, max};
}

function renderClock() {
	const box = $('#clocks');
	box.textContent = '';
	for (const n of S.nodes) {
		const clk = (n.node || {}).clock || {};
		const c = el('div', 'card');
		const h = el('h3', '', n.name + ' ');
		const lv = clockLevel(clk.state, n.reachable);
		h.appendChild(el('span', 'badge lv-' + lv,
				 n.reachable ? clk.state : 'not answering'));
		c.appendChild(h);
		c.appendChild(el('div', 'muted', 'grandmaster ' + (clk.gm || 'none') +
			', port ' + (clk.port_state || '\u2014') + ', offset ' +
			fmtNs((clockNow[n.addr] || [])[1])));
		const p = plot(clockHist[n.addr] || []);
		c.appendChild(p.svg);
		c.appendChild(el('div', 'muted', 'last 2 min, \u00b1' + fmtNs(p.max)));
		box.appendChild(c);
	}
	const ul = $('#clock-events');
	ul.textContent = '';
	for (const e of events.filter((x) => x.kind === 'gm' || x.kind === 'clock'))
		ul.appendChild(eventItem(e));
	if (!ul.children.length)
		ul.appendChild(el('li', 'muted', 'no change since d4ctl ui started'));
}

/* ---- meters ---- */

let meterDom = null; /* [{addr, kind, bank, index, pk, rms, db}] */
let meterShape = ''; /* what the bars were built for */
let metersLatest = null, metersDrawn = 0;
const dbFrac = (v) => v === null || v === undefined ? 0 :
	Math.max(0, Math.min(1, (v + 60) / 60));

function meterRow(label, target) {
	const row = el('div', 'meter' + (target ? '' : ' none'));
	row.appendChild(el('span', '', label));
	const bar = el('div', 'bar');
	const pk = el('i', 'pk'), rms = el('i', 'rms');
	bar.append(pk, rms);
	row.appendChild(bar);
	const db = el('span', 'db', target ? '' : 'not sent');
	row.appendChild(db);
	if (target)
		meterDom.push(Object.assign({pk, rms, db}, target));
	return row;
}

/* The bars, built again only when channels, flows or subscriptions
 * change: a state arrives four times a second, levels twenty. */
function buildMeters() {
	const shape = JSON.stringify(S.nodes.map((n) => [n.addr, n.name,
		n.channels, (n.flows || []).map((f) => [f.name, f.source, f.channels]),
		(n.subscriptions || []).map((x) => [x.name, x.rx_channels,
						    x.stream_channels])]));
	if (shape === meterShape && meterDom)
		return;
	meterShape = shape;
	const box = $('#meters');
	box.textContent = '';
	meterDom = [];
	for (const n of S.nodes) {
		const ch = n.channels || {tx: [], rx: []};
		if (!ch.tx.length && !ch.rx.length)
			continue;
		const card = el('div', 'card');
		card.appendChild(el('h3', '', n.name));
		/* a TX channel's meter: the first flow that sends it */
		const txm = {};
		for (const f of n.flows || [])
			f.channels.forEach((sc, i) => {
				const t = ch.tx.find((c) => c.source === f.source &&
						     c.source_channel === sc);
				if (t && !txm[t.channel])
					txm[t.channel] = {bank: 'f', name: f.name, index: i};
			});
		/* an RX channel's: the subscription that fills it */
		const rxm = {};
		for (const s of n.subscriptions || []) {
			const rxc = s.rx_channels || [];
			rxc.forEach((c, i) => {
				const sc = (s.stream_channels || [])[i] || i + 1;
				rxm[c] = {bank: 's', name: s.name, index: sc - 1};
			});
		}
		if (ch.tx.length)
			card.appendChild(el('div', 'muted', 'TX'));
		for (const c of ch.tx)
			card.appendChild(meterRow('TX ' + c.channel + ' ' + c.name,
				txm[c.channel] && Object.assign({addr: n.addr}, txm[c.channel])));
		if (ch.rx.length)
			card.appendChild(el('div', 'muted', 'RX'));
		for (const c of ch.rx)
			card.appendChild(meterRow('RX ' + c.channel + ' ' + c.name,
				rxm[c.channel] && Object.assign({addr: n.addr}, rxm[c.channel])));
		box.appendChild(card);
	}
}

/* One frame: the latest levels only, however many came since. */
function drawMeters() {
	const m = metersLatest;
	if (!m || !meterDom || m.seq === metersDrawn)
		return;
	metersDrawn = m.seq;
	perf.meterFrames++;
	for (const d of meterDom) {
		const nm = m.nodes[d.addr];
		const v = nm && nm[d.bank] && nm[d.bank][d.name] &&
			  nm[d.bank][d.name][d.index];
		const pk = v ? v[0] : null, rms = v ? v[1] : null;
		d.pk.style.transform = 'scaleX(' + dbFrac(pk) + ')';
		d.rms.style.transform = 'scaleX(' + dbFrac(rms) + ')';
		d.db.textContent = pk === null || pk === undefined ? '-inf' :
			pk.toFixed(1);
	}
	const lag = perf.lags.length ? perf.lags[perf.lags.length - 1] : 0;
	$('#meters-rate').textContent = 'peak (light) and RMS (dark), dBFS, ' +
		'-60 to 0; ' + perf.meterMsgs + ' updates, ' + lag + ' ms behind';
}

/* ---- latency ---- */

function renderLatency() {
	const tb = $('#latency tbody');
	const opts = [250, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000,
		      40000, 100000];
	const routes = S.routes.length ? S.routes : [null];
	const rows = keyedRows(tb, routes.map((r) => r ? r.node + '/' +
		r.subscription : ''), (key) => {
		const tr = el('tr');
		if (!key) {
			const td = el('td', 'muted', 'no subscriptions');
			td.colSpan = 6;
			tr.appendChild(td);
			return tr;
		}
		for (let i = 0; i < 6; i++)
			tr.appendChild(el('td'));
		tr.children[2].appendChild(el('span'));
		const sel = el('select');
		sel.onchange = async () => {
			const r = S.routes.find((x) => x.node + '/' +
						x.subscription === key);
			const n = r && net.byName[r.node];
			if (!n)
				return;
			const res = await post('/api/latency', {
				node: n.addr, subscription: r.subscription,
				latency_us: Number(sel.value)});
			toast(res.ok ? res.what : res.what + ' failed:\n' +
			      res.error, res.ok);
		};
		tr.children[3].appendChild(sel);
		tr.children[5].appendChild(el('span', 'hist'));
		return tr;
	});
	routes.forEach((r, k) => {
		if (!r)
			return;
		const tr = rows[k];
		const n = net.byName[r.node];
		const live = n && (statsNow[n.addr] || {})[r.subscription];
		const st = live && live.stats;
		setCell(tr.children[0], r.rx);
		setCell(tr.children[1], r.from);
		const legs = legsText(r);
		setCell(tr.children[2].firstChild, r.state + (r.state_reason ?
			': ' + r.state_reason : '') + (legs ? ' (' + legs + ')' : ''),
			'badge lv-' + level(r.state));
		const sel = tr.children[3].firstChild;
		sel.setAttribute('aria-label', 'latency of ' + r.rx);
		const values = [...new Set(opts.concat([r.latency_us]))]
			.sort((a, b) => a - b);
		if (document.activeElement !== sel &&
		    (sel.options.length !== values.length ||
		     Number(sel.value) !== r.latency_us)) {
			sel.textContent = '';
			for (const v of values) {
				const o = el('option', '', fmtMs(v));
				o.value = v;
				o.selected = v === r.latency_us;
				sel.appendChild(o);
			}
		}
		const safe = r.latency_safe_us;
		if (safe && r.latency_us < safe)
			setCell(tr.children[4], '\u26a0 ' + fmtMs(safe) +
				': the latency is below the measured safe ' +
				'minimum', 'warn');
		else
			setCell(tr.children[4], safe === undefined ||
				safe === null ? 'not measured (yet)' :
				fmtMs(safe), '');
		const hist = tr.children[5].firstChild;
		const d = st && st.delay_us;
		hist.textContent = '';
		if (d) {
			const keys = Object.keys(d);
			const max = Math.max(1, ...keys.map((x) => d[x]));
			for (const x of keys) {
				const i = el('i');
				i.style.height = Math.round(22 * d[x] / max) + 'px';
				hist.appendChild(i);
			}
			tr.children[5].title = keys.map((x) => x + ' \u00b5s: ' +
				d[x]).join(', ');
		}
	});
}

/* ---- presets ---- */

let presetLoaded = null;

async function onPresetFile() {
	const f = $('#preset-file').files[0];
	const out = $('#preset-diff');
	out.textContent = '';
	$('#preset-apply').disabled = true;
	$('#preset-result').textContent = '';
	if (!f)
		return;
	try {
		presetLoaded = JSON.parse(await f.text());
	} catch (e) {
		out.textContent = f.name + ' is not JSON: ' + e.message;
		return;
	}
	const res = await post('/api/preset/diff', presetLoaded);
	if (!res.ok) {
		out.textContent = res.error || res.what;
		return;
	}
	const cls = {'-': 'd-rm', '+': 'd-add', '~': 'd-lat', '!': 'd-na',
		     '=': ''};
	const lines = (res.text || '').split('\n').filter((l) => l);
	out.appendChild(el('div', 'muted', 'Applying ' + f.name + ' will:'));
	for (const l of lines)
		out.appendChild(el('div', cls[l[0]] || '', l));
	const changes = lines.filter((l) => '-+~'.includes(l[0])).length;
	if (!changes)
		out.appendChild(el('div', 'muted', 'change nothing: the network ' +
				   'is routed as the preset says'));
	$('#preset-apply').disabled = !changes;
}

async function applyPreset() {
	$('#preset-apply').disabled = true;
	$('#preset-result').textContent = 'applying\u2026';
	const res = await post('/api/preset/apply', presetLoaded);
	$('#preset-result').textContent = (res.ok ? 'Done.\n' : 'Failed.\n') +
		(res.out || '') + (res.error || '');
}

/* ---- events ---- */

const events = [];

function eventItem(e) {
	const li = el('li');
	const t = el('time', '', new Date(e.t).toLocaleTimeString());
	li.append(t, document.createTextNode(e.text));
	li.dataset.kind = e.kind;
	return li;
}

function renderEvents() {
	const ul = $('#events');
	ul.textContent = '';
	for (const e of events)
		ul.appendChild(eventItem(e));
}

/* ---- views and the live stream ---- */

function renderView() {
	if (view === 'routing') {
		buildAxes();
		renderMatrix();
	} else if (view === 'devices') {
		renderDevices();
	} else if (view === 'clock') {
		renderClock();
	} else if (view === 'meters') {
		buildMeters();
		drawMeters();
	} else if (view === 'latency') {
		renderLatency();
	} else if (view === 'events') {
		renderEvents();
	}
}

let es = null, esMeters = null;

function connect() {
	const wantMeters = view === 'meters';
	if (es && esMeters === wantMeters)
		return;
	if (es)
		es.close();
	esMeters = wantMeters;
	es = new EventSource('/events' + (wantMeters ? '?meters=1' : ''));
	es.onopen = () => {
		$('#conn').textContent = 'live';
		$('#conn').className = 'conn';
	};
	es.onerror = () => {
		$('#conn').textContent = 'reconnecting\u2026';
		$('#conn').className = 'conn down';
	};
	es.addEventListener('state', (e) => {
		S = JSON.parse(e.data);
		perf.stateMsgs++;
		derive();
		queueRender();
	});
	es.addEventListener('meters', (e) => {
		const m = JSON.parse(e.data);
		perf.meterMsgs++;
		if (m.seq !== perf.lastSeq)
			perf.meterSeqs++;
		perf.lastSeq = m.seq;
		perf.lags.push(Date.now() - m.t);
		for (const a of Object.keys(m.nodes))
			for (const [b, u] of Object.entries(m.nodes[a].u || {})) {
				const w = perf.windows[a + ' ' + b] ||
					(perf.windows[a + ' ' + b] = {n: 0, last: -1});
				if (u !== w.last) {
					w.n++;
					w.last = u;
				}
			}
		if (perf.lags.length > 2000)
			perf.lags.splice(0, 1000);
		metersLatest = m;
		if (view === 'meters')
			requestAnimationFrame(drawMeters);
	});
	es.addEventListener('clockhistory', (e) => {
		const h = JSON.parse(e.data);
		for (const a of Object.keys(h))
			clockHist[a] = h[a];
	});
	es.addEventListener('clock', (e) => {
		const c = JSON.parse(e.data);
		for (const a of Object.keys(c.nodes)) {
			const v = c.nodes[a];
			clockNow[a] = v;
			const h = clockHist[a] || (clockHist[a] = []);
			if (v[1] !== null && (!h.length || h[h.length - 1][0] !== v[0]))
				h.push([v[0], v[1]]);
			if (h.length > 300)
				h.splice(0, h.length - 240);
		}
		if (view === 'clock' || view === 'devices')
			queueRender();
	});
	es.addEventListener('stats', (e) => {
		const m = JSON.parse(e.data);
		statsNow = m.nodes;
		statsT = m.t || 0;
		if (view === 'latency' || view === 'routing') {
			derive();
			queueRender();
		}
	});
	es.addEventListener('log', (e) => {
		events.unshift(JSON.parse(e.data));
		if (events.length > 500)
			events.pop();
		if (view === 'events' || view === 'clock')
			queueRender();
	});
}

function showView() {
	const v = (location.hash || '#routing').slice(1);
	view = document.getElementById('v-' + v) ? v : 'routing';
	for (const s of document.querySelectorAll('.view'))
		s.hidden = s.id !== 'v-' + view;
	for (const a of document.querySelectorAll('.top nav a'))
		if (a.id === 't-' + view)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	connect();
	renderView();
}

/* ---- start: draw the matrix from the state the page came with ---- */

derive();
$('#filter').addEventListener('input', () => {
	buildAxes();
	renderMatrix();
});
$('#expand-all').onclick = () => setAll(false);
$('#collapse-all').onclick = () => setAll(true);
$('.mx-body').addEventListener('scroll', () => renderMatrix(), {passive: true});
$('.mx-body').addEventListener('keydown', onGridKey);
$('.mx-canvas').addEventListener('click', (e) => {
	const box = $('.mx-canvas').getBoundingClientRect(), C = CELL();
	const r = Math.floor((e.clientY - box.top) / C);
	const c = Math.floor((e.clientX - box.left) / C);
	if (r < 0 || c < 0 || r >= rows.length || c >= cols.length)
		return;
	moveTo(r, c);
	activate(r, c);
});
$('#preset-file').addEventListener('change', onPresetFile);
$('#preset-apply').onclick = applyPreset;
window.addEventListener('hashchange', showView);
window.addEventListener('resize', () => queueRender());
showView();
