/**
 * The baseline of bench:ingest's single PUTs: a bare fastify server (the ingest API's own
 * fastify, default options, no logger) answering `PUT /events/:domain/:type` with 202 and a
 * small JSON body, doing nothing else: no validation, no Kafka. What it answers per second is
 * what this machine's HTTP layer alone allows one Node process under the same load.
 * Listens on HOST (127.0.0.1) and PORT; `GET /readyz` answers 200 for startService.
 */
import Fastify from 'fastify';

async function main(): Promise<void> {
  const app = Fastify();
  const accepted = { accepted: true };
  app.put('/events/:domain/:type', (_request, reply) => {
    void reply.code(202).send(accepted);
  });
  app.get('/readyz', () => ({ status: 'ready' }));
  const close = () => {
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT) });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
