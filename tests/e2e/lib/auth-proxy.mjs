// A header-injecting reverse proxy on 127.0.0.1 for suites that know nothing of OAuth (the
// official conformance suite): every request is forwarded to bastion unchanged, with the
// Authorization header set to a valid bearer token. Streams both ways (SSE passes through as it
// is written) and ends the upstream request when the client goes away.
import http from 'node:http';

export async function startHeaderProxy({ targetPort, headers }) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const upstream = http.request({
      host: '127.0.0.1',
      port: targetPort,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, ...headers },
      agent: false,
    }, (up) => {
      res.writeHead(up.statusCode, up.rawHeaders);
      res.flushHeaders();
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
