import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const KAFKA_CLIENT = { group: ['@platformatic/kafka', '@platformatic/kafka/*'], message: 'The Kafka client is imported only under src/kafka/.' };
const EXPRESS = { group: ['express', 'express/*'], message: 'express is imported only under src/http/ and in src/app.ts.' };

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'kafka/.cache/', 'public/vendor/', 'test-output/', '.venv-*/', '.schemathesis/', '.ci/'] },
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
  // Layering: the Kafka client only under src/kafka/, express only in the HTTP edge (src/http/) and src/app.ts.
  // test/, bench/ and kafka/ may use both (their helpers and baselines do).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/kafka/**', 'src/http/**', 'src/app.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [KAFKA_CLIENT, EXPRESS] }],
    },
  },
  {
    files: ['src/http/**/*.ts', 'src/app.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [KAFKA_CLIENT] }],
    },
  },
  {
    files: ['src/kafka/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [EXPRESS] }],
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
