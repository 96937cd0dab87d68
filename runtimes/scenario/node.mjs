// The client scenario on Node, through @postwire/core/node: `node node.mjs <settings.json>`.
import { readFile } from 'node:fs/promises';
import { connect } from '@postwire/core/node';
import { runClientScenario } from './client-scenario.mjs';

const settings = JSON.parse(await readFile(process.argv[2], 'utf8'));
console.log(
  JSON.stringify({ passed: await runClientScenario({ ...settings, connector: connect, runtime: 'node' }) }),
);
