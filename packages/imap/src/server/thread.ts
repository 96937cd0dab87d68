import { parseMessageId, parseMessageIds } from '@postwire/mime';
import type { MessageInfo, MessageStructure } from '@postwire/store';
import type { Thread } from '../protocol/response.js';
import { type BaseSubject, baseSubject, sentTime } from './sort.js';

/** The THREAD algorithms the server implements (RFC 5256 §2.3, §2.4), each advertised as `THREAD=…`. */
export const THREAD_ALGORITHMS = ['ORDEREDSUBJECT', 'REFERENCES'] as const;

/** One of {@link THREAD_ALGORITHMS}. */
export type ThreadAlgorithm = (typeof THREAD_ALGORITHMS)[number];

/** Whether the THREAD command's algorithm (in upper case, as the parser gives it) is one the server implements. */
export function isThreadAlgorithm(name: string): name is ThreadAlgorithm {
  return (THREAD_ALGORITHMS as readonly string[]).includes(name);
}

/** One message as THREAD sees it. */
export interface ThreadCandidate {
  readonly info: MessageInfo;
  /** Its sequence number in the session's view: what breaks ties, and the number THREAD answers without UID. */
  readonly sequence: number;
  readonly structure: MessageStructure;
}

/** The last References ids of a message that REFERENCES threading uses: a bound on the work per message. */
const MAX_REFERENCES = 100;

/** A message's data for threading. */
interface Message {
  readonly number: number;
  readonly sequence: number;
  readonly sent: number;
  readonly subject: BaseSubject;
}

/** A node of the REFERENCES tree: a message, or a dummy standing for a message that is referred to but absent. */
interface Container {
  readonly message?: Message;
  parent?: Container;
  readonly children: Set<Container>;
}

/**
 * The THREAD answer (RFC 5256 §2.3, §2.4): the candidates' UIDs (with `uid`) or sequence numbers as a list
 * of trees, in which the only child of a message continues its chain and several children each start a
 * nested thread (`(3 6 (4 23)(44 7 96))`); every number appears exactly once.
 *
 * - ORDEREDSUBJECT: messages grouped by {@link baseSubject}; in each group the earliest is the parent and the
 *   others its children, by sent date; groups ordered by their earliest message.
 * - REFERENCES: the parent/child links of the References ids (only the last 100 of them) or else of the
 *   first In-Reply-To id; duplicate and missing Message-IDs made unique, links that would close a loop
 *   skipped, dummies for absent parents pruned, roots with the same base subject gathered, siblings ordered
 *   by sent date. References and In-Reply-To ids count only when written in angle brackets.
 *
 * Sent dates are those of {@link sentTime}; ties go to the lower sequence number. Every walk of the tree is
 * iterative, so a chain of any depth is safe.
 */
export function threadMessages(
  algorithm: ThreadAlgorithm,
  candidates: readonly ThreadCandidate[],
  uid: boolean,
): Thread[] {
  const sorted = [...candidates].sort((a, b) => a.sequence - b.sequence);
  const messages = sorted.map((candidate) => ({
    number: uid ? candidate.info.uid : candidate.sequence,
    sequence: candidate.sequence,
    sent: sentTime(candidate.info, candidate.structure),
    subject: baseSubject(candidate.structure.envelope.subject ?? ''),
  }));
  if (algorithm === 'ORDEREDSUBJECT') return orderedSubject(messages);
  return references(
    messages,
    sorted.map((candidate) => candidate.structure),
  );
}

/** RFC 5256 §2.3. `messages` are in sequence order. */
function orderedSubject(messages: readonly Message[]): Thread[] {
  const groups = new Map<string, Message[]>();
  for (const message of [...messages].sort(compareSent)) {
    const group = groups.get(message.subject.text);
    if (group) group.push(message);
    else groups.set(message.subject.text, [message]);
  }
  // The groups were created in the order of their earliest message.
  return [...groups.values()].map(([first, ...rest]) => {
    if (rest.length === 1) return { chain: [first!.number, rest[0]!.number], children: [] };
    return {
      chain: [first!.number],
      children: rest.map((message) => ({ chain: [message.number], children: [] })),
    };
  });
}

