/** A parsed GS2 header (RFC 5801 §4), shared by SCRAM and OAUTHBEARER. */
export interface Gs2Header {
  /** The header exactly as the client sent it, commas included (SCRAM binds it into `c=`). */
  readonly raw: string;
  /** `n`: no channel binding; `y`: the client could bind but thinks the server cannot; `p`: bound. */
  readonly flag: 'n' | 'y' | 'p';
  /** The channel-binding type named after `p=`. */
  readonly channelBindingType?: string;
  /** The authorization identity after `a=`, unescaped; `undefined` when absent. */
  readonly authzid?: string;
  /** The message after the header. */
  readonly rest: string;
}

const CHANNEL_BINDING_NAME = /^[A-Za-z0-9.-]+$/;

/** Parses the GS2 header at the start of `message`, or returns `undefined` when it is malformed. */
export function parseGs2Header(message: string): Gs2Header | undefined {
  const flagEnd = message.indexOf(',');
  const authzidEnd = message.indexOf(',', flagEnd + 1);
  if (flagEnd < 0 || authzidEnd < 0) return undefined;
  const flagPart = message.slice(0, flagEnd);
  const authzidPart = message.slice(flagEnd + 1, authzidEnd);
  let authzid: string | undefined;
  if (authzidPart !== '') {
    if (!authzidPart.startsWith('a=')) return undefined;
    authzid = decodeSaslName(authzidPart.slice(2));
    if (authzid === undefined || authzid === '') return undefined;
  }
  const header = { raw: message.slice(0, authzidEnd + 1), authzid, rest: message.slice(authzidEnd + 1) };
  if (flagPart === 'n' || flagPart === 'y') return { ...header, flag: flagPart };
  const channelBindingType = flagPart.slice(2);
  if (!flagPart.startsWith('p=') || !CHANNEL_BINDING_NAME.test(channelBindingType)) return undefined;
  return { ...header, flag: 'p', channelBindingType };
}

/** Builds a GS2 header: `n,,`, `y,a=name,`, `p=tls-exporter,,` and so on. */
export function formatGs2Header(flag: 'n' | 'y' | `p=${string}`, authzid: string | undefined): string {
  return `${flag},${authzid ? `a=${encodeSaslName(authzid)}` : ''},`;
}

/** Escapes `=` and `,` in a name as `=3D` and `=2C` (RFC 5802 `saslname`). */
export function encodeSaslName(name: string): string {
  return name.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

/** Reverses {@link encodeSaslName}; `undefined` for a bare `,` or an escape other than `=2C` and `=3D`. */
export function decodeSaslName(text: string): string | undefined {
  if (text.includes(',')) return undefined;
  let invalid = false;
  const decoded = text.replace(/=(..)?/g, (_, code: string | undefined) => {
    if (code === '2C') return ',';
    if (code === '3D') return '=';
    invalid = true;
    return '';
  });
  return invalid ? undefined : decoded;
}
