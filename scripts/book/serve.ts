// A static file server for the book on 127.0.0.1 (`npm run book:serve [-- DIR] [--port N]`, and the browser test):
// GET/HEAD only, paths kept inside the folder, `/` and folders served as index.html, 404 for anything missing.
// Any static host does the same job; this one needs nothing beyond Node.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
};

/** Serves `dir` on 127.0.0.1 (port 0: any free one); resolves with the server and its base URL. */
export function serveDir(dir: string, port = 0): Promise<{ server: Server; url: string }> {
  const root = path.resolve(dir);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    let file = path.resolve(root, '.' + rel);
    if (file !== root && !file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = path.join(file, 'index.html');
      const size = statSync(file).size;
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${rel}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      resolve({ server, url: `http://127.0.0.1:${p}/` });
    });
  });
}

// As a command: serve the book until Ctrl-C.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--port');
  const port = at >= 0 ? Number(args[at + 1]) : 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got ${String(args[at + 1])}: e.g. --port 8000`);
    process.exit(2);
  }
  const dir = args.find((a, i) => !a.startsWith('--') && i !== at + 1) ?? 'book';
  try {
    statSync(path.join(dir, 'index.html'));
  } catch {
    console.error(`${dir}/index.html not found: build the book first with \`npm run book\``);
    process.exit(1);
  }
  const { url } = await serveDir(dir, port);
  console.log(`serving ${dir}/ at ${url} (Ctrl-C stops)`);
}
