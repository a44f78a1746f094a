import {defineConfig} from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start processes (Python, sshd, Slurm): keep files in parallel but bounded
    // for a 2-core machine.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
