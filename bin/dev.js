#!/usr/bin/env node
// Development entry: runs the TypeScript sources through tsx-free oclif development mode is not
// used here; build first (`npm run build`), then this runs the built CLI with development=true
// so that oclif ignores the manifest and picks up new commands.
import {execute} from '@oclif/core';
await execute({development: true, dir: import.meta.url});
