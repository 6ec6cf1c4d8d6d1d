/**
 * Hosts in network namespaces behind real NATs and firewalls on a private internet
 * (scripts/nat-hosts.sh, whose header has the address plan), for NAT-traversal tests. Each instance
 * has its own prefix, so runs (and two sets in one run) never collide; `down` removes every
 * namespace and is safe to call twice. Running programs in a host and calling an API inside one:
 * NamespaceHosts. Used by the NAT tests and `reload-ppsp bench nat`.
 */
import { labScript, NamespaceHosts } from './namespace-hosts.js';

const SCRIPT = labScript('nat-hosts.sh');

/**
 * public: on the internet. firewall: on the internet, can dial out but cannot be dialled. eim: behind
 * a NAT with endpoint-independent mapping that keeps the source port when it can. symmetric: behind a
 * NAT that maps every new destination to a new random port. Neither NAT lets anything new in.
 */
export type NatKind = 'public' | 'eim' | 'symmetric' | 'firewall';

let made = 0;

export class NatHosts extends NamespaceHosts {
  private constructor(private readonly kinds: readonly NatKind[]) {
    super(`rx${process.pid % 100000}-${made++}-`, SCRIPT);
  }

  /** Host i (0-based) of kind kinds[i]. */
  static async up(kinds: NatKind[]): Promise<NatHosts> {
    const hosts = new NatHosts([...kinds]);
    // The script removes what it made when a step fails, but not when it is killed at its time limit.
    await hosts.script('up', ...kinds).catch(async (e: unknown) => {
      await hosts.script('down').catch(() => {});
      throw e;
    });
    return hosts;
  }

  get count(): number {
    return this.kinds.length;
  }

  kind(i: number): NatKind {
    const kind = this.kinds[i];
    if (kind === undefined) throw new Error(`no host ${i} (there are ${this.kinds.length})`);
    return kind;
  }

  private behindNat(i: number): boolean {
    const kind = this.kind(i);
    return kind === 'eim' || kind === 'symmetric';
  }

  /** Host i's own interface address: what a program in it listens on. */
  address(i: number): string {
    return this.behindNat(i) ? `10.${i + 1}.0.10` : `203.0.113.${10 + i}`;
  }

  /** What hosts on the internet see host i as: its NAT box's WAN address, or its own. */
  publicAddress(i: number): string {
    return this.behindNat(i) ? `203.0.113.${100 + i}` : this.address(i);
  }
}
