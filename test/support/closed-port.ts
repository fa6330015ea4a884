import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback TCP port nothing listens on: one the system gave, then closed, so that a
 * connection to it is refused at once (what a server that is down looks like).
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
