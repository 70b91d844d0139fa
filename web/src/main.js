import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router.js';
import './styles.css';
import './lib/prefs.js';

createApp(App).use(router).mount('#app');
