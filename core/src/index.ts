// The pure domain rules (also `@catchall/core/domain` alone), then the service runtime.
export * from './domain';
export * from './runtime/config';
export * from './runtime/errors';
export * from './runtime/lifecycle';
export * from './runtime/logger';
export * from './runtime/metrics';
export * from './runtime/workers';
export * from './runtime/http';
export * from './runtime/kafka';
export * from './runtime/postgres';
export * from './runtime/retriable';
export * from './runtime/compression';
export * from './runtime/topics-admin';
export * from './runtime/producer-handle';
