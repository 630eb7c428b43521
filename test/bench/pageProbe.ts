// Timestamps taken inside the panel page, so the benchmark's latencies do not include a trip back to Node:
// when a host message arrived in the page (before its JSON was parsed), when the panel's own message handler
// got it, and when the panel reported the frame painted. Page times are mapped onto Node's clock with an
// offset measured by round trips (both clocks are the machine's wall clock, read through
// `performance.timeOrigin + performance.now()`).
import type { Page } from "playwright-core";
import type { HostToWebview } from "../../common/messages";

/** Per seq, in Node's clock (ms since epoch): arrived in the page, handed to the panel, reported painted. */
export interface PageTimes {
  arrived: Map<number, number>;
  received: Map<number, number>;
  painted: Map<number, number>;
}

interface ProbeWindow {
  __benchProbe: { arrived: Array<[number, number]>; received: Array<[number, number]>; painted: Array<[number, number]> };
}

export const nowEpoch = (): number => performance.timeOrigin + performance.now();

export class PageProbe {
  private offset = 0;
  /** Round trip of the best calibration sample: the uncertainty of the clock mapping is half of it. */
  calibrationRttMs = 0;

  private constructor(private readonly page: Page) {}

  /** Installs the probe in a page that already runs the panel (window.__himaTest exists). */
  static async install(page: Page): Promise<PageProbe> {
    await page.evaluate(() => {
      const now = () => performance.timeOrigin + performance.now();
      const probe: ProbeWindow["__benchProbe"] = { arrived: [], received: [], painted: [] };
      (window as unknown as ProbeWindow).__benchProbe = probe;
      // Registered after the panel's listener, so it runs right after the panel took the message.
      window.addEventListener("message", (e: MessageEvent) => {
        const seq = (e.data as { seq?: unknown } | null)?.seq;
        if (typeof seq === "number") probe.received.push([seq, now()]);
      });
      const sent = window.__himaTest!.sent;
      const push = sent.push.bind(sent);
      sent.push = (...items) => {
        for (const m of items) if (m.kind === "painted") probe.painted.push([m.seq, now()]);
        return push(...items);
      };
    });
    const p = new PageProbe(page);
    await p.calibrate();
    return p;
  }

  /**
   * Delivers a host message as one CDP call, as a JSON string (VS Code's webview.postMessage also serialises);
   * the page notes the arrival time before parsing it. `delivered` resolves when the page has queued it.
   */
  post(message: HostToWebview): { bytes: number; stringifyMs: number; delivered: Promise<void> } {
    const t0 = performance.now();
    const json = JSON.stringify(message);
    const stringifyMs = performance.now() - t0;
    const delivered = this.page.evaluate((text) => {
      const arrived = performance.timeOrigin + performance.now();
      const m = JSON.parse(text) as HostToWebview;
      if ("seq" in m) (window as unknown as ProbeWindow).__benchProbe.arrived.push([m.seq, arrived]);
      window.__himaTest!.post(m);
    }, json);
    return { bytes: json.length, stringifyMs, delivered };
  }

  /** Waits (polling) until the page reports `seq` or a later one painted. */
  async waitPainted(seq: number, timeoutMs = 10_000): Promise<void> {
    await this.page.waitForFunction((s) => (window as unknown as ProbeWindow).__benchProbe.painted.some(([x]) => x >= s), seq, { timeout: timeoutMs, polling: 10 });
  }

  async times(): Promise<PageTimes> {
    const raw = await this.page.evaluate(() => (window as unknown as ProbeWindow).__benchProbe);
    const toNode = (pairs: Array<[number, number]>) => {
      const m = new Map<number, number>();
      for (const [seq, t] of pairs) if (!m.has(seq)) m.set(seq, t - this.offset);
      return m;
    };
    return { arrived: toNode(raw.arrived), received: toNode(raw.received), painted: toNode(raw.painted) };
  }

  /** Page clock minus Node clock, from the round trip with the smallest delay (its midpoint). */
  private async calibrate(rounds = 15): Promise<void> {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < rounds; i++) {
      const t0 = nowEpoch();
      const pageT = await this.page.evaluate(() => performance.timeOrigin + performance.now());
      const t1 = nowEpoch();
      if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: pageT - (t0 + t1) / 2 };
    }
    this.offset = best.offset;
    this.calibrationRttMs = best.rtt;
  }
}
