// The client scenario on Deno, through @postwire/core/deno: `deno run --allow-net --allow-read deno.mjs <settings.json>`.
import { connect } from '@postwire/core/deno';
import { runClientScenario } from './client-scenario.mjs';

const settings = JSON.parse(await Deno.readTextFile(Deno.args[0]));
console.log(
  JSON.stringify({ passed: await runClientScenario({ ...settings, connector: connect, runtime: 'deno' }) }),
);
