import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // VMs start worker threads of their own: two test files at a time on a 2-core machine
    maxWorkers: 2,
  },
});
