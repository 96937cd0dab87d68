// The client scenario on Deno, through @postwire/core/deno: `deno run --allow-net --allow-read deno.mjs <settings.json>`.
import { connect as picked } from '@postwire/core/connect';
import { connect } from '@postwire/core/deno';
import { runClientScenario } from './client-scenario.mjs';

const settings = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const passed = await runClientScenario({ ...settings, connector: connect, runtime: 'deno' });
// @postwire/core/connect resolves, by export condition, to this runtime's adapter.
console.log(JSON.stringify({ passed, conditionPicksAdapter: picked === connect }));
