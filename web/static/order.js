// The lasting order page (/v/<token>): progress while the video is made, then the player, the
// download and "delete this video now". Everything it says about what happens is true of the
// server: the retention period comes from the page (RETENTION_DAYS), deletion is immediate.
// Texts are set with textContent only.
'use strict';

(function () {
  const POLL_MS = 1500;
  const STORAGE_LANG = 'papanoel-lang';
  const MESSAGES = {
    es: {
      brand: 'Papá Noel',
      title: 'El vídeo de Papá Noel para {name}',
      title_plain: 'Tu vídeo de Papá Noel',
      queued: 'En la cola de Papá Noel…',
      processing: 'Papá Noel está preparando el vídeo…',
      retrying: 'Está tardando un poco más de lo normal: seguimos con ello.',
      review: 'Estamos revisando tu mensaje antes de que Papá Noel lo lea. Te lo contaremos aquí.',
      rejected: 'No podemos hacer este vídeo con ese mensaje: {reason}',
      completed: 'Dale al play, o descárgalo para guardarlo.',
      failed: 'No hemos podido crear el vídeo. Nuestro equipo revisará el pedido: si consigue crearlo, te enviaremos un correo con el enlace.',
      download: 'Descargar el vídeo',
      available: 'Disponible hasta el {date}. Ese día lo borramos, con todos los datos del pedido.',
      delete: 'Borrar este vídeo ahora',
      confirm: 'Se borrarán el vídeo y todos los datos del pedido, para siempre. No se puede deshacer.',
      confirm_delete: 'Sí, borrarlo ahora',
      cancel: 'No, mantenerlo',
      deleted: 'Este vídeo y los datos de su pedido se borraron el {date}.',
      lost: 'No encontramos este pedido. Revisa el enlace del correo.',
      network: 'No hay conexión con el servidor; lo seguimos intentando…',
      new_order: 'Pedir otro vídeo',
      footer: 'Borramos cada vídeo y los datos de su pedido {days} días después de entregarlo, o antes si lo pides.',
      toggle: 'English',
    },
    en: {
      brand: 'Santa Claus',
      title: "Santa's video for {name}",
      title_plain: 'Your video from Santa',
      queued: "Waiting in Santa's queue…",
      processing: 'Santa is making the video…',
      retrying: "It's taking a little longer than usual: we're still on it.",
      review: 'We are checking your message before Santa reads it. We will tell you here.',
      rejected: "We can't make this video with that message: {reason}",
      completed: 'Press play, or download it to keep it.',
      failed: "We couldn't make the video. Our team will look at the order: if they can make it, we'll e-mail you the link.",
      download: 'Download the video',
      available: 'Available until {date}. On that day we delete it, with all the details of the order.',
      delete: 'Delete this video now',
      confirm: 'The video and every detail of the order will be deleted for good. This cannot be undone.',
      confirm_delete: 'Yes, delete it now',
      cancel: 'No, keep it',
      deleted: 'This video and the details of its order were deleted on {date}.',
      lost: "We couldn't find this order. Check the link in the e-mail.",
      network: "Can't reach the server; still trying…",
      new_order: 'Order another video',
      footer: 'We delete every video and the details of its order {days} days after delivering it, or sooner if you ask.',
      toggle: 'Español',
    },
  };

  const $ = (id) => document.getElementById(id);
  const token = window.location.pathname.split('/')[2] || '';
  let lang = 'es';
  let last = null;
  let shownProgress = 0;
  let timer = 0;

  const t = (key) => MESSAGES[lang][key] || MESSAGES.es[key] || key;

  function date(seconds) {
    return new Date(seconds * 1000).toLocaleDateString(lang === 'en' ? 'en-GB' : 'es-ES',
      { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  }

  function applyLanguage(next) {
    lang = next === 'en' ? 'en' : 'es';
    document.documentElement.lang = lang;
    $('lang-toggle').textContent = t('toggle');
    $('lang-toggle').setAttribute('lang', lang === 'es' ? 'en' : 'es');
    document.querySelector('[data-i18n="brand"]').textContent = t('brand');
    $('download').textContent = t('download');
    $('delete').textContent = t('delete');
    $('confirm-text').textContent = t('confirm');
    $('confirm-delete').textContent = t('confirm_delete');
    $('cancel-delete').textContent = t('cancel');
    $('new-order').textContent = t('new_order');
    $('footer').textContent = t('footer').replace('{days}', document.body.dataset.retentionDays);
    if (last) render(last);
  }

  function setText(id, value) {
    if ($(id).textContent !== value) $(id).textContent = value; // aria-live: only what changed
  }

  function render(status) {
    last = status;
    const name = status.child_first_name;
    document.title = name ? t('title').replace('{name}', name) : t('title_plain');
    $('title').textContent = document.title;
    if (status.state === 'deleted') {
      $('progress-box').hidden = true;
      $('result').hidden = true;
      $('delete-box').hidden = true;
      $('failure').hidden = true;
      const player = $('player');
      player.pause();
      player.removeAttribute('src');
      setText('status', t('deleted').replace('{date}', date(status.deleted_at)));
      return;
    }
    if (status.state === 'lost') {
      $('progress-box').hidden = true;
      setText('status', t('lost'));
      return;
    }
    // Never backwards, whatever a retry reports.
    shownProgress = Math.max(shownProgress, Number(status.progress) || 0);
    $('progress-bar').value = shownProgress;
    $('progress-percent').textContent = shownProgress + ' %';
    $('delete-box').hidden = false;
    if (status.state === 'completed') {
      $('progress-box').hidden = true;
      setText('status', t('completed'));
      const player = $('player');
      if (player.getAttribute('src') !== status.video_url) {
        player.setAttribute('src', status.video_url);
        player.load();
      }
      $('download').href = status.download_url;
      $('download').setAttribute('download', status.download_filename);
      $('available').textContent = t('available').replace('{date}', date(status.available_until));
      $('result').hidden = false;
    } else if (status.state === 'failed') {
      $('progress-box').hidden = true;
      setText('status', '');
      $('failure-text').textContent = status.rejected_reason ? t('rejected').replace('{reason}', status.rejected_reason) : t('failed');
      $('failure').hidden = false;
    } else {
      const waiting = status.state === 'review' ? 'review' : status.state === 'processing' ? 'processing' : 'queued';
      setText('status', status.retrying ? t('retrying') : t(waiting));
    }
  }

  async function poll() {
    window.clearTimeout(timer);
    let delay = POLL_MS;
    try {
      const response = await fetch('/api/orders/' + encodeURIComponent(token), { cache: 'no-store' });
      if (response.status === 404) return render({ state: 'lost' });
      if (response.ok || response.status === 410) {
        const status = await response.json();
        render(status);
        if (status.state === 'completed' || status.state === 'failed' || status.state === 'deleted') return;
      } else {
        delay = POLL_MS * 3;
      }
    } catch (e) {
      setText('status', t('network'));
      delay = POLL_MS * 3;
    }
    timer = window.setTimeout(poll, delay);
  }

  async function deleteNow() {
    $('confirm-delete').disabled = true;
    try {
      const response = await fetch('/api/orders/' + encodeURIComponent(token) + '/delete', { method: 'POST' });
      if (response.ok) {
        const body = await response.json();
        render({ state: 'deleted', deleted_at: body.deleted_at, child_first_name: '' });
        $('title').focus();
      }
    } finally {
      $('confirm-delete').disabled = false;
      $('confirm-box').hidden = true;
    }
  }

  function init() {
    let saved = null;
    try { saved = localStorage.getItem(STORAGE_LANG); } catch (e) { saved = null; }
    // No choice stored: the language the server picked from Accept-Language.
    applyLanguage(saved || document.documentElement.lang);
    $('lang-toggle').addEventListener('click', () => {
      applyLanguage(lang === 'es' ? 'en' : 'es');
      try { localStorage.setItem(STORAGE_LANG, lang); } catch (e) { /* not remembered */ }
    });
    $('delete').addEventListener('click', () => { $('confirm-box').hidden = false; $('confirm-delete').focus(); });
    $('cancel-delete').addEventListener('click', () => { $('confirm-box').hidden = true; $('delete').focus(); });
    $('confirm-delete').addEventListener('click', deleteNow);
    const deletedAt = document.body.dataset.deletedAt;
    if (deletedAt) return render({ state: 'deleted', deleted_at: Number(deletedAt), child_first_name: '' });
    if (document.body.dataset.known !== '1') return render({ state: 'lost' });
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
