import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeadline, InvalidArgumentError } from '../src/index.js';

describe('createDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires once, after its duration', () => {
    const onExpire = vi.fn();
    const deadline = createDeadline(100, onExpire);
    expect(deadline.pending).toBe(true);
    vi.advanceTimersByTime(99);
    expect(onExpire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onExpire).toHaveBeenCalledTimes(1);
    expect(deadline.expired).toBe(true);
    expect(deadline.pending).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(onExpire).toHaveBeenCalledTimes(1);
  });

  it('is pushed back by reset(), with one timer however often it is reset', () => {
    const onExpire = vi.fn();
    const deadline = createDeadline(100, onExpire);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(50);
      deadline.reset();
    }
    expect(vi.getTimerCount()).toBe(1);
    expect(onExpire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(onExpire).toHaveBeenCalledTimes(1);
  });

  it('re-arms sooner when reset to a shorter duration, which becomes the default', () => {
    const onExpire = vi.fn();
    const deadline = createDeadline(1_000, onExpire);
    deadline.reset(10);
    expect(deadline.ms).toBe(10);
    vi.advanceTimersByTime(10);
    expect(onExpire).toHaveBeenCalledTimes(1);
    deadline.reset();
    vi.advanceTimersByTime(10);
    expect(onExpire).toHaveBeenCalledTimes(2);
  });

  it('does nothing once cleared, until reset', () => {
    const onExpire = vi.fn();
    const deadline = createDeadline(100, onExpire);
    deadline.clear();
    expect(deadline.pending).toBe(false);
    vi.advanceTimersByTime(500);
    expect(onExpire).not.toHaveBeenCalled();
    deadline.reset();
    vi.advanceTimersByTime(100);
    expect(onExpire).toHaveBeenCalledTimes(1);
  });

  it('waits for the first reset() when not started', () => {
    const onExpire = vi.fn();
    const deadline = createDeadline(100, onExpire, { start: false });
    expect(deadline.pending).toBe(false);
    vi.advanceTimersByTime(500);
    expect(onExpire).not.toHaveBeenCalled();
    deadline.reset();
    expect(deadline.pending).toBe(true);
    vi.advanceTimersByTime(100);
    expect(onExpire).toHaveBeenCalledTimes(1);
  });

  it('never expires with Infinity', () => {
    const onExpire = vi.fn();
    const deadline = createDeadline(Number.POSITIVE_INFINITY, onExpire);
    expect(deadline.pending).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    deadline.reset(50);
    deadline.reset(Number.POSITIVE_INFINITY);
    vi.advanceTimersByTime(100);
    expect(onExpire).not.toHaveBeenCalled();
  });

  it('holds a timer only while armed, so that a cleared or expired deadline keeps nothing alive', () => {
    const deadline = createDeadline(100, () => {});
    expect(vi.getTimerCount()).toBe(1);
    deadline.clear();
    expect(vi.getTimerCount()).toBe(0);
    deadline.reset();
    vi.advanceTimersByTime(100);
    expect(deadline.expired).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps deadlines apart: each expires on its own, however the others are reset or cleared', () => {
    const expired: string[] = [];
    const idle = createDeadline(100, () => expired.push('idle'));
    const command = createDeadline(30, () => expired.push('command'), { start: false });
    for (let i = 0; i < 3; i++) {
      command.reset();
      vi.advanceTimersByTime(20);
      command.clear();
    }
    expect(expired).toEqual([]);
    command.reset();
    vi.advanceTimersByTime(30);
    expect(expired).toEqual(['command']);
    vi.advanceTimersByTime(10);
    expect(expired).toEqual(['command', 'idle']);
    expect(idle.expired && command.expired).toBe(true);
  });

  it('rejects durations a timer cannot hold', () => {
    for (const ms of [0, -1, Number.NaN, 2 ** 31]) {
      expect(() => createDeadline(ms, () => {})).toThrow(InvalidArgumentError);
    }
    expect(() => createDeadline(10, () => {}).reset(0)).toThrow(InvalidArgumentError);
  });
});
