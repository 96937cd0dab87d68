// The throughput figures on Node: `node node.mjs <settings.json>`.
import { readFile } from 'node:fs/promises';
import { connect } from '@postwire/core/node';
import { measureThroughput } from './throughput.mjs';

const settings = JSON.parse(await readFile(process.argv[2], 'utf8'));
console.log(JSON.stringify(await measureThroughput({ ...settings, connector: connect })));
