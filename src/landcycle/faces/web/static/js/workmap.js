import { renderShell } from './common.js';

renderShell({ active: 'map', requireLogin: true });
