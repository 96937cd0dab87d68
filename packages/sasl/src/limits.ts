/** Size limits of a SASL exchange, in characters of base64 text per line. */
export type SaslLimits = {
  /** The longest client response a server accepts (Postfix `smtpd_sasl_response_limit`: 12,288). */
  maxResponseLength: number;
  /** The longest server challenge a client accepts. */
  maxChallengeLength: number;
};

/** The defaults; override them through `limits` in the server or client options. */
export const defaultSaslLimits: Readonly<SaslLimits> = Object.freeze({
  maxResponseLength: 12_288,
  maxChallengeLength: 12_288,
});
