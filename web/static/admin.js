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
  let pageOffset = 0;
  const PAGE_SIZE = 20;
  const ACTION_LABELS = {
    retry: 'Retry', purge: 'Purge from DLQ', cancel: 'Cancel', forget: 'Forget (erase personal data)',
    approve: 'Approve message', reject: 'Reject message',
  };

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

  function jobLink(videoId) {
    const button = el('button', videoId, 'linklike');
    button.type = 'button';
    button.setAttribute('aria-label', 'Open job ' + videoId);
    button.addEventListener('click', () => showJob(videoId));
    return button;
  }

  function secs(value) {
    return value === undefined || value === null ? '—' : Number(value).toFixed(1);
  }

  async function refresh() {
    window.clearTimeout(timer);
    try {
      const response = await api('/api/admin/overview');
      if (!response.ok) throw new Error('HTTP ' + response.status);
      render(await response.json());
      await loadPage();
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

    const windows = {};
    (data.stage_windows || []).forEach((w) => { windows[w.stage] = w; });
    fillTable('stages', data.stages.map((s) => {
      const w = windows[s.stage] || {};
      return [s.stage, s.count, s.mean_seconds.toFixed(2) + ' s',
        secs(w.hour_p50) + ' / ' + secs(w.hour_p95) + ' / ' + secs(w.hour_max) + ' s',
        secs(w.day_p50) + ' / ' + secs(w.day_p95) + ' / ' + secs(w.day_max) + ' s'];
    }), 'No stage has run yet.');

    fillTable('providers', (data.providers || []).map((p) => [p.name, stateBadge(p.breaker),
      p.cooldown_until ? when(p.cooldown_until) : '—', p.calls, p.failures, '$' + Number(p.cost_usd).toFixed(2)]),
    'No provider has been called yet.');

    const c = data.counters || {};
    const intake = [
      ['Accepted', c['web:orders:accepted']], ['Moderated', c['web:orders:moderated']],
      ['Invalid', c['web:orders:invalid']], ['Rate-limited', c['web:orders:rate_limited']],
      ['Awaiting review', data.review_waiting], ['TTS characters', c['provider:espeak:characters']],
    ];
    const intakeBox = $('intake');
    intakeBox.replaceChildren();
    intake.forEach(([label, value]) => {
      const box = el('div');
      box.append(el('dt', label), el('dd', value === undefined ? 0 : value));
      intakeBox.append(box);
    });

    const alerts = $('alerts');
    alerts.replaceChildren();
    const firing = (data.alerts || []).filter((a) => a.firing);
    if (!firing.length) alerts.append(el('li', 'None firing.'));
    firing.forEach((a) => alerts.append(el('li', a.severity.toUpperCase() + ' ' + a.name + ': ' + a.summary +
      ' (value ' + (a.value === null ? 'none' : a.value) + ', threshold ' + a.threshold + ')', 'alert-firing')));

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
      return [jobLink(d.video_id), when(d.failed_at), d.attempts,
        (d.stage || '—') + ' · ' + (d.error_type || '') + ': ' + d.message, button];
    }), 'Empty: nothing is waiting for an admin.');

  }

  async function loadPage() {
    const response = await api('/api/admin/jobs?offset=' + pageOffset + '&limit=' + PAGE_SIZE);
    if (!response.ok) return;
    const page = await response.json();
    fillTable('recent', page.jobs.map((job) => [jobLink(job.video_id), stateBadge(job.state), job.stage || '—',
      job.strategy || '—', when(job.created_at), job.attempt]), 'No jobs yet.');
    const last = Math.min(page.total, pageOffset + page.jobs.length);
    $('page-info').textContent = page.total ? (pageOffset + 1) + '–' + last + ' of ' + page.total : '';
    $('page-prev').disabled = pageOffset === 0;
    $('page-next').disabled = last >= page.total;
  }

  async function search(query) {
    $('search-status').textContent = 'Searching…';
    const response = await api('/api/admin/jobs?q=' + encodeURIComponent(query));
    const body = await response.json();
    const jobs = body.jobs || [];
    $('search-status').textContent = jobs.length ? jobs.length + ' found.' : 'Nothing found for that search.';
    $('search-results').hidden = !jobs.length;
    fillTable('search-results', jobs.map((job) => [jobLink(job.video_id), stateBadge(job.state), job.stage || '—',
      when(job.created_at)]), 'Nothing found.');
    if (jobs.length === 1) showJob(jobs[0].video_id);
  }

  async function showJob(videoId) {
    const response = await api('/api/admin/jobs/' + encodeURIComponent(videoId));
    if (!response.ok) {
      $('job-message').textContent = 'Could not load job ' + videoId + ' (HTTP ' + response.status + ').';
      return;
    }
    const job = await response.json();
    $('job-panel').hidden = false;
    $('job-title').textContent = 'Job ' + job.video_id;
    const o = job.order || {};
    const facts = [
      ['State', job.state + (job.stage ? ' · ' + job.stage : '')], ['Child', o.child_name], ['Age', o.age],
      ['Language', o.language], ['Gender', o.gender || '—'], ['Message', o.message || '—'],
      ['Parent e-mail', o.parent_email], ['Created', when(job.created_at)], ['Attempts started', job.attempt],
      ['Strategy', job.strategy || '—'],
      ['Providers', Object.entries(job.providers || {}).map(([k, v]) => k + ': ' + v).join(', ') || '—'],
      ['Review', job.review || '—'], ['Deliveries', job.deliveries || '—'],
      ['In dead-letter queue', job.in_dead_letter_queue ? 'yes' : 'no'],
    ];
    const dl = $('job-order');
    dl.replaceChildren();
    facts.forEach(([label, value]) => {
      const box = el('div');
      box.append(el('dt', label), el('dd', value === undefined || value === null ? '—' : value));
      dl.append(box);
    });
    if (job.links && job.links.watch) {
      const box = el('div');
      const watch = el('a', 'Watch');
      watch.href = job.links.watch;
      watch.target = '_blank';
      watch.rel = 'noopener';
      const download = el('a', 'Download');
      download.href = job.links.download;
      const dd = el('dd');
      dd.append(watch, ' · ', download);
      box.append(el('dt', 'Video'), dd);
      dl.append(box);
    }
    const actions = $('job-actions');
    actions.replaceChildren();
    Object.entries(job.actions || {}).forEach(([name, available]) => {
      const button = el('button', ACTION_LABELS[name] || name, 'button secondary small');
      button.type = 'button';
      button.dataset.action = name;
      button.disabled = !available;
      if (!available) button.title = 'Not available for this job on this server';
      button.addEventListener('click', () => act(job.video_id, name, button));
      actions.append(button);
    });
    fillTable('job-stages', job.stages.map((s) => [s.stage, when(s.started_at), secs(s.seconds)]), 'No stage yet.');
    fillTable('job-attempts', job.attempts.map((a) => [a.attempt, (a.stage || '—') + ' · ' + (a.provider || '—'),
      (a.error_type || '') + ': ' + (a.message || ''), a.reason]), 'No failed attempt.');
    const timeline = $('job-timeline');
    timeline.replaceChildren();
    job.timeline.forEach((e) => timeline.append(el('li', new Date(e.at * 1000).toLocaleString() + ' ' + e.event)));
  }

  async function act(videoId, action, button) {
    if (!window.confirm(ACTION_LABELS[action] + ' video ' + videoId + '?')) return;
    button.disabled = true;
    const response = await api('/api/admin/jobs/' + encodeURIComponent(videoId) + '/actions/' + action,
      { method: 'POST' });
    const body = await response.json().catch(() => ({}));
    $('job-message').textContent = response.ok
      ? (ACTION_LABELS[action] + ': ' + body.outcome + '.')
      : 'Could not ' + action + ' ' + videoId + ' (HTTP ' + response.status + ').';
    await showJob(videoId);
    refresh();
  }

  async function retry(videoId, button) {
    if (!window.confirm('Retry video ' + videoId + '?')) return;
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
    $('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const query = $('search-q').value.trim();
      if (query) search(query).catch(() => { $('search-status').textContent = 'Search failed.'; });
    });
    $('page-prev').addEventListener('click', () => { pageOffset = Math.max(0, pageOffset - PAGE_SIZE); loadPage(); });
    $('page-next').addEventListener('click', () => { pageOffset += PAGE_SIZE; loadPage(); });
    $('retry-all').addEventListener('click', async () => {
      if (!window.confirm('Send every job in the dead-letter queue back to the queue?')) return;
      const response = await api('/api/admin/dlq/retry-all', { method: 'POST' });
      const body = await response.json().catch(() => ({}));
      $('dlq-message').textContent = response.ok ? (body.requeued.length + ' jobs back in the queue.') : 'Retry all failed.';
      refresh();
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
