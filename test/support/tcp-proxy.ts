import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones: the server looks gone to its clients. */
  cut(): Promise<void>;
  /**
   * Keeps every connection open but passes no byte either way: the server looks alive to
   * its clients and never answers (a process stopped with SIGSTOP, a network black hole).
   */
  freeze(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy a test can cut, to fail a dependency for one client only. */
export async function createTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  let frozen = false;

  function listen(): Promise<void> {
    server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        // A reset on one side is passed on as a close of the other: that is the point.
        s.on('error', () => s.destroy());
      }
      // Bytes pass only while not frozen; what arrives while frozen is dropped.
      client.on('data', (chunk: Buffer) => frozen || upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => frozen || client.write(chunk));
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
    return new Promise((resolve) =>
      server!.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      }),
    );
  }

  async function stopListening(): Promise<void> {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  }

  await listen();
  return {
    get port() {
      return port;
    },
    cut: stopListening,
    freeze() {
      frozen = true;
    },
    async restore() {
      frozen = false;
      if (!server) await listen();
    },
    close: stopListening,
  };
}
