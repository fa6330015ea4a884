// The pure domain rules, on their own: `@catchall/core/domain` loads none of fastify, kafkajs
// or pg (ARCHITECTURE.md, section 7 "Boundaries"; test/contract/entry-points.unit.test.ts checks it).
// `@catchall/core` exports these too, with the service runtime.
export * from './normalize-domain';
export * from './status';
export * from './event-type';
export * from './fold';
export * from './event-dedupe';
export * from './event-time';
export * from './topics';
export * from './error-catalogue';
export * from './consistency-token';
