import type { FromSchema } from 'json-schema-to-ts';

// The JSON Schema of an nftlb config: the single source for validation, the TypeScript types and the editor schema.
export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://nftlb.invalid/nftlb.schema.json',
  title: 'nftlb configuration',
  type: 'object',
  additionalProperties: false,
  required: ['services'],
  properties: {
    $schema: { type: 'string', description: 'Editor hint; ignored by nftlb.' },
    table: {
      type: 'string',
      minLength: 1,
      maxLength: 238,
      description:
        'Name of the nft tables nftlb owns and replaces (table inet NAME, and table netdev NAME_dsr for DSR services), at most 238 characters: NAME_dsr may have at most 242. A name nft 1.0.6 takes: letters, digits, "_", "." and "-", a letter, "_" or "." first, not an nft keyword. Default: nftlb.',
    },
    services: {
      type: 'array',
      description: 'The load-balanced services.',
      items: { $ref: '#/definitions/service' },
    },
    forward: { $ref: '#/definitions/forward' },
    cluster: { $ref: '#/definitions/cluster' },
  },
  definitions: {
    address: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'An IPv4 or IPv6 address (no prefix length).',
    },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    portRange: {
      type: 'string',
      pattern: '^[0-9]{1,5}-[0-9]{1,5}$',
      description: 'An inclusive port range "first-last".',
    },
    seed: {
      description: 'A 32-bit hash seed: an integer (YAML accepts 0x5eed) or a string "0x5eed".',
      oneOf: [
        { type: 'integer', minimum: 0, maximum: 4294967295 },
        { type: 'string', pattern: '^0[xX][0-9a-fA-F]{1,8}$' },
      ],
    },
    protocol: { type: 'string', enum: ['tcp', 'udp'] },
    backend: {
      type: 'object',
      additionalProperties: false,
      required: ['address'],
      properties: {
        address: {
          $ref: '#/definitions/address',
          description:
            "The backend's own address (IPv4 or IPv6, of a VIP's family); not 0.0.0.0, ::, a multicast or the broadcast address.",
        },
        port: {
          $ref: '#/definitions/port',
          description: 'Destination port on the backend. Default: the port the client connected to.',
        },
        weight: {
          type: 'integer',
          minimum: 1,
          maximum: 10000,
          description: 'Relative share of new connections. Default 1.',
        },
        state: {
          type: 'string',
          enum: ['up', 'down', 'drain', 'backup'],
          description:
            'up (default) takes new connections; down takes none; drain takes no new ones and keeps established ones; backup is used only while the primaries are down or below quorum.',
        },
        health: { $ref: '#/definitions/health' },
        'max-connections': {
          type: 'integer',
          minimum: 1,
          maximum: 1000000,
          description:
            'Limit on established connections to this backend (ct count); see the service key limit-overflow.',
        },
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      description: 'Health check of a backend (on a service: the default for its backends). Times in seconds.',
      properties: {
        type: {
          type: 'string',
          enum: ['tcp', 'banner', 'http', 'https', 'exec'],
          description:
            'tcp connects; banner reads the first line; http and https (TLS) send a request and read the status; exec runs a program.',
        },
        interval: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 86400,
          description: 'Seconds between checks. Default 2.',
        },
        timeout: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 3600,
          description: 'Seconds a check may take. Default 1.',
        },
        rise: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          description: 'Consecutive passes that bring a backend up. Default 2.',
        },
        fall: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          description: 'Consecutive failures that take it down. Default 2.',
        },
        port: { $ref: '#/definitions/port', description: 'Port to probe. Default: the backend port.' },
        target: {
          type: 'string',
          enum: ['backend', 'vip'],
          description:
            "backend (default): the probe connects to the backend's own address. vip (forwarding: dsr only; tcp, banner, http): it connects to the VIP through that backend (the balancer's loopback egress forwards it there), which proves the VIP on the backend's lo, the service listening on it and the backend's replies from it.",
        },
        send: {
          type: 'string',
          maxLength: 4096,
          description: 'banner/tcp: text sent after connecting (\\r\\n allowed).',
        },
        expect: {
          type: 'string',
          minLength: 1,
          maxLength: 1024,
          description: 'banner: the reply must start with this. Default "220" for banner.',
        },
        method: {
          type: 'string',
          enum: ['GET', 'HEAD', 'POST', 'OPTIONS'],
          description: 'http, https: request method. Default GET.',
        },
        path: {
          type: 'string',
          pattern: '^/[\\x21-\\x7e]*$',
          maxLength: 2048,
          description: 'http, https: request path. Default /.',
        },
        host: {
          type: 'string',
          pattern: '^[A-Za-z0-9.:\\[\\]-]{1,255}$',
          description:
            'http, https: Host header (a name or address, with :port if wanted). Default: the probed address:port. https: also the TLS server name (SNI) when it is a DNS name and sni is not given.',
        },
        sni: {
          type: 'string',
          minLength: 1,
          maxLength: 253,
          pattern: '^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$',
          description:
            'https: a DNS name sent as TLS server name (SNI) and verified against the certificate. Default: host when it is a name, else none (an address is never sent as SNI; the certificate must then name the address).',
        },
        ca: {
          type: 'string',
          minLength: 2,
          maxLength: 4096,
          pattern: '^/',
          description:
            "https: an absolute path to a PEM file of the CA certificate(s) that verify the backend's certificate, instead of Node's built-in CA list.",
        },
        'no-verify': {
          type: 'boolean',
          description:
            "https: true accepts any certificate, so the check no longer proves who answers. Anyone who answers on the backend's address with TLS and the expected status passes it. Default false.",
        },
        status: {
          description: 'http, https: expected status code(s). Default 200.',
          oneOf: [
            { type: 'integer', minimum: 100, maximum: 599 },
            { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'integer', minimum: 100, maximum: 599 } },
          ],
        },
        command: {
          description:
            'exec: a program and its arguments, as a list [program, "argument with space", ...] or as one string split on spaces (no shell); exit status 0 means up. NFTLB_ADDRESS and NFTLB_PORT are set.',
          oneOf: [
            { type: 'string', minLength: 1, maxLength: 4096 },
            {
              type: 'array',
              minItems: 1,
              maxItems: 256,
              items: { type: 'string', maxLength: 4096 },
            },
          ],
        },
      },
    },
    service: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'vip', 'port', 'backends'],
      properties: {
        name: {
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$',
          description: 'Identifier: letters, digits, - and _ (first a letter or digit).',
        },
        vip: {
          description:
            "The virtual address(es) clients connect to: one address or a list (IPv4 and/or IPv6); one host's address, not 0.0.0.0, ::, a multicast or the broadcast address.",
          oneOf: [
            { $ref: '#/definitions/address' },
            { type: 'array', minItems: 1, maxItems: 1024, items: { $ref: '#/definitions/address' } },
          ],
        },
        protocol: {
          description: 'tcp (default), udp, or [tcp, udp].',
          oneOf: [
            { $ref: '#/definitions/protocol' },
            { type: 'array', minItems: 1, maxItems: 2, uniqueItems: true, items: { $ref: '#/definitions/protocol' } },
          ],
        },
        port: {
          description: 'A port, a range "8000-8010", or a list of ports and ranges.',
          oneOf: [
            { $ref: '#/definitions/port' },
            { $ref: '#/definitions/portRange' },
            {
              type: 'array',
              minItems: 1,
              maxItems: 1024,
              items: { oneOf: [{ $ref: '#/definitions/port' }, { $ref: '#/definitions/portRange' }] },
            },
          ],
        },
        scheduler: {
          type: 'string',
          enum: ['round-robin', 'random', 'source-hash', 'symmetric-hash', 'maglev'],
          description: 'How a new connection picks its backend. Default round-robin.',
        },
        hash: {
          type: 'object',
          additionalProperties: false,
          description: 'Hash input for source-hash and maglev.',
          properties: {
            fields: {
              type: 'array',
              minItems: 1,
              maxItems: 4,
              uniqueItems: true,
              items: { type: 'string', enum: ['saddr', 'daddr', 'sport', 'dport'] },
              description: 'Packet fields hashed, in this order. Default [saddr] (client-sticky).',
            },
            seed: { $ref: '#/definitions/seed' },
            'table-size': {
              type: 'integer',
              minimum: 3,
              maximum: 1048573,
              description: 'Maglev lookup table size, a prime. Default 4093.',
            },
          },
        },
        nat: {
          description: 'Source NAT towards the backends: masquerade (default), none, or { snat: address(es) }.',
          oneOf: [
            { type: 'string', enum: ['masquerade', 'none'] },
            {
              type: 'object',
              additionalProperties: false,
              required: ['snat'],
              properties: {
                snat: {
                  oneOf: [
                    { $ref: '#/definitions/address' },
                    { type: 'array', minItems: 1, maxItems: 2, items: { $ref: '#/definitions/address' } },
                  ],
                },
              },
            },
          ],
        },
        forwarding: {
          type: 'string',
          enum: ['nat', 'dsr'],
          description:
            "nat (default): the balancer rewrites the destination (and source, see nat) and sees both directions. dsr: direct server return: the balancer forwards the client's frames unchanged but for the Ethernet header to a backend on the same L2 segment (interface), which holds the VIP on its loopback and answers the client directly. Needs scheduler source-hash or maglev.",
        },
        interface: {
          type: 'string',
          pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$',
          description:
            "forwarding dsr: the network interface of the balancer on the backends' L2 segment; clients' packets must arrive on it too (its netdev ingress hook sees them).",
        },
        'on-empty': {
          type: 'string',
          enum: ['reject', 'drop', 'keep'],
          description:
            'New connections when no backend is up: reject (TCP reset / ICMP port unreachable, default), drop, or keep (balance over the last known set).',
        },
        quorum: {
          type: 'integer',
          minimum: 1,
          maximum: 100000000,
          description:
            'Minimum total weight of healthy primaries; below it the backups join. Default: backups only when no primary is up.',
        },
        'on-down': {
          type: 'string',
          enum: ['keep', 'reset'],
          description:
            'When a backend goes down: keep its established connections (default) or reset them (conntrack entries deleted).',
        },
        health: { $ref: '#/definitions/health' },
        'limit-overflow': {
          type: 'string',
          enum: ['reject', 'spill'],
          description:
            'A new connection to a backend at max-connections: reject it (default, TCP reset), or spill: nftlb health --watch counts connections and takes a full backend out of selection until it is down to 3/4 of its limit (see Limits in README.md).',
        },
        'rate-limit': {
          type: 'object',
          additionalProperties: false,
          required: ['rate'],
          description:
            'Limit on new connections per second to the service (nft limit rate, per address family); excess ones are dropped.',
          properties: {
            rate: { type: 'integer', minimum: 1, maximum: 10000000, description: 'New connections per second.' },
            burst: { type: 'integer', minimum: 1, maximum: 10000000, description: 'Burst allowance. Default 5.' },
          },
        },
        persistence: { $ref: '#/definitions/persistence' },
        log: { $ref: '#/definitions/log' },
        backends: {
          type: 'array',
          items: { $ref: '#/definitions/backend' },
        },
      },
    },
    forward: {
      type: 'object',
      additionalProperties: false,
      required: ['policy'],
      description:
        'Forward filter (see Forward filter in README.md). policy drop: forward only the connections nftlb balanced (both directions, related ICMP) and those opened from the accept prefixes; drop and count every other forwarded packet. Absent or policy accept: no filter.',
      properties: {
        policy: {
          type: 'string',
          enum: ['drop', 'accept'],
          description: 'drop: filter forwarded traffic; accept: no filter (as without the key).',
        },
        accept: {
          type: 'array',
          maxItems: 1024,
          items: { $ref: '#/definitions/prefix' },
          description:
            'Prefixes whose connections are forwarded too, both directions: matched against the address that opened the connection (its source), never its destination, so a listed network can reach out while nobody outside can reach it through the list.',
        },
      },
    },
    prefix: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'An IPv4 or IPv6 prefix (198.51.100.0/24, 2001:db8:3::/48) or one address.',
    },
    log: {
      type: 'object',
      additionalProperties: false,
      description:
        'Log one line per new connection naming the service and the backend chosen, rate limited: to the kernel log (journalctl -k) or, with group, to an NFLOG group (ulogd2). See Logging and tracing in README.md.',
      properties: {
        new: { type: 'boolean', description: 'Log new connections. Default true; false logs nothing.' },
        rate: {
          type: 'string',
          pattern: '^[1-9][0-9]{0,8}/(second|minute|hour|day)$',
          description:
            'a rate "N/second", "N/minute", "N/hour" or "N/day": at most N lines (and a burst of 5). Default 10/second.',
        },
        level: {
          type: 'string',
          enum: ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'],
          description: 'Kernel log level. Default info. Not with group.',
        },
        group: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          description:
            'NFLOG group: the lines go to the userspace logger bound to it (ulogd2) instead of the kernel log; the only way out of a network namespace.',
        },
      },
    },
    cluster: {
      type: 'object',
      additionalProperties: false,
      required: ['mode', 'nodes'],
      description:
        'More than one balancer, one file for every node (see More than one balancer in README.md): ecmp (every node announces the VIPs with BGP, the router spreads flows over them) or vrrp (keepalived moves the VIPs to one master, conntrackd copies its connections). The node a host is: --node, $NFTLB_NODE, or its hostname.',
      properties: {
        mode: {
          type: 'string',
          enum: ['ecmp', 'vrrp'],
          description:
            "ecmp: active/active, BGP (BIRD 2) and the upstream router's ECMP; vrrp: active/passive, keepalived and conntrackd.",
        },
        nodes: {
          type: 'array',
          minItems: 1,
          maxItems: 64,
          items: { $ref: '#/definitions/clusterNode' },
          description: 'The balancer nodes.',
        },
        bgp: {
          type: 'object',
          additionalProperties: false,
          description: 'ecmp: the BGP sessions of every node (a node may set its own asn and peers).',
          properties: {
            asn: { $ref: '#/definitions/asn' },
            peers: {
              type: 'array',
              minItems: 1,
              maxItems: 16,
              items: { $ref: '#/definitions/bgpPeer' },
              description: 'The BGP neighbours of each node (the router that spreads the VIPs by ECMP).',
            },
            'hold-time': {
              type: 'integer',
              minimum: 3,
              maximum: 65535,
              description:
                "Seconds without a BGP message after which a session is down: the router drops a dead node's routes then. Default 9.",
            },
          },
        },
        vrrp: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'interface', 'sync-interface'],
          description: "vrrp: keepalived's instances and conntrackd's sync link (exactly two nodes).",
          properties: {
            id: {
              type: 'integer',
              minimum: 1,
              maximum: 255,
              description: 'VRRP virtual router id, unique on each segment.',
            },
            interface: {
              $ref: '#/definitions/interfaceName',
              description: "The clients' side: VRRP adverts and the VIPs.",
            },
            'backend-interface': {
              $ref: '#/definitions/interfaceName',
              description:
                "The backends' side, where the floating source address lives (a second VRRP instance in the same sync group). Default: interface.",
            },
            snat: {
              description:
                'The floating backend-side source address(es), one per family: masquerade services use source NAT to it, so backends see the same source whichever node is master. Needed for each family a masquerade service balances.',
              oneOf: [
                { $ref: '#/definitions/address' },
                { type: 'array', minItems: 1, maxItems: 2, items: { $ref: '#/definitions/address' } },
              ],
            },
            'sync-interface': {
              $ref: '#/definitions/interfaceName',
              description: "conntrackd's dedicated sync link between the two nodes.",
            },
            'advert-interval': {
              type: 'integer',
              minimum: 1,
              maximum: 255,
              description: 'Seconds between VRRP adverts; the backup takes over after about 3 missed ones. Default 1.',
            },
            'preempt-delay': {
              type: 'integer',
              minimum: 3,
              maximum: 1000,
              description:
                "Seconds a higher-priority node that comes back stays backup, receiving the master's connections, before it takes over. Default 5; at least 3, longer than the 2 s after which conntrackd flushes the kernel table of a node that became backup (its PurgeTimeout): a flush after the takeover would drop the connections it took over.",
            },
          },
        },
      },
    },
    clusterNode: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      description: 'One balancer node.',
      properties: {
        name: {
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$',
          description: 'Its name: the hostname (first label), or what --node or $NFTLB_NODE says on that host.',
        },
        address: {
          description:
            "Its own address(es): the source of its BGP sessions (ecmp, one of the peer's family) and its default router id (the IPv4 one).",
          oneOf: [
            { $ref: '#/definitions/address' },
            { type: 'array', minItems: 1, maxItems: 2, items: { $ref: '#/definitions/address' } },
          ],
        },
        'router-id': {
          $ref: '#/definitions/address',
          description: 'ecmp: its BGP router id, an IPv4 address. Default: its IPv4 address.',
        },
        asn: { $ref: '#/definitions/asn', description: 'ecmp: its own ASN. Default: bgp.asn.' },
        peers: {
          type: 'array',
          minItems: 1,
          maxItems: 16,
          items: { $ref: '#/definitions/bgpPeer' },
          description: 'ecmp: its own BGP neighbours. Default: bgp.peers.',
        },
        priority: {
          type: 'integer',
          minimum: 1,
          maximum: 254,
          description: 'vrrp: its VRRP priority; the higher one is master while it is up.',
        },
        'sync-address': {
          $ref: '#/definitions/address',
          description: "vrrp: its address on the sync interface (conntrackd sends to the other node's).",
        },
      },
    },
    bgpPeer: {
      type: 'object',
      additionalProperties: false,
      required: ['address', 'asn'],
      description: 'A BGP neighbour: its address (directly connected) and its ASN.',
      properties: {
        address: { $ref: '#/definitions/address' },
        asn: { $ref: '#/definitions/asn' },
      },
    },
    asn: {
      type: 'integer',
      minimum: 1,
      maximum: 4294967294,
      description: 'An autonomous system number (private: 64512-65534 or 4200000000-4294967294).',
    },
    interfaceName: {
      type: 'string',
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$',
      description: 'A network interface name (at most 15 characters).',
    },
    persistence: {
      type: 'object',
      additionalProperties: false,
      description:
        "Keep each client's new connections on the backend it was given, for timeout seconds after its last new connection, whatever the scheduler (see Persistence in README.md). {} takes every default.",
      properties: {
        timeout: {
          type: 'integer',
          minimum: 1,
          maximum: 2592000,
          description:
            "Seconds an entry lives after the client's last new connection (refreshed by each one). Default 300.",
        },
        key: {
          type: 'string',
          enum: ['saddr', 'saddr-daddr'],
          description:
            'What a client is: saddr (default; its address, one backend for every VIP and port of the service) or saddr-daddr (its address and the VIP it connects to).',
        },
        netmask: {
          type: 'integer',
          minimum: 1,
          maximum: 32,
          description: 'IPv4 prefix length that groups clients (24: a /24 shares one entry). Default 32.',
        },
        netmask6: {
          type: 'integer',
          minimum: 1,
          maximum: 96,
          description:
            'IPv6 prefix length that groups clients (by default a /64, in which one host rotates its temporary addresses, shares one entry). Default 64; at most 96 (nft 1.0.6 keys an IPv6 entry by the first 96 bits of the address).',
        },
        size: {
          type: 'integer',
          minimum: 1,
          maximum: 16777216,
          description:
            "Entries this service adds to the capacity of its address family's persistence map, shared with the other services (see Persistence in README.md). Default 65536.",
        },
      },
    },
  },
} as const;

// A config as written by the user, after schema validation.
export type RawConfig = FromSchema<typeof configSchema>;
// One service as written by the user.
export type RawService = RawConfig['services'][number];
// One backend as written by the user.
export type RawBackend = RawService['backends'][number];
// The cluster section as written by the user.
export type RawCluster = NonNullable<RawConfig['cluster']>;
