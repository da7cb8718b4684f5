import { renderShell } from './common.js';

renderShell({ active: 'import', requireLogin: true });
