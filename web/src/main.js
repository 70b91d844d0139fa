import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router.js';
import './styles.css';
import './lib/prefs.js';
import './i18n/index.js';
import './lib/a11y.js';

createApp(App).use(router).mount('#app');
