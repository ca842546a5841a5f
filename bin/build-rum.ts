#!/usr/bin/env node
/** Builds the browser script the beacon serves (part of `npm run build`): beacon/rum-build.ts. */
import { buildRumFile } from '../beacon/rum-build.js';

const { file, bytes } = buildRumFile();
console.log(`rum.js: ${file} (${bytes} bytes)`);
