/**
 * The capabilities the server session offers, each once, with the RFC that defines it. Those that
 * depend on the session (STARTTLS, LOGINDISABLED, AUTH=…, the literal kind) are added by the session.
 */
export const SERVER_CAPABILITIES: readonly (readonly [name: string, rfc: string])[] = [
  ['IMAP4rev1', 'RFC 3501'],
  ['IMAP4rev2', 'RFC 9051'],
  ['SASL-IR', 'RFC 4959'],
  ['ID', 'RFC 2971'],
  ['ENABLE', 'RFC 5161'],
  ['NAMESPACE', 'RFC 2342'],
  ['UNSELECT', 'RFC 3691'],
  ['UIDPLUS', 'RFC 4315'],
  ['MOVE', 'RFC 6851'],
  ['LIST-EXTENDED', 'RFC 5258'],
  ['LIST-STATUS', 'RFC 5819'],
  ['SPECIAL-USE', 'RFC 6154'],
  ['CREATE-SPECIAL-USE', 'RFC 6154 §3'],
  ['CHILDREN', 'RFC 3348'],
  ['STATUS=SIZE', 'RFC 8438'],
  ['UTF8=ACCEPT', 'RFC 6855'],
  ['BINARY', 'RFC 3516'],
  ['IDLE', 'RFC 2177'],
  ['CONDSTORE', 'RFC 7162'],
  ['QRESYNC', 'RFC 7162'],
  ['ESEARCH', 'RFC 4731'],
  ['SEARCHRES', 'RFC 5182'],
  ['SORT', 'RFC 5256'],
  ['SORT=DISPLAY', 'RFC 5957'],
  ['THREAD=ORDEREDSUBJECT', 'RFC 5256'],
  ['THREAD=REFERENCES', 'RFC 5256'],
  ['WITHIN', 'RFC 5032'],
  ['QUOTA', 'RFC 9208'],
  ['QUOTA=RES-STORAGE', 'RFC 9208'],
  ['QUOTA=RES-MESSAGE', 'RFC 9208'],
  ['UNAUTHENTICATE', 'RFC 8437'],
  ['OBJECTID', 'RFC 8474'],
];

/**
 * What ENABLE accepts (RFC 5161), with what each one implies. CONDSTORE and QRESYNC are recorded for the
 * message commands; IMAP4rev2 and UTF8=ACCEPT switch mailbox names to UTF-8 (RFC 9051 §5.1, RFC 6855 §3).
 */
export const ENABLE_IMPLIES: ReadonlyMap<string, readonly string[]> = new Map([
  ['IMAP4REV2', ['IMAP4rev2']],
  ['UTF8=ACCEPT', ['UTF8=ACCEPT']],
  ['CONDSTORE', ['CONDSTORE']],
  ['QRESYNC', ['QRESYNC', 'CONDSTORE']],
]);
