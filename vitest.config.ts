import {defineConfig} from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start processes (Python, sshd, Slurm): keep files in parallel but bounded
    // for a 2-core machine.
    maxWorkers: 2,
    // verbose: every test's name in the output, skipped ones included (a skip says why in its
    // name); json: the counts scripts/test.sh prints as its closing line.
    reporters: ['verbose', ['json', {outputFile: 'test-artifacts/vitest.json'}]],
  },
});
