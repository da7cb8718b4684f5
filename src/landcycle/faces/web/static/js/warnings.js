import { renderShell } from './common.js';

renderShell({ active: 'warnings', requireLogin: true });
