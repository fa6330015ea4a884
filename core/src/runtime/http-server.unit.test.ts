import { checkingIntervalMs, nodeServerOptions } from './http-server';

describe('the Node server options of every service', () => {
  it('checks timeouts every tenth of the timeout, between 100 ms and 1 s', () => {
    expect(checkingIntervalMs(1000)).toBe(100);
    expect(checkingIntervalMs(5000)).toBe(500);
    expect(checkingIntervalMs(30000)).toBe(1000);
    expect(checkingIntervalMs(600000)).toBe(1000);
  });

  it('gives the headers and the whole request the same timeout, in fastify and in Node', () => {
    expect(nodeServerOptions(7000)).toEqual({
      requestTimeout: 7000,
      http: {
        requestTimeout: 7000,
        headersTimeout: 7000,
        connectionsCheckingInterval: 700,
        requireHostHeader: false,
      },
    });
  });
});