/** RFC 5256 §2.4. `messages` are in sequence order, `structures` are theirs. */
function references(messages: readonly Message[], structures: readonly MessageStructure[]): Thread[] {
  const byId = new Map<string, Container>();
  const containers = messages.map((message, index) => {
    const structure = structures[index]!;
    const container: Container = { message, children: new Set() };
    const id =
      structure.envelope.messageId === null ? undefined : parseMessageId(structure.envelope.messageId);
    // A later message with the same id, like one without, gets an id no one can refer to.
    if (id !== undefined && !byId.has(id)) byId.set(id, container);
    return container;
  });
  const containerOf = (id: string): Container => {
    let container = byId.get(id);
    if (!container) {
      container = { children: new Set() };
      byId.set(id, container);
    }
    return container;
  };

  // Step 1: link each reference to the next, then the last one to the message.
  containers.forEach((container, index) => {
    const chain = referenceIds(structures[index]!).map(containerOf);
    for (let i = 1; i < chain.length; i++) {
      const parent = chain[i - 1]!;
      const child = chain[i]!;
      if (!child.parent && !isWithin(parent, child)) adopt(parent, child);
    }
    const parent = chain.at(-1);
    if (parent === undefined) release(container);
    else if (container.parent !== parent && !isWithin(parent, container)) adopt(parent, container);
  });

  // Step 2: the containers without a parent are the roots.
  const root: Container = { children: new Set() };
  for (const container of new Set([...containers, ...byId.values()]))
    if (!container.parent) adopt(root, container);

  prune(root);

  // Steps 4 and 5: gather the roots that share a base subject, in order of sent date.
  const roots = sortSiblings(root.children);
  const table = new Map<string, Container>();
  for (const container of roots) {
    const subject = threadSubject(container);
    if (subject === '') continue;
    const held = table.get(subject);
    if (
      !held ||
      (held.message && (!container.message || (replyOrForward(held) && !replyOrForward(container))))
    )
      table.set(subject, container);
  }
  for (const container of roots) {
    const subject = threadSubject(container);
    const held = table.get(subject);
    if (subject === '' || !held || held === container) continue;
    if (!held.message && !container.message) {
      for (const child of [...container.children]) adopt(held, child);
      release(container);
    } else if (!held.message || (replyOrForward(container) && !replyOrForward(held))) adopt(held, container);
    else {
      const dummy: Container = { children: new Set() };
      adopt(root, dummy);
      adopt(dummy, held);
      adopt(dummy, container);
      table.set(subject, dummy);
    }
  }

  // Step 6, with the conversion to threads: siblings in order of sent date, a level at a time.
  const threads: Thread[] = [];
  const queue: [Container, Thread[]][] = sortSiblings(root.children).map((container) => [container, threads]);
  for (let index = 0; index < queue.length; index++) {
    let [container, into] = queue[index]!;
    const chain: number[] = [];
    const children: Thread[] = [];
    for (;;) {
      if (container.message) chain.push(container.message.number);
      const next = sortSiblings(container.children);
      if (next.length !== 1) {
        for (const child of next) queue.push([child, children]);
        break;
      }
      container = next[0]!;
    }
    into.push({ chain, children });
  }
  return threads;
}

/** The ids a message refers to: those of References, else the first of In-Reply-To; the last {@link MAX_REFERENCES}. */
function referenceIds(structure: MessageStructure): string[] {
  const field = structure.headers.find(([name]) => name.toLowerCase() === 'references');
  const ids = field?.[1].includes('<') ? parseMessageIds(field[1]) : [];
  if (ids.length > 0) return ids.slice(-MAX_REFERENCES);
  const inReplyTo = structure.envelope.inReplyTo;
  const first = inReplyTo?.includes('<') ? parseMessageId(inReplyTo) : undefined;
  return first === undefined ? [] : [first];
}

/**
 * Whether `node` is `ancestor` or lies below it, so that making `node` the parent of `ancestor` would close
 * a loop. It walks up from `node` and through the tree under `ancestor` a step at a time each, so it costs
 * twice the shorter of the two walks.
 */
function isWithin(node: Container, ancestor: Container): boolean {
  let up: Container | undefined = node;
  const down: Iterator<Container>[] = [[ancestor].values()];
  for (;;) {
    if (up === ancestor) return true;
    if (up === undefined) return false;
    up = up.parent;
    const level = down.at(-1);
    if (level === undefined) return false;
    const next = level.next();
    if (next.done) down.pop();
    else if (next.value === node) return true;
    else down.push(next.value.children.values());
  }
}

/** Makes `child` a child of `parent`, leaving its former parent. */
function adopt(parent: Container, child: Container): void {
  release(child);
  child.parent = parent;
  parent.children.add(child);
}

/** Takes `child` from its parent. */
function release(child: Container): void {
  child.parent?.children.delete(child);
  child.parent = undefined;
}

/**
 * Step 3: removes dummies without children, and puts the children of the others in their place, except
 * for the several children of a dummy at the top. Children come before their parents, so a promoted child
 * has already been pruned.
 */
function prune(root: Container): void {
  const order: Container[] = [];
  const stack = [...root.children];
  for (let container = stack.pop(); container !== undefined; container = stack.pop()) {
    order.push(container);
    stack.push(...container.children);
  }
  for (const container of order.reverse()) {
    if (container.message) continue;
    const parent = container.parent!;
    if (container.children.size === 0) release(container);
    else if (parent !== root || container.children.size === 1) {
      for (const child of [...container.children]) adopt(parent, child);
      release(container);
    }
  }
}

/** Siblings in order of sent date, a dummy by its earliest child. */
function sortSiblings(children: ReadonlySet<Container>): Container[] {
  return [...children]
    .map((container) => [earliest(container), container] as const)
    .sort(([a], [b]) => compareSent(a, b))
    .map(([, container]) => container);
}

/** A container's message, or for a dummy (which only has messages as children) its earliest child's. */
function earliest(container: Container): Message {
  if (container.message) return container.message;
  return [...container.children].map(earliest).reduce((a, b) => (compareSent(a, b) <= 0 ? a : b));
}

function threadSubject(container: Container): string {
  return earliest(container).subject.text;
}

function replyOrForward(container: Container): boolean {
  return container.message?.subject.replyOrForward ?? false;
}

function compareSent(a: Message, b: Message): number {
  return a.sent - b.sent || a.sequence - b.sequence;
}
