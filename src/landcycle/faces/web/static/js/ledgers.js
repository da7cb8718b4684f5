import { renderShell } from './common.js';

renderShell({ active: 'ledgers', requireLogin: true });
