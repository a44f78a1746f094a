#!/usr/bin/env node
// Regenerates the docs that are derived from code (run after `npm run build`): the config reference.
import {writeFileSync} from 'node:fs';
import {configReferenceMarkdown} from '../dist/lib/config/reference.js';

writeFileSync(new URL('../docs/config-reference.md', import.meta.url), configReferenceMarkdown());
process.stdout.write('wrote docs/config-reference.md\n');
