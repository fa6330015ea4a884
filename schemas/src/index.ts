export * from './domain-event';
export * from './registry';
export * from './codec';
export * from './writer-projection';
