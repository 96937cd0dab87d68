// The client scenario on Node, through @postwire/core/node: `node node.mjs <settings.json>`.
import { readFile } from 'node:fs/promises';
import { connect as picked } from '@postwire/core/connect';
import { connect } from '@postwire/core/node';
import { runClientScenario } from './client-scenario.mjs';

const settings = JSON.parse(await readFile(process.argv[2], 'utf8'));
const passed = await runClientScenario({ ...settings, connector: connect, runtime: 'node' });
// @postwire/core/connect resolves, by export condition, to this runtime's adapter.
console.log(JSON.stringify({ passed, conditionPicksAdapter: picked === connect }));
