import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'kafka/.cache/', 'public/vendor/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    // Layering: kafkajs only under src/kafka, express only in src/routes and src/app.ts.
    files: ['src/**/*.ts'],
    ignores: ['src/kafka/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'kafkajs', message: 'kafkajs is imported only under src/kafka/.' }] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/kafka/**', 'src/routes/**', 'src/app.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'kafkajs', message: 'kafkajs is imported only under src/kafka/.' },
            { name: 'express', message: 'express is imported only under src/routes/ and src/app.ts.' },
          ],
        },
      ],
    },
  },
  {
    files: ['kafka/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', setTimeout: 'readonly' } },
  },
  {
    files: ['examples/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', fetch: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
  {
    files: ['public/**/*.js'],
    // The browser console's modules: the browser globals they use, and nothing of Node.
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window', 'document', 'Node', 'WebSocket', 'fetch', 'console', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'btoa',
          'setTimeout', 'clearTimeout', 'location', 'history', 'sessionStorage', 'requestAnimationFrame', 'cancelAnimationFrame',
          'performance', 'IntersectionObserver', 'ResizeObserver', 'Intl', 'AbortController',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
