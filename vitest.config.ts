import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real servers and share one Redis; files run in parallel forks, each with its own key prefix.
    pool: 'forks',
    fileParallelism: true,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
