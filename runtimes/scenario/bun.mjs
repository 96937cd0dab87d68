// The client scenario on Bun, through @postwire/core/bun: `bun bun.mjs <settings.json>`.
import { connect } from '@postwire/core/bun';
import { runClientScenario } from './client-scenario.mjs';

const settings = await Bun.file(process.argv[2]).json();
console.log(
  JSON.stringify({ passed: await runClientScenario({ ...settings, connector: connect, runtime: 'bun' }) }),
);
