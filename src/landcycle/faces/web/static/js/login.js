/* Sign-in page: POST /api/auth/login, then go where the visitor was heading (same site only). */
import { $, api, renderShell, say } from './common.js';

/** Only paths on this site are followed after sign-in (no open redirect). */
function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/work';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/work';
}

renderShell({ active: '' });

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const password = form.password.value;
  const message = $('login-message');
  if (!username || !password) {
    say(message, '请输入账号和密码', 'error');
    return;
  }
  $('login-submit').disabled = true;
  say(message, '');
  try {
    await api('/api/auth/login', { method: 'POST', body: { username, password } });
    location.assign(nextPath());
  } catch (err) {
    say(message, err.message, 'error');
    form.password.value = '';
    form.password.focus();
  } finally {
    $('login-submit').disabled = false;
  }
});
