/**
 * Hosts in network namespaces with delay, jitter and loss between them (scripts/netem-hosts.sh),
 * for tests of the real TLS path over a bad network. Each set has its own prefix, so runs never
 * collide; `down` removes every namespace and the switch, and is safe to call twice. Running
 * programs in a host and calling an API inside one: NamespaceHosts.
 */
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';
import { NamespaceHosts } from '../../scripts/netns/namespace-hosts.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'netem-hosts.sh');

export interface NetemOptions {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
}

export class NetemHosts extends NamespaceHosts {
  private constructor(readonly count: number) {
    super(`rt${process.pid % 100000}-`, SCRIPT);
  }

  static async up(count: number, o: NetemOptions): Promise<NetemHosts> {
    const hosts = new NetemHosts(count);
    await hosts.script('up', String(count), '--delay', String(o.delayMs), '--jitter', String(o.jitterMs), '--loss', String(o.lossPercent));
    return hosts;
  }

  /** Host i's address. */
  address(i: number): string {
    return `198.18.0.${10 + i}`;
  }
}
