// The client scenario as a Worker (workerd, Cloudflare Workers), through @postwire/core/workers: POST the
// settings as JSON, get back { passed } or { error }. Bundled by the test with esbuild for the `workerd`
// condition; the certificate authority is trusted in workerd's configuration, not per connection.
import { connect as picked } from '@postwire/core/connect';
import { connect } from '@postwire/core/workers';
import { runClientScenario } from './client-scenario.mjs';

export default {
  async fetch(request) {
    try {
      const settings = await request.json();
      const passed = await runClientScenario({
        ...settings,
        connector: connect,
        runtime: 'workerd',
        trustsCa: false,
      });
      // @postwire/core/connect resolves, by the workerd export condition, to the Workers adapter.
      return Response.json({ passed, conditionPicksAdapter: picked === connect });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
