#!/usr/bin/env node
/**
 * Writes templates/trainer/spec.schema.json from the TrainerSpec zod schema (built dist/).
 * test/trainer/spec-schema.test.ts fails when the file is stale.
 *
 *   npm run schemas
 */
import {writeFileSync} from 'node:fs';

const {trainerSpecJsonSchema} = await import(new URL('../dist/lib/domain/trainer-spec.js', import.meta.url).href);
writeFileSync(new URL('../templates/trainer/spec.schema.json', import.meta.url), JSON.stringify(trainerSpecJsonSchema(), null, 2) + '\n');
process.stdout.write('wrote templates/trainer/spec.schema.json\n');
