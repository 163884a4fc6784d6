// A benchmark peer: node-oidc-provider, set up as a small production deployment would be for
// machine-to-machine clients. Started by benchmarks/peers/node_oidc_provider.py, which gives it
// everything through the environment:
//   PORT, REDIS_URL, REDIS_KEY_PREFIX, CLIENT_ID, CLIENT_SECRET,
//   RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET, WORKERS
// The primary process forks WORKERS workers (node:cluster) that share the port; every token
// lives in Redis, so any worker answers for any token. No request is logged.
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

import Redis from 'ioredis';
import Provider from 'oidc-provider';

const environment = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const port = Number(environment('PORT'));
const scope = 'read';

if (cluster.isPrimary) {
  // One signing key and one cookie key for all workers, made once per run: a deployment would
  // read them from its secret store.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
  const cookieKey = randomBytes(32).toString('base64url');
  const workers = Number(environment('WORKERS'));
  for (let index = 0; index < workers; index += 1) {
    cluster.fork({ SIGNING_JWK: jwk, COOKIE_KEY: cookieKey });
  }
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  // A worker that dies under load stops the whole server rather than leaving a smaller one to
  // be measured.
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited (${signal || code}): stopping`);
      process.exitCode = 1;
      stop();
    }
  });
  process.on('SIGTERM', stop);
} else {
  const redis = new Redis(environment('REDIS_URL'), { keyPrefix: environment('REDIS_KEY_PREFIX') });

  // The storage adapter node-oidc-provider asks for (one instance per model name): each entry is
  // a JSON document under "<model>:<id>" that Redis expires with the artifact, plus the indexes
  // the provider looks up by (grant id, uid, user code).
  class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const write = redis.multi();
      if (expiresIn) write.set(key, JSON.stringify(payload), 'EX', expiresIn);
      else write.set(key, JSON.stringify(payload));
      if (payload.grantId) {
        const grantKey = `grant:${payload.grantId}`;
        write.rpush(grantKey, key);
        if (expiresIn) write.expire(grantKey, expiresIn, 'GT');
      }
      if (payload.userCode) write.set(`userCode:${payload.userCode}`, id, 'EX', expiresIn);
      if (payload.uid) write.set(`uid:${payload.uid}`, id, 'EX', expiresIn);
      await write.exec();
    }

    async find(id) {
      const stored = await redis.get(this.key(id));
      return stored ? JSON.parse(stored) : undefined;
    }

    async findByUid(uid) {
      const id = await redis.get(`uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await redis.get(`userCode:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      const key = this.key(id);
      const stored = await redis.get(key);
      if (!stored) return;
      const ttl = await redis.ttl(key);
      const payload = { ...JSON.parse(stored), consumed: Math.floor(Date.now() / 1000) };
      if (ttl > 0) await redis.set(key, JSON.stringify(payload), 'EX', ttl);
      else await redis.set(key, JSON.stringify(payload));
    }

    async destroy(id) {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `grant:${grantId}`;
      // The stored names carry no prefix: ioredis adds it again on DEL.
      const keys = await redis.lrange(grantKey, 0, -1);
      await redis.del(...keys, grantKey);
    }
  }

  const provider = new Provider(`http://127.0.0.1:${port}`, {
    adapter: RedisAdapter,
    // Secrets are kept as given and compared in constant time (node-oidc-provider has no hashing).
    clients: [
      {
        client_id: environment('CLIENT_ID'),
        client_secret: environment('CLIENT_SECRET'),
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope,
      },
      {
        client_id: environment('RESOURCE_SERVER_ID'),
        client_secret: environment('RESOURCE_SERVER_SECRET'),
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    scopes: [scope],
    jwks: { keys: [JSON.parse(environment('SIGNING_JWK'))] },
    cookies: { keys: [environment('COOKIE_KEY')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Only the resource server may introspect, and a client its own tokens.
        allowedPolicy: async (ctx, client, token) => (
          client.clientId === environment('RESOURCE_SERVER_ID') || client.clientId === token.clientId
        ),
      },
    },
    ttl: { ClientCredentials: 3600 },
    // Opaque access tokens (no resource indicator asked for), as the project issues by default.
  });

  const unauthorized = (response) => {
    response.writeHead(401, {
      'content-type': 'application/json',
      'www-authenticate': 'Bearer error="invalid_token"',
    });
    response.end(JSON.stringify({ error: 'invalid_token' }));
  };

  // The bearer-protected resource, in the same process as the provider: the cheapest honest check
  // this peer offers (no introspection round trip): the opaque token is looked up in Redis, its
  // expiry checked by ClientCredentials.find, its client must still exist, and it must carry the
  // scope. node-oidc-provider has no resource-server helper of its own.
  const resource = async (request, response) => {
    const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(request.headers.authorization || '');
    const token = match && await provider.ClientCredentials.find(match[1]);
    const client = token && await provider.Client.find(token.clientId);
    if (!client || !token.scope || !token.scope.split(' ').includes(scope)) {
      unauthorized(response);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ client_id: token.clientId, scope: token.scope }));
  };

  const callback = provider.callback();
  http
    .createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/resource') {
        resource(request, response).catch((error) => {
          console.error(error);
          response.writeHead(500).end();
        });
      } else {
        callback(request, response);
      }
    })
    .listen(port, '127.0.0.1');

  process.on('SIGTERM', () => {
    redis.disconnect();
    process.exit(0);
  });
}
