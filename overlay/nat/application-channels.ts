/**
 * Applications' own channels (AppAttach, RFC 6940 §6.5.2; the PPSP data channel is one): a TLS
 * listener per Application-ID that accepts only enrolled nodes of this overlay, and channels to
 * other nodes' listeners made by the same ladder as overlay links (traversal.ts): dialled,
 * reversed, punched or relayed. Bounded per application and per peer (ApplicationLinkQuota).
 */
import type { BootstrapNode, OverlayConfig } from '../config.js';
import { ErrorCode, ReloadError } from '../errors.js';
import type { Id } from '../id.js';
import type { Link } from '../link/link.js';
import type { LinkFactory, LinkListener } from '../link/link-factory.js';
import { appAttachRequestBody, parseAppAttachAnswer } from '../methods/app-attach.js';
import { formatCandidate, type AttachAnswer, type AttachRequest } from '../methods/attach.js';
import { ApplicationLinkQuota } from '../routing/application-link-quota.js';
import type { Response } from '../routing/message-transport.js';
import { MessageCode } from '../wire/codes.js';
import type { Destination } from '../wire/message.js';
import type { Channel, LinkLimits, Traversal } from './traversal.js';

export interface ApplicationChannelsHost {
  config: OverlayConfig;
  linkFactory: LinkFactory;
  traversal: Traversal;
  connectTimeoutMs: number;
  request(destinations: Destination[], code: number, body: unknown): Promise<Response>;
  /** A link refused by the quota, counted and logged. */
  dropped(link: Link, reason: string, what: string): void;
  /** A connection refused before it became a link. */
  refused(address: string, error: Error, what: string): void;
}

export interface ServeOptions extends LinkLimits {
  host: string;
  port: number;
  onLink(link: Link): void;
}

interface Served {
  listener: LinkListener;
  limits: LinkLimits;
  /** Hands a link to the application, within its quota. */
  accept(link: Link): boolean;
}

export class ApplicationChannels {
  private readonly served = new Map<number, Served>();

  constructor(private readonly host: ApplicationChannelsHost) {}

  /** Serves an Application-ID; closed with close() or the node. */
  async serve(app: number, opts: ServeOptions): Promise<{ address: string; close(): Promise<void> }> {
    if (this.served.has(app)) throw new Error(`application ${app} is served already`);
    const { links } = this.host.config;
    const quota = new ApplicationLinkQuota(links.maxApplicationLinks, links.maxApplicationLinksPerNode);
    const what = `application ${app}`;
    const accept = (link: Link) => {
      const refused = quota.admit(link);
      if (!refused) {
        opts.onLink(link);
        return true;
      }
      this.host.dropped(link, refused.reason!, what);
      link.close(refused);
      return false;
    };
    const limits = { maxMessageBytes: opts.maxMessageBytes, queueLimit: opts.queueLimit };
    const listener = await this.host.linkFactory.listen({
      host: opts.host,
      port: opts.port,
      ...limits,
      // A channel this node asked for may arrive here, dialled back by its peer (reversal).
      onLink: (link) => void (this.host.traversal.claim(link, app) || accept(link)),
      onRefused: (addr, error) => this.host.refused(addr, error, what),
    });
    this.served.set(app, { listener, limits, accept });
    return {
      address: formatCandidate(listener.address),
      close: async () => {
        this.served.delete(app);
        await listener.close();
      },
    };
  }

  /** Opens a channel to `peer`'s application: AppAttach through the overlay, then the ladder. */
  async connect(peer: Id, app: number, limits: LinkLimits): Promise<Link> {
    const channel = this.channel(app, limits);
    const { traversal } = this.host;
    const prepared = await traversal.prepare();
    const res = await this.host.request([{ type: 'node', id: peer }], MessageCode.AppAttachReq, appAttachRequestBody(app, traversal.candidates(channel), prepared.offer));
    return traversal.link(peer, parseAppAttachAnswer(res.body, app), prepared, channel);
  }

  /** Serves AppAttachReq: undefined when this node serves no such application. */
  async answer(app: number, request: AttachRequest, requester: Id): Promise<AttachAnswer | undefined> {
    const served = this.served.get(app);
    return served ? this.host.traversal.answer(request, requester, this.channel(app, served.limits)) : undefined;
  }

  /** The channel of an application this node serves (a relayed circuit for it arrives here). */
  servedChannel(app: number): Channel | undefined {
    const served = this.served.get(app);
    return served && this.channel(app, served.limits);
  }

  async closeAll(): Promise<void> {
    const all = [...this.served.values()];
    this.served.clear();
    await Promise.all(all.map((s) => s.listener.close()));
  }

  private channel(app: number, limits: LinkLimits): Channel {
    return {
      app,
      limits,
      listenAddress: () => this.served.get(app)?.listener.address,
      // Channels are per use (a swarm's session), never shared: there is none to reuse.
      existing: () => undefined,
      dial: (c: BootstrapNode, peer: Id) => this.host.linkFactory.dial({ ...c, ...limits, expectedNodeId: peer, timeoutMs: this.host.connectTimeoutMs }),
      adopt: (link, side) => {
        if (side === 'requester') return true;
        const served = this.served.get(app);
        if (!served) throw new ReloadError(ErrorCode.Not_Found, `application ${app} is not served here`, 'unknown_application');
        return served.accept(link);
      },
    };
  }
}
