import { renderShell } from './common.js';

renderShell({ active: 'dashboard', requireLogin: true });
