/** `name` lower-cased, without one trailing dot: the form DMARC compares domains in. */
export function normalizeDomain(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
