// The client scenario on Bun, through @postwire/core/bun: `bun bun.mjs <settings.json>`.

import { connect } from '@postwire/core/bun';
import { connect as picked } from '@postwire/core/connect';
import { runClientScenario } from './client-scenario.mjs';

const settings = await Bun.file(process.argv[2]).json();
const passed = await runClientScenario({ ...settings, connector: connect, runtime: 'bun' });
// @postwire/core/connect resolves, by export condition, to this runtime's adapter.
console.log(JSON.stringify({ passed, conditionPicksAdapter: picked === connect }));
