// The ops dashboard: asks for the admin token, keeps it in this tab (sessionStorage), sends it
// as a bearer token, and redraws from GET /api/admin/overview every few seconds. Everything
// from the server is written with textContent: nothing it returns is ever parsed as HTML.
'use strict';

(function () {
  const REFRESH_MS = 5000;
  const STORAGE_TOKEN = 'papanoel-admin-token';
  const STALE_HEARTBEAT_SECONDS = 120;

  let token = '';
  let timer = 0;

  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function when(seconds) {
    if (!seconds) return '—';
    return new Date(seconds * 1000).toLocaleString();
  }

  function ago(seconds) {
    if (!seconds) return '—';
    const delta = Math.max(0, Date.now() / 1000 - seconds);
    if (delta < 90) return Math.round(delta) + ' s ago';
    if (delta < 5400) return Math.round(delta / 60) + ' min ago';
    return Math.round(delta / 3600) + ' h ago';
  }

  function stateBadge(state) {
    return el('span', state, 'state state-' + state);
  }

  function fillTable(id, rows, empty) {
    const body = $(id).querySelector('tbody');
    body.replaceChildren();
    if (!rows.length) {
      const tr = el('tr');
      const td = el('td', empty);
      td.colSpan = $(id).querySelectorAll('thead th').length;
      tr.append(td);
      body.append(tr);
      return;
    }
    rows.forEach((cells) => {
      const tr = el('tr');
      cells.forEach((cell) => {
        const td = el('td');
        if (cell instanceof Node) td.append(cell);
        else td.textContent = cell === null || cell === undefined ? '' : String(cell);
        tr.append(td);
      });
      body.append(tr);
    });
  }

  function showLogin(message) {
    window.clearTimeout(timer);
    $('dashboard').hidden = true;
    $('logout').hidden = true;
    $('login-view').hidden = false;
    const box = $('login-error');
    box.textContent = message || '';
    box.hidden = !message;
    $('token').focus();
  }

  async function api(path, options) {
    const response = await fetch(path, {
      ...(options || {}),
      headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
      cache: 'no-store',
    });
    if (response.status === 401 || response.status === 403 || response.status === 503) {
      token = '';
      try { sessionStorage.removeItem(STORAGE_TOKEN); } catch (e) { /* nothing kept */ }
      const body = await response.json().catch(() => ({}));
      const error = body.errors && body.errors[0];
      showLogin(error ? error.message.en : 'Not authorized.');
      throw new Error('unauthorized');
    }
    return response;
  }

  async function refresh() {
    window.clearTimeout(timer);
    try {
      const response = await api('/api/admin/overview');
      if (!response.ok) throw new Error('HTTP ' + response.status);
      render(await response.json());
      $('refresh-status').textContent = 'Updated ' + new Date().toLocaleTimeString() + ' · refreshes every 5 s';
    } catch (e) {
      if (e.message === 'unauthorized') return;
      $('refresh-status').textContent = 'Could not refresh (' + e.message + '); retrying…';
    }
    timer = window.setTimeout(refresh, REFRESH_MS);
  }

  function render(data) {
    $('embedded-note').hidden = !data.embedded;
    const tiles = [
      ['Queued', data.jobs_by_state.queued],
      ['Processing', data.jobs_by_state.processing],
      ['Completed', data.jobs_by_state.completed],
      ['Failed', data.jobs_by_state.failed],
      ['Waiting in queue', data.queue.queued],
      ['Retries scheduled', data.queue.scheduled],
      ['Dead-letter queue', data.queue.dead_letter],
      ['Workers', data.workers.length],
    ];
    const counts = $('counts');
    counts.replaceChildren();
    tiles.forEach(([label, value]) => {
      const box = el('div');
      box.append(el('dt', label), el('dd', value === undefined ? 0 : value));
      counts.append(box);
    });

    fillTable('stages', data.stages.map((s) => [s.stage, s.count, s.mean_seconds.toFixed(2) + ' s']),
      'No stage has run yet.');

    fillTable('workers', data.workers.map((w) => {
      const beat = el('span', ago(w.last_heartbeat));
      if (w.last_heartbeat && Date.now() / 1000 - w.last_heartbeat > STALE_HEARTBEAT_SECONDS) beat.className = 'stale';
      return [el('code', w.name), w.state, beat, w.current_job ? el('code', w.current_job) : '—',
        w.successful_jobs + ' / ' + w.failed_jobs, w.hostname + ' · ' + w.pid];
    }), 'No worker is alive.');

    fillTable('dlq', data.dead_letter.map((d) => {
      const button = el('button', 'Retry', 'button secondary small');
      button.type = 'button';
      button.setAttribute('aria-label', 'Retry video ' + d.video_id);
      button.addEventListener('click', () => retry(d.video_id, button));
      return [el('code', d.video_id), when(d.failed_at), d.attempts,
        (d.stage || '—') + ' · ' + (d.error_type || '') + ': ' + d.message, button];
    }), 'Empty: nothing is waiting for an admin.');

    fillTable('recent', data.recent.map((job) => {
      const details = el('details');
      details.append(el('summary', job.timeline.length + ' events'));
      const list = el('ol');
      job.timeline.forEach((event) => list.append(el('li', new Date(event.at * 1000).toLocaleTimeString() + ' ' + event.event)));
      details.append(list);
      return [el('code', job.video_id), stateBadge(job.state), job.stage || '—', job.strategy || '—',
        when(job.created_at), details];
    }), 'No jobs yet.');
  }

  async function retry(videoId, button) {
    button.disabled = true;
    try {
      const response = await api('/api/admin/dlq/' + encodeURIComponent(videoId) + '/retry', { method: 'POST' });
      $('dlq-message').textContent = response.ok
        ? 'Video ' + videoId + ' is back in the queue.'
        : 'Could not retry ' + videoId + ' (HTTP ' + response.status + ').';
    } catch (e) {
      if (e.message !== 'unauthorized') $('dlq-message').textContent = 'Could not retry ' + videoId + '.';
    }
    refresh();
  }

  function open() {
    $('login-view').hidden = true;
    $('dashboard').hidden = false;
    $('logout').hidden = false;
    $('main').focus();
    refresh();
  }

  function init() {
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      token = $('token').value.trim();
      if (!token) return showLogin('Enter the admin token.');
      try { sessionStorage.setItem(STORAGE_TOKEN, token); } catch (e) { /* this page only */ }
      $('token').value = '';
      open();
    });
    $('logout').addEventListener('click', () => {
      token = '';
      try { sessionStorage.removeItem(STORAGE_TOKEN); } catch (e) { /* nothing kept */ }
      showLogin('');
    });
    try { token = sessionStorage.getItem(STORAGE_TOKEN) || ''; } catch (e) { token = ''; }
    if (token) open();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
