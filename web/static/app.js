// The landing page: order form with the order model's rules checked here too (in both
// languages), then a progress view that polls the status until the video plays.
// No framework, no build step; every text lives in MESSAGES.
'use strict';

(function () {
  const NAME_MAX = 40;
  const MESSAGE_MAX = 300;
  const POLL_MS = 1500;
  const STORAGE_LANG = 'papanoel-lang';
  const STORAGE_ORDER = 'papanoel-order';

  const MESSAGES = {
    es: {
      skip: 'Saltar al contenido',
      brand: 'Papá Noel',
      title: 'Un vídeo de Papá Noel, solo para tu peque',
      lead: 'Papá Noel dirá su nombre y tu mensaje. Lo tendrás listo en unos minutos.',
      name_label: 'Nombre del niño o la niña',
      name_hint: 'Tal como quieres que lo diga Papá Noel.',
      age_label: 'Edad',
      age_hint: 'De 1 a 17 años.',
      message_label: 'Tu mensaje (opcional)',
      message_hint: 'Papá Noel lo leerá en voz alta.',
      email_label: 'Tu correo electrónico',
      email_hint: 'Te enviaremos el enlace al vídeo cuando esté listo, o un aviso si algo sale mal.',
      language_label: 'Idioma del vídeo',
      pronunciation_label: 'Cómo suena (opcional)',
      pronunciation_hint: 'Si Papá Noel lo dice mal, escríbelo como suena (p. ej. «Chabi» para Xavi). Se escribirá tal como lo pusiste arriba.',
      listen: 'Escuchar',
      listening: 'Papá Noel está diciendo el nombre…',
      listen_failed: 'Ahora no podemos reproducir el saludo.',
      gender_label: 'Papá Noel le habla como a',
      gender_neutral: 'Sin género (neutro)',
      gender_girl: 'Una niña',
      gender_boy: 'Un niño',
      formats_label: 'Formatos del vídeo',
      format_vertical: 'Vertical 9:16 (móvil)',
      format_square: 'Cuadrado 1:1',
      format_landscape: 'Horizontal 16:9 (tele)',
      formats_required: 'Elige al menos un formato.',
      download_format: 'Descargar {f}',
      subtitles_download: 'Descargar los subtítulos',
      subtitles_label: 'Español',
      consent_label: 'Soy su madre, padre o tutor y acepto que se cree este vídeo con su nombre.',
      submit: 'Pedir mi vídeo',
      sending: 'Enviando…',
      progress_title: 'Papá Noel está preparando tu vídeo',
      done_title: '¡Tu vídeo de Papá Noel está listo!',
      failed_title: 'Vaya, algo ha salido mal',
      download: 'Descargar el vídeo',
      new_order: 'Pedir otro vídeo',
      footer: 'Hecho con cariño en el Polo Norte. Tus datos solo se usan para crear y entregar este vídeo; lo borramos, con ellos, {days} días después de entregarlo, o antes si lo pides.',
      toggle: 'English',
      toggle_lang: 'en',
      // Field rules, as in orders/model.py.
      name_required: 'Escribe el nombre del niño o la niña.',
      name_long: 'El nombre puede tener como máximo ' + NAME_MAX + ' caracteres.',
      name_start: 'El nombre debe empezar por una letra.',
      name_chars: 'El nombre solo puede tener letras, espacios, guiones y apóstrofos.',
      age_required: 'Indica la edad.',
      age_whole: 'La edad debe ser un número entero de años.',
      age_range: 'La edad debe estar entre 1 y 17 años.',
      message_long: 'El mensaje puede tener como máximo ' + MESSAGE_MAX + ' caracteres.',
      markup: 'Escribe solo texto, sin < > ni códigos.',
      control: 'Contiene un carácter no permitido.',
      email_required: 'Indica tu correo electrónico.',
      email_invalid: 'El correo electrónico no es válido.',
      consent_required: 'Necesitamos tu consentimiento para crear el vídeo.',
      fix_fields: 'Revisa los campos marcados.',
      network: 'No hay conexión con el servidor. Comprueba tu conexión e inténtalo de nuevo.',
      server: 'Algo ha fallado por nuestra parte. Inténtalo de nuevo más tarde.',
      rate_limited: 'Has hecho demasiados pedidos seguidos. Inténtalo de nuevo dentro de {m} minutos.',
      rate_limited_one: 'Has hecho demasiados pedidos seguidos. Inténtalo de nuevo dentro de un minuto.',
      review: 'Estamos revisando tu mensaje antes de que Papá Noel lo lea. Sigue esta página: te lo contaremos aquí.',
      // Progress, by state and stage.
      queued: 'En la cola de Papá Noel…',
      retrying: 'Un pequeño contratiempo: lo estamos intentando de nuevo…',
      script: 'Escribiendo las palabras de Papá Noel…',
      audio: 'Papá Noel está grabando su voz…',
      lipsync: 'Grabando a Papá Noel…',
      video: 'Grabando a Papá Noel…',
      compose: 'Montando el vídeo…',
      store: 'Envolviendo el regalo…',
      processing: 'Preparando el vídeo…',
      completed: 'Dale al play, o descárgalo para guardarlo.',
      page_link: 'Esta es la página de tu pedido; cuando el vídeo esté listo, te la enviaremos también por correo:',
      failed: 'No pudimos crear el vídeo.',
      lost: 'No encontramos este pedido.',
    },
    en: {
      skip: 'Skip to content',
      brand: 'Santa Claus',
      title: 'A video from Santa, just for your little one',
      lead: "Santa will say their name and read your message. It's ready in a few minutes.",
      name_label: "Child's name",
      name_hint: 'Exactly as Santa should say it.',
      age_label: 'Age',
      age_hint: 'From 1 to 17.',
      message_label: 'Your message (optional)',
      message_hint: 'Santa will read it aloud.',
      email_label: 'Your email',
      email_hint: "We'll e-mail you the link to the video when it's ready, or tell you if something goes wrong.",
      language_label: 'Language of the video',
      pronunciation_label: 'How it sounds (optional)',
      pronunciation_hint: 'If Santa says it wrong, spell it as it sounds (e.g. "Shavee" for Xavi). It is written as you typed it above.',
      listen: 'Listen',
      listening: 'Santa is saying the name…',
      listen_failed: "We can't play the greeting right now.",
      gender_label: 'Santa speaks to them as',
      gender_neutral: 'No gender (neutral)',
      gender_girl: 'A girl',
      gender_boy: 'A boy',
      formats_label: 'Video formats',
      format_vertical: 'Vertical 9:16 (phone)',
      format_square: 'Square 1:1',
      format_landscape: 'Landscape 16:9 (TV)',
      formats_required: 'Choose at least one format.',
      download_format: 'Download {f}',
      subtitles_download: 'Download the subtitles',
      subtitles_label: 'English',
      consent_label: "I am the child's parent or guardian and I agree to this video being made with their name.",
      submit: 'Order my video',
      sending: 'Sending…',
      progress_title: 'Santa is making your video',
      done_title: 'Your video from Santa is ready!',
      failed_title: 'Oh no, something went wrong',
      download: 'Download the video',
      new_order: 'Order another video',
      footer: 'Made with love at the North Pole. Your details are only used to make and deliver this video; we delete it, with them, {days} days after delivering it, or sooner if you ask.',
      toggle: 'Español',
      toggle_lang: 'es',
      name_required: "Please enter the child's name.",
      name_long: 'The name can be at most ' + NAME_MAX + ' characters long.',
      name_start: 'The name must start with a letter.',
      name_chars: 'The name may contain only letters, spaces, hyphens and apostrophes.',
      age_required: "Please enter the child's age.",
      age_whole: 'Age must be a whole number of years.',
      age_range: 'Age must be between 1 and 17.',
      message_long: 'The message can be at most ' + MESSAGE_MAX + ' characters long.',
      markup: 'Plain text only, without < > or codes.',
      control: 'Contains a character that is not allowed.',
      email_required: 'Please enter your email address.',
      email_invalid: 'Please enter a valid email address.',
      consent_required: 'We need your consent to make the video.',
      fix_fields: 'Please check the highlighted fields.',
      network: "Can't reach the server. Check your connection and try again.",
      server: 'Something went wrong on our side. Please try again later.',
      rate_limited: 'Too many orders in a row. Please try again in {m} minutes.',
      rate_limited_one: 'Too many orders in a row. Please try again in a minute.',
      review: 'We are checking your message before Santa reads it. Keep this page open: we will tell you here.',
      queued: "Waiting in Santa's queue…",
      retrying: 'A small hiccup: trying again…',
      script: "Writing Santa's words…",
      audio: 'Santa is recording his voice…',
      lipsync: 'Filming Santa…',
      video: 'Filming Santa…',
      compose: 'Putting the video together…',
      store: 'Wrapping the present…',
      processing: 'Making the video…',
      completed: 'Press play, or download it to keep it.',
      page_link: "This is your order page; when the video is ready, we'll e-mail it to you too:",
      failed: "We couldn't make the video.",
      lost: "We couldn't find this order.",
    },
  };

  const FIELDS = ['child_name', 'name_pronunciation', 'age', 'message', 'parent_email', 'language', 'gender',
    'consent'];
  const MARKUP = /<|>|&#?\w+;|\{\{|\}\}/;
  const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/;
  const NAME_START = /^\p{L}/u;
  const NAME_CHARS = /^[\p{L} '\-\u2019\u02bc\u2018]*$/u;
  const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  let lang = 'es';
  let languageTouched = false;
  let pending = null; // {payload, key}: the same order sent again reuses its Idempotency-Key
  let lastStatus = null;
  let lastAnnounced = '';
  let pollTimer = 0;
  let currentVideo = '';
  let lastOrderLanguage = '';

  const $ = (id) => document.getElementById(id);
  const t = (key) => (MESSAGES[lang] && MESSAGES[lang][key]) || MESSAGES.es[key] || key;

  function applyLanguage(next) {
    lang = next === 'en' ? 'en' : 'es';
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => {
      el.textContent = t(el.getAttribute('data-i18n'));
    });
    $('footer-text').textContent = t('footer').replace('{days}', document.body.dataset.retentionDays);
    const toggle = $('lang-toggle');
    toggle.textContent = t('toggle');
    toggle.setAttribute('lang', t('toggle_lang'));
    document.title = t('title');
    if (!languageTouched) $('language').value = lang;
    try { localStorage.setItem(STORAGE_LANG, lang); } catch (e) { /* private mode: not remembered */ }
    // Re-show visible errors and the progress text in the new language.
    document.querySelectorAll('.field-error:not([hidden])').forEach((el) => {
      const pair = el.dataset.messages ? JSON.parse(el.dataset.messages) : null;
      if (pair) el.textContent = pair[lang] || pair.es;
    });
    if (lastStatus) renderStatus(lastStatus, true);
  }

  // --- validation (mirrors orders/model.py) ---

  function clean(value) {
    return value.normalize('NFC').replace(/\s+/g, ' ').trim();
  }

  function fieldErrors(data) {
    const errors = {};
    const name = clean(data.child_name);
    if (!name) errors.child_name = 'name_required';
    else if (CONTROL.test(data.child_name)) errors.child_name = 'control';
    else if (MARKUP.test(name)) errors.child_name = 'markup';
    else if ([...name].length > NAME_MAX) errors.child_name = 'name_long';
    else if (!NAME_START.test(name)) errors.child_name = 'name_start';
    else if (!NAME_CHARS.test(name)) errors.child_name = 'name_chars';

    const spoken = clean(data.name_pronunciation);
    if (spoken) {
      if (CONTROL.test(data.name_pronunciation)) errors.name_pronunciation = 'control';
      else if (MARKUP.test(spoken)) errors.name_pronunciation = 'markup';
      else if ([...spoken].length > NAME_MAX) errors.name_pronunciation = 'name_long';
      else if (!NAME_START.test(spoken)) errors.name_pronunciation = 'name_start';
      else if (!NAME_CHARS.test(spoken)) errors.name_pronunciation = 'name_chars';
    }

    const age = data.age.trim();
    if (!age) errors.age = 'age_required';
    else if (!/^\d+$/.test(age)) errors.age = 'age_whole';
    else if (Number(age) < 1 || Number(age) > 17) errors.age = 'age_range';

    if (CONTROL.test(data.message.replace(/[\n\t]/g, ''))) errors.message = 'control';
    else if (MARKUP.test(data.message)) errors.message = 'markup';
    else if ([...clean(data.message)].length > MESSAGE_MAX) errors.message = 'message_long';

    const email = data.parent_email.trim();
    if (!email) errors.parent_email = 'email_required';
    else if (email.length > 254 || !EMAIL.test(email)) errors.parent_email = 'email_invalid';

    if (!data.consent) errors.consent = 'consent_required';
    if (data.formats && !data.formats.length) errors.formats = 'formats_required';
    return errors;
  }

  function formData() {
    const form = $('order-form');
    return {
      child_name: form.child_name.value,
      age: form.age.value,
      message: form.message.value,
      parent_email: form.parent_email.value,
      language: form.language.value,
      name_pronunciation: form.name_pronunciation.value,
      gender: form.gender.value,
      formats: Array.from(form.querySelectorAll('input[name="formats"]:checked'), (box) => box.value),
      consent: form.consent.checked,
    };
  }

  function showFieldError(field, pair) {
    const input = $(field);
    const box = $(field + '-error');
    if (!input || !box) return false;
    if (pair) {
      box.dataset.messages = JSON.stringify(pair);
      box.textContent = pair[lang] || pair.es;
      box.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    } else {
      delete box.dataset.messages;
      box.textContent = '';
      box.hidden = true;
      input.removeAttribute('aria-invalid');
    }
    return true;
  }

  function localPair(key) {
    return { es: MESSAGES.es[key], en: MESSAGES.en[key] };
  }

  function showFormError(message, bringIntoView) {
    const box = $('form-error');
    box.textContent = message || '';
    box.hidden = !message;
    if (message && bringIntoView) {
      box.tabIndex = -1;
      box.scrollIntoView({ block: 'center' });
      box.focus({ preventScroll: true });
    }
  }

  function validateField(field) {
    const errors = fieldErrors(formData());
    showFieldError(field, errors[field] ? localPair(errors[field]) : null);
  }

  // --- ordering ---

  function idempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function submitOrder(event) {
    event.preventDefault();
    showFormError('');
    const data = formData();
    const errors = fieldErrors(data);
    [...FIELDS, 'formats'].forEach((field) => showFieldError(field, errors[field] ? localPair(errors[field]) : null));
    const invalid = [...FIELDS, 'formats'].filter((field) => errors[field]);
    if (invalid.length) {
      showFormError(t('fix_fields'));
      $(invalid[0]).focus();
      return;
    }
    const payload = JSON.stringify({
      child_name: clean(data.child_name),
      age: Number(data.age),
      message: clean(data.message),
      parent_email: data.parent_email.trim(),
      language: data.language,
      name_pronunciation: clean(data.name_pronunciation) || null,
      gender: data.gender,
      formats: data.formats,
      consent: true,
    });
    if (!pending || pending.payload !== payload) pending = { payload: payload, key: idempotencyKey() };

    const button = $('submit');
    button.disabled = true;
    button.textContent = t('sending');
    $('order-form').setAttribute('aria-busy', 'true');
    try {
      const response = await fetch('/api/videos', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': pending.key, 'Accept-Language': lang },
        body: payload,
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 202) {
        pending = null;
        lastOrderLanguage = data.language;
        if (body.page_url) {
          $('page-link').href = body.page_url;
          $('page-link').textContent = window.location.origin + body.page_url;
          $('page-link-box').hidden = false;
        }
        startProgress(body.id);
        return;
      }
      handleRefusal(response, body);
    } catch (e) {
      showFormError(t('network'));
    } finally {
      button.disabled = false;
      button.textContent = t('submit');
      $('order-form').removeAttribute('aria-busy');
    }
  }

  function handleRefusal(response, body) {
    const errors = (body && body.errors) || [];
    if (response.status === 429) {
      const seconds = body.retry_after || Number(response.headers.get('Retry-After')) || 60;
      // Minutes, as a parent thinks of a wait; and where they are looking: at the button they pressed.
      const minutes = Math.max(1, Math.ceil(seconds / 60));
      showFormError(minutes === 1 ? t('rate_limited_one') : t('rate_limited').replace('{m}', String(minutes)), true);
      return;
    }
    let first = null;
    errors.forEach((error) => {
      if (error.field && showFieldError(error.field, error.message)) {
        first = first || error.field;
      } else if (error.message) {
        showFormError(error.message[lang] || error.message.es);
      }
    });
    if (first) {
      showFormError(t('fix_fields'));
      $(first).focus();
    } else if (!errors.length) {
      showFormError(t('server'));
    }
  }

  // --- the name preview: Santa's greeting, before ordering ---

  let previewUrl = '';

  async function listen() {
    const data = formData();
    const errors = fieldErrors(data);
    const bad = ['child_name', 'name_pronunciation'].filter((field) => errors[field]);
    ['child_name', 'name_pronunciation'].forEach((field) =>
      showFieldError(field, errors[field] ? localPair(errors[field]) : null));
    if (bad.length) {
      $(bad[0]).focus();
      return;
    }
    const button = $('listen');
    const status = $('listen-status');
    button.disabled = true;
    status.textContent = t('listening');
    try {
      const response = await fetch('/api/preview', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept-Language': lang },
        body: JSON.stringify({
          child_name: clean(data.child_name),
          name_pronunciation: clean(data.name_pronunciation) || null,
          language: data.language,
          gender: data.gender,
        }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        status.textContent = '';
        if (response.status === 429 || response.status >= 500) {
          const first = body.errors && body.errors[0] && body.errors[0].message;
          status.textContent = first ? first[lang] || first.es : t('listen_failed');
        } else {
          handleRefusal(response, body);
        }
        return;
      }
      const audio = await response.blob();
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(audio);
      const player = $('preview-player');
      player.src = previewUrl;
      await player.play();
      status.textContent = '';
    } catch (e) {
      status.textContent = t('listen_failed');
    } finally {
      button.disabled = false;
    }
  }

  // --- progress ---

  function startProgress(videoId) {
    currentVideo = videoId;
    try { sessionStorage.setItem(STORAGE_ORDER, videoId); } catch (e) { /* not remembered */ }
    $('order-view').hidden = true;
    $('progress-view').hidden = false;
    $('result').hidden = true;
    $('failure').hidden = true;
    $('new-order').hidden = true;
    lastStatus = null;
    lastAnnounced = '';
    renderStatus({ state: 'queued', stage: '', progress: 0 });
    $('progress-title').focus();
    poll();
  }

  async function poll() {
    window.clearTimeout(pollTimer);
    const videoId = currentVideo;
    let delay = POLL_MS;
    try {
      const response = await fetch('/api/videos/' + encodeURIComponent(videoId), {
        headers: { 'Accept-Language': lang },
        cache: 'no-store',
      });
      if (videoId !== currentVideo) return;
      if (response.status === 404) {
        renderStatus({ state: 'lost', stage: '', progress: 0 });
        return;
      }
      if (response.ok) {
        const status = await response.json();
        renderStatus(status);
        if (status.state === 'completed' || status.state === 'failed') return;
      } else {
        delay = POLL_MS * 3;
      }
    } catch (e) {
      delay = POLL_MS * 3; // offline for a moment: keep trying, more slowly
    }
    pollTimer = window.setTimeout(poll, delay);
  }

  function statusText(status) {
    if (status.state === 'completed') return t('completed');
    if (status.state === 'failed') return t('failed');
    if (status.state === 'lost') return t('lost');
    if (status.retrying) return t('retrying');
    if (status.state === 'processing') return MESSAGES[lang][status.stage] ? t(status.stage) : t('processing');
    if (status.state === 'review') return t('review');
    return t('queued');
  }

  function renderStatus(status, relabelOnly) {
    lastStatus = status;
    const percent = Math.max(0, Math.min(100, Number(status.progress) || 0));
    $('progress-bar').value = percent;
    $('progress-percent').textContent = percent + ' %';
    const title = $('progress-title');
    const titleKey = status.state === 'completed' ? 'done_title'
      : (status.state === 'failed' || status.state === 'lost') ? 'failed_title' : 'progress_title';
    title.setAttribute('data-i18n', titleKey);
    title.textContent = t(titleKey);
    const message = statusText(status);
    // aria-live announces on change: only touch the text when it says something new.
    if (message !== lastAnnounced) {
      $('progress-status').textContent = message;
      lastAnnounced = message;
    }
    if (status.state === 'completed' && status.download_url) {
      const player = $('player');
      if (!relabelOnly || !player.getAttribute('src')) {
        if (player.getAttribute('src') !== status.download_url) {
          player.setAttribute('src', status.download_url);
          player.load();
        }
      }
      $('download').href = status.download_url + '&download=true';
      showExtras(status);
      $('result').hidden = false;
      $('new-order').hidden = false;
    } else if (status.state === 'failed' || status.state === 'lost') {
      const error = status.error && status.error.message;
      $('failure-text').textContent = error ? error[lang] || error.es : t(status.state === 'lost' ? 'lost' : 'server');
      $('failure').hidden = false;
      $('new-order').hidden = false;
    }
  }

  function showExtras(status) {
    const player = $('player');
    if (status.poster_url && player.getAttribute('poster') !== status.poster_url) {
      player.setAttribute('poster', status.poster_url);
    }
    if (status.subtitles_url && !player.querySelector('track')) {
      const track = document.createElement('track');
      track.kind = 'subtitles';
      track.srclang = (lastOrderLanguage || lang);
      track.label = MESSAGES[track.srclang] ? MESSAGES[track.srclang].subtitles_label : track.srclang;
      track.src = status.subtitles_url;
      track.default = true;
      player.appendChild(track);
    }
    const subtitles = $('subtitles-download');
    subtitles.hidden = !status.subtitles_url;
    if (status.subtitles_url) subtitles.href = status.subtitles_url + '&download=true';
    const list = $('downloads');
    list.textContent = '';
    Object.entries(status.downloads || {}).forEach(([format, url]) => {
      if (format === '9:16' && Object.keys(status.downloads).length === 1) return; // the main button
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.className = 'button secondary';
      link.href = url + '&download=true';
      link.setAttribute('download', '');
      link.dataset.format = format;
      link.textContent = t('download_format').replace('{f}', format);
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  function newOrder() {
    window.clearTimeout(pollTimer);
    $('page-link-box').hidden = true;
    currentVideo = '';
    lastStatus = null;
    try { sessionStorage.removeItem(STORAGE_ORDER); } catch (e) { /* nothing kept */ }
    const player = $('player');
    player.pause();
    player.removeAttribute('src');
    player.removeAttribute('poster');
    player.querySelectorAll('track').forEach((track) => track.remove());
    player.load();
    $('order-form').reset();
    $('message-count').textContent = '0/' + MESSAGE_MAX;
    $('language').value = lang;
    languageTouched = false;
    $('progress-view').hidden = true;
    $('order-view').hidden = false;
    $('child_name').focus();
  }

  function init() {
    const form = $('order-form');
    form.noValidate = true; // our messages, in the page's language, instead of the browser's
    let saved = null;
    try { saved = localStorage.getItem(STORAGE_LANG); } catch (e) { saved = null; }
    // No choice stored: the language the server picked from Accept-Language.
    applyLanguage(saved || document.documentElement.lang);

    $('lang-toggle').addEventListener('click', () => applyLanguage(lang === 'es' ? 'en' : 'es'));
    $('language').addEventListener('change', () => { languageTouched = true; });
    form.addEventListener('submit', submitOrder);
    FIELDS.forEach((field) => {
      const input = $(field);
      input.addEventListener('blur', () => { if (input.hasAttribute('aria-invalid')) validateField(field); });
      input.addEventListener('change', () => { if (input.hasAttribute('aria-invalid')) validateField(field); });
    });
    $('message').addEventListener('input', () => {
      $('message-count').textContent = [...$('message').value].length + '/' + MESSAGE_MAX;
    });
    $('new-order').addEventListener('click', newOrder);
    $('listen').addEventListener('click', listen);

    let resume = null;
    try { resume = sessionStorage.getItem(STORAGE_ORDER); } catch (e) { resume = null; }
    if (resume && /^[A-Za-z0-9_-]{1,64}$/.test(resume)) startProgress(resume);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
