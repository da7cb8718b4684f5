import { renderShell } from './common.js';

renderShell({ active: '', requireLogin: true });
