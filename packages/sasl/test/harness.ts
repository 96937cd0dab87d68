import type { ChannelBindingType } from '@postwire/core';
import type { SaslClient, SaslServer, SaslServerOutcome } from '../src/index.js';

/** The connection both sides see in a test. */
export interface TestConnection {
  secure?: boolean;
  /** The server's channel-binding data. */
  serverBinding?: (type: ChannelBindingType) => Uint8Array | undefined;
  /** The client's channel-binding data (defaults to the server's: same TLS session). */
  clientBinding?: (type: ChannelBindingType) => Uint8Array | undefined;
  externalIdentity?: string;
  /** The protocol can send an initial response (default true). */
  initialResponse?: boolean;
  /** The protocol carries additional data with success (default false). */
  successData?: boolean;
  /** What the server advertises; defaults to `server.mechanisms(context)`. */
  offered?: string[];
}

/** What happened in one client-against-server run. */
export interface RunResult {
  mechanism: string;
  outcome: SaslServerOutcome;
  /** Every protocol line: `C: AUTH mech [ir]`, `S: <challenge>`, `C: <response>`. */
  transcript: string[];
  clientError?: unknown;
  completeError?: unknown;
  serverError: string | undefined;
}

/** Drives our client against our server the way a protocol implementation would. */
export async function run(
  client: SaslClient,
  server: SaslServer,
  connection: TestConnection = {},
): Promise<RunResult> {
  const secure = connection.secure ?? true;
  const context = {
    secure,
    channelBinding: connection.serverBinding,
    externalIdentity: connection.externalIdentity,
  };
  const offered = connection.offered ?? server.mechanisms(context);
  const clientExchange = await client.start(
    offered,
    { secure, channelBinding: connection.clientBinding ?? connection.serverBinding },
    { initialResponse: connection.initialResponse ?? true },
  );
  const serverExchange = server.createExchange(context, { successData: connection.successData ?? false });
  const transcript = [
    `C: AUTH ${clientExchange.mechanism} ${clientExchange.initialResponse ?? ''}`.trimEnd(),
  ];
  let outcome = await serverExchange.start(clientExchange.mechanism, clientExchange.initialResponse);
  let clientError: unknown;
  while (outcome.type === 'challenge') {
    transcript.push(`S: ${outcome.text}`);
    let line: string;
    try {
      line = await clientExchange.respond(outcome.text);
    } catch (error) {
      clientError = error;
      line = '*';
    }
    transcript.push(`C: ${line}`);
    outcome = await serverExchange.respond(line);
  }
  let completeError: unknown;
  if (outcome.type === 'success') {
    try {
      await clientExchange.complete(outcome.additionalData);
    } catch (error) {
      completeError = error;
    }
  }
  return {
    mechanism: clientExchange.mechanism,
    outcome,
    transcript,
    clientError,
    completeError,
    serverError: clientExchange.serverError,
  };
}

/** Fake channel-binding data for one TLS session. */
export function fakeBinding(seed: number): (type: ChannelBindingType) => Uint8Array | undefined {
  return (type) => (type === 'tls-exporter' ? new Uint8Array(32).fill(seed) : undefined);
}

/** Base64 of a UTF-8 string (tests only). */
export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** UTF-8 string of base64 (tests only). */
export function unb64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}
