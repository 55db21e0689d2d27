// Messages held for review: list them, approve or reject each. The token is the dashboard's
// (sessionStorage); everything from the server is written with textContent, never as HTML.
'use strict';

(function () {
  const STORAGE_TOKEN = 'papanoel-admin-token';
  let token = sessionStorage.getItem(STORAGE_TOKEN) || '';
  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  async function call(method, path, body) {
    const options = { method, headers: { Authorization: 'Bearer ' + token } };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(path, options);
  }

  async function decide(id, action) {
    let body;
    if (action === 'reject') {
      const reason = window.prompt('Reason shown to the parent (optional):', '');
      if (reason === null) return;
      body = { reason };
    }
    const response = await call('POST', '/api/admin/review/' + encodeURIComponent(id) + '/' + action, body);
    $('review-status').textContent = response.ok ? id + ': ' + action + 'd' : id + ': ' + response.status;
    load();
  }

  async function load() {
    const response = await call('GET', '/api/admin/review');
    if (response.status === 401 || response.status === 403) {
      $('login-view').hidden = false;
      $('review-view').hidden = true;
      $('login-error').textContent = 'The admin token is not correct.';
      $('login-error').hidden = false;
      return;
    }
    const held = await response.json();
    $('login-view').hidden = true;
    $('review-view').hidden = false;
    const list = $('held');
    list.replaceChildren();
    if (!held.length) $('review-status').textContent = 'Nothing waiting for review.';
    for (const order of held) {
      const item = el('li', null, 'held');
      item.append(el('p', order.id + ' · ' + order.language + ' · age ' + order.age + ' · ' + order.flags.join(', ')));
      item.append(el('blockquote', order.message));
      const approve = el('button', 'Approve', 'button primary');
      approve.type = 'button';
      approve.addEventListener('click', () => decide(order.id, 'approve'));
      const reject = el('button', 'Reject', 'button');
      reject.type = 'button';
      reject.addEventListener('click', () => decide(order.id, 'reject'));
      item.append(approve, reject);
      list.append(item);
    }
  }

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    token = $('token').value;
    sessionStorage.setItem(STORAGE_TOKEN, token);
    load();
  });
  if (token) load();
})();
