export * from './contract';
export * from './registry';
export * from './registry-access';
export * from './codec';
