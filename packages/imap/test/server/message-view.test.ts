import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageView } from '../../src/server/message-view.js';

describe('MessageView: \\Recent', () => {
  it('counts and tells the recent messages of the view', () => {
    const view = new MessageView([1, 2, 5, 7, 9], [9, 5, 7]);
    expect(view.recentCount).toBe(3);
    expect([1, 2, 5, 7, 9].filter((uid) => view.isRecent(uid))).toEqual([5, 7, 9]);
    expect(view.isRecent(6)).toBe(false);
    view.add(10, false);
    view.add(11, true);
    view.remove(7);
    expect(view.recentCount).toBe(3);
    expect(view.uids.filter((uid) => view.isRecent(uid))).toEqual([5, 9, 11]);
  });

  it('agrees with a set of UIDs through any adds and removals', () => {
    const uid = fc.integer({ min: 1, max: 40 });
    const step = fc.oneof(fc.record({ add: uid, recent: fc.boolean() }), fc.record({ remove: uid }));
    fc.assert(
      fc.property(fc.uniqueArray(uid), fc.array(uid), fc.array(step), (initial, marked, steps) => {
        const uids = [...initial].sort((a, b) => a - b);
        const recent = new Set(marked.filter((each) => uids.includes(each)));
        const present = new Set(uids);
        const view = new MessageView(uids, [...recent]);
        for (const each of steps) {
          if ('add' in each) {
            if (!present.has(each.add) && each.recent) recent.add(each.add);
            present.add(each.add);
            view.add(each.add, each.recent);
          } else {
            present.delete(each.remove);
            recent.delete(each.remove);
            view.remove(each.remove);
          }
          expect(view.uids).toEqual([...present].sort((a, b) => a - b));
          expect(view.recentCount).toBe(recent.size);
          for (let n = 0; n <= 41; n++) expect(view.isRecent(n)).toBe(recent.has(n));
        }
      }),
    );
  });
});
